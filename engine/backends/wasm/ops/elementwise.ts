/**
 * Drivers of the elementwise kernels: collapse the broadcast to ≤ 3 dims, pick the kernel, split
 * the outermost dimension that has enough work over the threads.
 */
import type { TensorRef } from '../../../backend.js';
import { sizeOf } from '../../../shape.js';
import type { WasmBackend, WasmKernel } from '../backend.js';
import { BINARY, BINARY_I32, UNARY } from '../kernels/elementwise.js';
import { collapseBroadcast, padTo, splitRange } from './layout.js';

/** Elements per thread below which splitting costs more than it saves (measured: ~20 µs handoff). */
const GRAIN_SIMPLE = 1 << 16;
/** Transcendental kernels do ~20× the work per element. */
const GRAIN_HEAVY = 1 << 13;
const HEAVY = new Set(['exp', 'log', 'tanh', 'gelu', 'geluGrad']);

/**
 * Runs map kernel `fn` writing `y` from `ins`, broadcasting. Returns false when the broadcast
 * does not collapse to 3 dims (the reference kernel then runs).
 */
export function runMap(be: WasmBackend, fn: string, y: TensorRef, ins: readonly TensorRef[], grain: number): boolean {
  const total = sizeOf(y.shape);
  if (total === 0) return true;
  // fast path (most calls): every input is the output's size (same shape) or a single element
  const c = ins.every((t) => { const n = sizeOf(t.shape); return n === total || n === 1; })
    ? { dims: [1, 1, total], strides: ins.map((t) => [0, 0, sizeOf(t.shape) === total ? 1 : 0]) }
    : padTo(collapseBroadcast(y.shape, ins.map((t) => t.shape)), 3);
  if (!c) return false;
  const [n0, n1, n2] = c.dims as [number, number, number];
  const yOff = be.off(y);
  const inOff = ins.map((t) => be.off(t));
  const args = (a0: number, a1: number, dim: 0 | 1 | 2): number[] => {
    // a sub-range [a0, a1) of dimension `dim` (the dims before it have size 1 when dim > 0)
    const dims = [n0, n1, n2];
    dims[dim] = a1 - a0;
    const yStart = dim === 0 ? a0 * n1 * n2 : dim === 1 ? a0 * n2 : a0;
    const out = [yOff + 4 * yStart, dims[0]!, dims[1]!, dims[2]!];
    ins.forEach((_, k) => {
      const s = c.strides[k]!;
      out.push(inOff[k]! + 4 * a0 * s[dim]!, s[0]!, s[1]!, s[2]!);
    });
    return out;
  };
  const threads = be.threadsFor(total, grain);
  if (threads === 1) {
    be.call(fn, ...args(0, n0, 0));
    return true;
  }
  // split the outermost dim with at least `threads` units; dims before it must be 1
  let dim: 0 | 1 | 2 = 0;
  if (n0 < threads) dim = n0 === 1 && n1 >= threads ? 1 : n0 === 1 && n1 === 1 ? 2 : 0;
  const extent = [n0, n1, n2][dim]!;
  const ranges = splitRange(extent, threads, dim === 2 ? 4 : 1);
  be.parallel(fn, ranges.map(([a, b]) => args(a, b, dim)));
  return true;
}

const f32Only = (ts: readonly TensorRef[]) => ts.every((t) => t.dtype === 'float32');

export const elementwiseDrivers: Record<string, WasmKernel> = {};

for (const op of Object.keys(UNARY)) {
  const grain = HEAVY.has(op) ? GRAIN_HEAVY : GRAIN_SIMPLE;
  elementwiseDrivers[op] = (be, [x], [y]) => f32Only([x!, y!]) && runMap(be, `un_${op}`, y!, [x!], grain);
}

for (const op of Object.keys(BINARY)) {
  // int32 mul/div keep the reference's JavaScript-number semantics through the fallback
  const intKernel = op in BINARY_I32 ? `bini_${op}` : null;
  elementwiseDrivers[op] = (be, [a, b], [y]) => {
    if (f32Only([a!, b!, y!])) return runMap(be, `bin_${op}`, y!, [a!, b!], GRAIN_SIMPLE);
    return intKernel !== null && a!.dtype === 'int32' && b!.dtype === 'int32' && runMap(be, intKernel, y!, [a!, b!], GRAIN_SIMPLE);
  };
}

// where moves 32-bit values, so any value dtype works; the condition decides float or int compare
elementwiseDrivers.where = (be, [c, a, b], [y]) => runMap(be, c!.dtype === 'int32' ? 'where_i' : 'where_f', y!, [c!, a!, b!], GRAIN_SIMPLE);
