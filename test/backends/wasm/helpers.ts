/**
 * Shared helpers for the wasm backend tests: run the same computation on the reference backend
 * (the oracle) and on wasm backends, and compare results elementwise with a stated tolerance.
 */
import { expect } from 'vitest';
import * as E from '../../../engine/index.js';
import { backend, getBackend, registerBackend, setBackend } from '../../../engine/engine.js';
import { WasmBackend, type WasmOptions } from '../../../engine/backends/wasm/index.js';

export interface Result {
  data: number[];
  shape: number[];
  dtype: E.DType;
}

/** Registers (once) a wasm backend with the given options under `name`. */
export function wasmVariant(name: string, opts: WasmOptions): string {
  if (!E.backendNames().includes(name)) registerBackend({ name, priority: -1, create: () => new WasmBackend(opts) });
  return name;
}

/** Wasm with 2 threads (work is split even on one core), and one with tiny gemm blocks. */
export const WASM = 'wasm';
export const WASM_1T = wasmVariant('wasm-1t', { threads: 1 });
export const WASM_SMALL_BLOCKS = wasmVariant('wasm-small-blocks', { threads: 2, gemm: { KC: 16, MC: 12, NC: 16 } });

/** Runs `fn` with `name` as the engine's backend; tensors it returns are read and freed. */
export function on(name: string, fn: () => E.Tensor | E.Tensor[]): Result[] {
  const prev = backend().name;
  setBackend(name);
  try {
    return E.tidy(() => {
      const out = fn();
      const list = Array.isArray(out) ? out : [out];
      return list.map((t) => ({ data: Array.from(t.toArray()), shape: [...t.shape], dtype: t.dtype }));
    });
  } finally {
    setBackend(prev);
  }
}

/** The error message `fn` throws on `name`, or null. */
export function errorOn(name: string, fn: () => unknown): string | null {
  const prev = backend().name;
  setBackend(name);
  try {
    E.tidy(() => {
      fn();
    });
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    setBackend(prev);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The spacing of float32 numbers at |x| (subnormal spacing near 0). */
export function ulp32(x: number): number {
  f32[0] = Math.abs(x);
  const exp = (u32[0]! >>> 23) & 0xff;
  return 2 ** (Math.max(exp, 1) - 127 - 23);
}

export interface Tol {
  /** allowed error in units in the last place of the expected value */
  ulps?: number;
  /** allowed absolute error */
  atol?: number;
  /** allowed error relative to `scale[i]` (e.g. Σ|terms| of a sum) */
  rel?: number;
  scale?: readonly number[];
}

/**
 * Elementwise comparison. Exact (Object.is: -0 ≠ +0) when no tolerance is given; NaN matches NaN;
 * infinities must match exactly.
 */
export function expectClose(actual: Result, expected: Result, tol: Tol = {}, what = ''): void {
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  expect(actual.dtype, `${what} dtype`).toBe(expected.dtype);
  const exact = tol.ulps === undefined && tol.atol === undefined && tol.rel === undefined;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]!, e = expected.data[i]!;
    if (Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e))) continue;
    let ok = false;
    if (!exact && Number.isFinite(a) && Number.isFinite(e)) {
      const bound = (tol.atol ?? 0) + (tol.ulps ?? 0) * ulp32(e) + (tol.rel ?? 0) * (tol.scale?.[i] ?? Math.abs(e));
      ok = Math.abs(a - e) <= bound;
    }
    if (!ok) {
      expect.fail(`${what} element ${i} of ${expected.data.length} (shape [${expected.shape}]): wasm ${a} vs reference ${e}${exact ? ' (exact)' : ` (tol ${JSON.stringify({ ...tol, scale: undefined })})`}`);
    }
  }
}

/** Deterministic pseudo-random floats (mulberry32) for data that fast-check does not need to shrink. */
export function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  return out;
}

/** Asserts that `ops` never ran the reference fallback on the given wasm backends (the wasm path was tested). */
export function expectNoFallback(ops: readonly string[], backends: readonly string[] = [WASM, WASM_1T]): void {
  for (const name of backends) {
    const be = getBackend(name) as WasmBackend;
    for (const op of ops) expect(be.fallbacks.get(op) ?? 0, `${op} fell back to the reference kernel on ${name}`).toBe(0);
  }
}
