/**
 * sum / max over any set of axes with the (outer, red, inner) kernels. Size-1 axes are dropped;
 * each maximal run of adjacent reduced axes is one kernel pass, innermost run first, through a
 * temporary buffer when there are several runs (e.g. axes 0 and 2 of a 3-D tensor).
 */
import type { TensorRef } from '../../../backend.js';
import { BackendError } from '../../../errors.js';
import type { WasmBackend, WasmKernel } from '../backend.js';
import { sizeOf } from '../../../shape.js';
import { splitRange } from './layout.js';

const GRAIN = 1 << 16;

/** Runs of adjacent reduced axes over the shape without its size-1 axes. */
function runs(shape: readonly number[], axes: readonly number[]): { dims: number[]; red: boolean[] } {
  const reduced = new Set(axes);
  const dims: number[] = [], red: boolean[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const r = reduced.has(i);
    if (dims.length > 0 && red[red.length - 1] === r) dims[dims.length - 1]! *= d;
    else {
      dims.push(d);
      red.push(r);
    }
  });
  return { dims, red };
}

/** One pass: y[outer, inner] = op over red of x[outer, red, inner]. */
function pass(be: WasmBackend, op: 'sum' | 'max', X: number, Y: number, outer: number, red: number, inner: number): void {
  if (outer * inner === 0) return;
  const threads = be.threadsFor(outer * red * inner, GRAIN);
  if (inner === 1) {
    be.parallel(`red_${op}_rows`, splitRange(outer, threads).map(([r0, r1]) => [X, Y, outer, red, r0, r1]));
  } else if (outer >= threads) {
    be.parallel(`red_${op}_cols`, splitRange(outer, threads).map(([o0, o1]) => [X + 4 * o0 * red * inner, Y + 4 * o0 * inner, o1 - o0, red, inner, 0, inner]));
  } else {
    be.parallel(`red_${op}_cols`, splitRange(inner, threads, 4).map(([c0, c1]) => [X, Y, outer, red, inner, c0, c1]));
  }
}

function reduce(op: 'sum' | 'max'): WasmKernel {
  return (be: WasmBackend, [x]: readonly TensorRef[], [y]: readonly TensorRef[], attrs) => {
    if (x!.dtype !== 'float32') return false;
    let { dims, red } = runs(x!.shape, attrs.axes as number[]);
    const Y = be.off(y!);
    // no reduced axis left (all size 1): a copy through a one-element reduction
    if (!red.includes(true)) {
      pass(be, op, be.off(x!), Y, dims.reduce((a, b) => a * b, 1), 1, 1);
      return true;
    }
    const go = (X: number): void => {
      const last = red.lastIndexOf(true);
      const prod = (a: number[]) => a.reduce((p, d) => p * d, 1);
      const outer = prod(dims.slice(0, last)), inner = prod(dims.slice(last + 1));
      const rest = red.slice(0, last).includes(true);
      if (!rest) {
        pass(be, op, X, Y, outer, dims[last]!, inner);
        return;
      }
      // reduce the innermost run into a temporary, then the remaining runs from it
      be.withScratch(4 * outer * inner, (T) => {
        pass(be, op, X, T, outer, dims[last]!, inner);
        dims = [...dims.slice(0, last - 1), dims[last - 1]! * inner];
        red = [...red.slice(0, last - 1), false];
        go(T);
      });
    };
    go(be.off(x!));
    return true;
  };
}

/** argmax over the last non-trivial axis (other axes: the reference kernel). */
const argmax: WasmKernel = (be, [x], [y], attrs) => {
  const axis = attrs.axis as number;
  if (x!.dtype !== 'float32' || x!.shape.slice(axis + 1).some((d) => d !== 1)) return false;
  const n = x!.shape[axis]!;
  const rows = sizeOf(y!.shape);
  if (rows === 0) return true;
  be.parallel('argmax_rows', splitRange(rows, be.threadsFor(rows * n, GRAIN)).map(([r0, r1]) => [be.off(x!), be.off(y!), n, r0, r1]));
  return true;
};

/**
 * `sumTimesZero` (x) = sum(mul(x, 0)) over every element: 0 when x is finite, else NaN (0·±Inf is
 * NaN). Only fuse.ts makes this op, from a scalar-0 `mul` whose only reader is a full `sum` (the
 * SAE trainer's divergence check, one per parameter): one read pass, no x-sized product. x is
 * split into one contiguous range per thread, each summed by the rows kernel as a single row into
 * a scratch slot, and the slots are added here; every partial sum is +0 or NaN, so the value is
 * the composite's (a NaN's payload may differ).
 */
const sumTimesZero: WasmKernel = (be, [x], [y]) => {
  if (x!.dtype !== 'float32' || y!.dtype !== 'float32') throw new BackendError(`sumTimesZero: float32 only, got ${x!.dtype} → ${y!.dtype}`);
  const n = sizeOf(x!.shape);
  const out = () => new Float32Array(be.wasmMemory.buffer, be.off(y!), 1);
  if (n === 0) {
    out()[0] = 0;
    return true;
  }
  const ranges = splitRange(n, be.threadsFor(n, GRAIN), 4);
  be.withScratch(4 * ranges.length, (T) => {
    be.parallel('red_zsum_rows', ranges.map(([i0, i1], t) => [be.off(x!) + 4 * i0, T + 4 * t, 1, i1 - i0, 0, 1]));
    out()[0] = new Float32Array(be.wasmMemory.buffer, T, ranges.length).reduce((a, v) => a + v, 0);
  });
  return true;
};

export const reduceDrivers: Record<string, WasmKernel> = { sum: reduce('sum'), max: reduce('max'), argmax, sumTimesZero };
