/**
 * Movement ops as strided copies of 32-bit words (bit-exact for every dtype): each op describes
 * its copy as (dims, destination strides, source strides); `runCopy` collapses it and runs the
 * wasm `copy_nd` (≤ 4 dims), or `transpose2d` for a (batched) matrix transpose, or a JavaScript
 * odometer for anything with more dimensions.
 */
import type { TensorRef } from '../../../backend.js';
import { broadcastStrides, sizeOf, stridesOf } from '../../../shape.js';
import type { WasmBackend, WasmKernel } from '../backend.js';
import { collapse, splitRange } from './layout.js';

const COPY_GRAIN = 1 << 18;

/**
 * Copies y[Σ i·ys] = x[Σ i·xs] over `dims` (offsets and strides in elements of 4 bytes, offsets
 * from byte addresses yOff/xOff).
 */
export function runCopy(be: WasmBackend, yOff: number, xOff: number, dims: readonly number[], ys: readonly number[], xs: readonly number[]): void {
  if (dims.some((d) => d === 0)) return;
  const c = collapse(dims, [ys, xs]);
  let D = c.dims, [Ys, Xs] = c.strides as [number[], number[]];
  if (D.length === 0) {
    D = [1];
    Ys = [1];
    Xs = [1];
  }
  // copy_nd writes contiguous innermost runs: add a size-1 inner dim when the last one is strided
  if (Ys[Ys.length - 1] !== 1) {
    D = [...D, 1];
    Ys = [...Ys, 1];
    Xs = [...Xs, 1];
  }
  if (D.length <= 4) {
    const pad = 4 - D.length;
    const n = [...Array(pad).fill(1), ...D];
    const y = [...Array(pad).fill(0), ...Ys];
    const x = [...Array(pad).fill(0), ...Xs];
    // a matrix transpose (innermost source stride = rows) gets the tiled kernel
    if (pad >= 1 && n[3]! > 1 && n[2]! > 1 && x[2] === 1 && x[3] === n[2] && y[2] === n[3] && y[3] === 1) {
      // y[b, c, r] = x[b, r, c] with R = n3, C = n2
      const contiguousBatch = (pad >= 2 || (y[1] === n[2]! * n[3]! && x[1] === n[2]! * n[3]!));
      if (contiguousBatch) {
        const batch = pad >= 2 ? 1 : n[1]!;
        const R = n[3]!, C = n[2]!;
        const threads = be.threadsFor(batch * R * C, COPY_GRAIN);
        be.parallel('transpose2d', splitRange(R, threads, 16).map(([r0, r1]) => [xOff, yOff, batch, R, C, r0, r1]));
        return;
      }
    }
    const threads = be.threadsFor(sizeOf(n), COPY_GRAIN);
    // split the outermost dim that is not 1
    const d = n.findIndex((v) => v > 1);
    const dd = d < 0 || d === 3 ? 0 : d;
    const ranges = threads > 1 && dd < 3 && n[dd]! >= threads ? splitRange(n[dd]!, threads) : [[0, n[dd]!] as [number, number]];
    be.parallel(
      'copy_nd',
      ranges.map(([s, e]) => {
        const nn = [...n];
        nn[dd] = e - s;
        return [yOff + 4 * s * y[dd]!, y[0]!, y[1]!, y[2]!, nn[0]!, nn[1]!, nn[2]!, nn[3]!, xOff + 4 * s * x[dd]!, x[0]!, x[1]!, x[2]!, x[3]!];
      }),
    );
    return;
  }
  copyOdometer(new Int32Array(be.wasmMemory.buffer), yOff / 4, xOff / 4, D, Ys, Xs);
}

/** Any-rank strided copy in JavaScript (rare: layouts that do not collapse to 4 dims). */
function copyOdometer(mem: Int32Array, y0: number, x0: number, dims: number[], ys: number[], xs: number[]): void {
  const r = dims.length;
  const idx = new Array<number>(r).fill(0);
  const inner = dims[r - 1]!, yi = ys[r - 1]!, xi = xs[r - 1]!;
  let yo = y0, xo = x0;
  for (;;) {
    for (let i = 0; i < inner; i++) mem[yo + i * yi] = mem[xo + i * xi]!;
    let d = r - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      yo += ys[d]!;
      xo += xs[d]!;
      if (idx[d]! < dims[d]!) break;
      yo -= ys[d]! * dims[d]!;
      xo -= xs[d]! * dims[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

const copyAll: WasmKernel = (be, [x], [y]) => {
  const bytes = sizeOf(x!.shape) * 4;
  if (bytes > 0) be.call('memcpy', be.off(y!), be.off(x!), bytes);
  return true;
};

/** The 32-bit pattern of `value` stored as `dtype`. */
function bitsOf(value: number, dtype: string): number {
  const b = new Int32Array(1);
  if (dtype === 'int32') b[0] = value;
  else new Float32Array(b.buffer)[0] = value;
  return b[0]!;
}

export const movementDrivers: Record<string, WasmKernel> = {
  reshape: copyAll,
  stopGradient: copyAll,
  transpose: (be, [x], [y], attrs) => {
    const perm = attrs.perm as number[];
    const st = stridesOf(x!.shape);
    runCopy(be, be.off(y!), be.off(x!), y!.shape, stridesOf(y!.shape), perm.map((p) => st[p]!));
    return true;
  },
  slice: (be, [x], [y], attrs) => {
    const begin = attrs.begin as number[];
    const st = stridesOf(x!.shape);
    const base = begin.reduce((s, b, d) => s + b * st[d]!, 0);
    runCopy(be, be.off(y!), be.off(x!) + 4 * base, y!.shape, stridesOf(y!.shape), st);
    return true;
  },
  pad: (be, [x], [y], attrs) => {
    const before = attrs.before as number[];
    const ost = stridesOf(y!.shape);
    be.call('fill32', be.off(y!), sizeOf(y!.shape), 0);
    const base = before.reduce((s, b, d) => s + b * ost[d]!, 0);
    runCopy(be, be.off(y!) + 4 * base, be.off(x!), x!.shape, ost, stridesOf(x!.shape));
    return true;
  },
  concat: (be, inputs, [y], attrs) => {
    const axis = attrs.axis as number;
    const yst = stridesOf(y!.shape);
    let col = 0;
    for (const x of inputs) {
      runCopy(be, be.off(y!) + 4 * col * yst[axis]!, be.off(x), x.shape, yst, stridesOf(x.shape));
      col += x.shape[axis]!;
    }
    return true;
  },
  broadcastTo: (be, [x], [y]) => {
    runCopy(be, be.off(y!), be.off(x!), y!.shape, stridesOf(y!.shape), broadcastStrides(x!.shape, y!.shape));
    return true;
  },
  full: (be, _in, [y], attrs) => {
    be.call('fill32', be.off(y!), sizeOf(y!.shape), bitsOf(attrs.value as number, y!.dtype));
    return true;
  },
};

export type { TensorRef };
