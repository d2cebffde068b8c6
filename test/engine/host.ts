/**
 * Independent host references for the forward checks: naive multi-index loops over plain number
 * arrays, written without the engine's stride helpers so a shared bug cannot hide in both.
 */
import { broadcastHost, sizeOf, type HostTensor } from './gradcheck.js';

export type Nd = HostTensor;

/** Row-major multi-index of flat position `p` in `shape`. */
export function unravel(p: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = p % shape[d]!;
    p = Math.floor(p / shape[d]!);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let p = 0;
  for (let d = 0; d < shape.length; d++) p = p * shape[d]! + idx[d]!;
  return p;
}

/** x's element at the multi-index `outIdx` of a broadcast result (right-aligned, size-1 axes repeat). */
export function bget(x: Nd, outIdx: readonly number[]): number {
  const off = outIdx.length - x.shape.length;
  const idx = x.shape.map((d, i) => (d === 1 ? 0 : outIdx[off + i]!));
  return x.data[ravel(idx, x.shape)]!;
}

export function mapN(xs: readonly Nd[], f: (...v: number[]) => number): Nd {
  const shape = broadcastHost(...xs.map((x) => x.shape));
  const data = Array.from({ length: sizeOf(shape) }, (_, p) => {
    const idx = unravel(p, shape);
    return f(...xs.map((x) => bget(x, idx)));
  });
  return { shape, data };
}

export function broadcastToH(x: Nd, shape: readonly number[]): Nd {
  return { shape: [...shape], data: Array.from({ length: sizeOf(shape) }, (_, p) => bget(x, unravel(p, shape))) };
}

/** Reduces over `axes` with an accumulator; keepdims keeps them as size 1. */
export function reduceH(x: Nd, axes: readonly number[], keepdims: boolean, init: number, f: (acc: number, v: number) => number): Nd {
  const outFull = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const acc = new Array<number>(sizeOf(outFull)).fill(init);
  for (let p = 0; p < x.data.length; p++) {
    const idx = unravel(p, x.shape).map((v, i) => (axes.includes(i) ? 0 : v));
    const o = ravel(idx, outFull);
    acc[o] = f(acc[o]!, x.data[p]!);
  }
  const shape = keepdims ? outFull : x.shape.filter((_, i) => !axes.includes(i));
  return { shape, data: acc };
}

export const sumH = (x: Nd, axes: readonly number[], keepdims = false): Nd => reduceH(x, axes, keepdims, 0, (a, v) => a + v);
export const maxH = (x: Nd, axes: readonly number[], keepdims = false): Nd => reduceH(x, axes, keepdims, -Infinity, (a, v) => (v > a || Number.isNaN(v) ? v : a));

/** First index of the maximum along `axis`. */
export function argmaxH(x: Nd, axis: number): Nd {
  const shape = x.shape.filter((_, i) => i !== axis);
  const best = new Array<number>(sizeOf(shape)).fill(-Infinity);
  const arg = new Array<number>(sizeOf(shape)).fill(-1);
  for (let p = 0; p < x.data.length; p++) {
    const idx = unravel(p, x.shape);
    const o = ravel(idx.filter((_, i) => i !== axis), shape);
    if (arg[o] === -1 || x.data[p]! > best[o]!) {
      best[o] = x.data[p]!;
      arg[o] = idx[axis]!;
    }
  }
  return { shape, data: arg };
}

export function transposeH(x: Nd, perm: readonly number[]): Nd {
  const shape = perm.map((p) => x.shape[p]!);
  const data = Array.from({ length: x.data.length }, (_, o) => {
    const oi = unravel(o, shape);
    const ii = new Array<number>(perm.length);
    perm.forEach((p, d) => (ii[p] = oi[d]!));
    return x.data[ravel(ii, x.shape)]!;
  });
  return { shape, data };
}

export function sliceH(x: Nd, begin: readonly number[], size: readonly number[]): Nd {
  const data = Array.from({ length: sizeOf(size) }, (_, o) => x.data[ravel(unravel(o, size).map((v, d) => v + begin[d]!), x.shape)]!);
  return { shape: [...size], data };
}

export function padH(x: Nd, before: readonly number[], after: readonly number[]): Nd {
  const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  const data = Array.from({ length: sizeOf(shape) }, (_, o) => {
    const idx = unravel(o, shape).map((v, d) => v - before[d]!);
    return idx.every((v, d) => v >= 0 && v < x.shape[d]!) ? x.data[ravel(idx, x.shape)]! : 0;
  });
  return { shape, data };
}

export function concatH(xs: readonly Nd[], axis: number): Nd {
  const shape = xs[0]!.shape.map((d, i) => (i === axis ? xs.reduce((s, x) => s + x.shape[axis]!, 0) : d));
  const data = Array.from({ length: sizeOf(shape) }, (_, o) => {
    const idx = unravel(o, shape);
    let k = idx[axis]!;
    for (const x of xs) {
      if (k < x.shape[axis]!) return x.data[ravel(idx.map((v, d) => (d === axis ? k : v)), x.shape)]!;
      k -= x.shape[axis]!;
    }
    throw new Error('concatH: out of range');
  });
  return { shape, data };
}

/** Batched matmul with optional transposes of the last two axes, batch axes broadcast. */
export function matmulH(a: Nd, b: Nd, transA = false, transB = false): Nd {
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const N = transB ? br : bc;
  const batch = broadcastHost(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batch, M, N];
  const data = Array.from({ length: sizeOf(shape) }, (_, o) => {
    const idx = unravel(o, shape);
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2) as [number, number];
    let s = 0;
    for (let k = 0; k < K; k++) {
      const av = bget(a, [...bi, transA ? k : i, transA ? i : k]);
      const bv = bget(b, [...bi, transB ? j : k, transB ? k : j]);
      s += av * bv;
    }
    return s;
  });
  return { shape, data };
}

export function gatherH(x: Nd, idx: Nd, axis: number): Nd {
  const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  const data = Array.from({ length: sizeOf(shape) }, (_, o) => {
    const oi = unravel(o, shape);
    const ii = oi.slice(axis, axis + idx.shape.length);
    const r = idx.data[ravel(ii, idx.shape)]!;
    return x.data[ravel([...oi.slice(0, axis), r, ...oi.slice(axis + idx.shape.length)], x.shape)]!;
  });
  return { shape, data };
}

export function scatterAddH(x: Nd, idx: Nd, upd: Nd, axis: number): Nd {
  const data = [...x.data];
  for (let u = 0; u < upd.data.length; u++) {
    const ui = unravel(u, upd.shape);
    const r = idx.data[ravel(ui.slice(axis, axis + idx.shape.length), idx.shape)]!;
    data[ravel([...ui.slice(0, axis), r, ...ui.slice(axis + idx.shape.length)], x.shape)]! += upd.data[u]!;
  }
  return { shape: [...x.shape], data };
}

export function takeAlongH(x: Nd, idx: Nd, axis: number): Nd {
  const data = idx.data.map((r, p) => x.data[ravel(unravel(p, idx.shape).map((v, d) => (d === axis ? r : v)), x.shape)]!);
  return { shape: [...idx.shape], data };
}

export function scatterAddAlongH(x: Nd, idx: Nd, upd: Nd, axis: number): Nd {
  const data = [...x.data];
  idx.data.forEach((r, p) => {
    data[ravel(unravel(p, idx.shape).map((v, d) => (d === axis ? r : v)), x.shape)]! += upd.data[p]!;
  });
  return { shape: [...x.shape], data };
}

/** Sort-based top-k of each row (last axis): descending, ties to the lower index. */
export function topkH(x: Nd, k: number): { values: Nd; indices: Nd } {
  const n = x.shape[x.shape.length - 1]!;
  const rows = n === 0 ? 0 : x.data.length / n;
  const shape = [...x.shape.slice(0, -1), k];
  const values: number[] = [];
  const indices: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = x.data.slice(r * n, (r + 1) * n).map((v, i) => ({ v, i }));
    row.sort((p, q) => (p.v === q.v ? p.i - q.i : p.v > q.v ? -1 : 1));
    for (const e of row.slice(0, k)) {
      values.push(e.v);
      indices.push(e.i);
    }
  }
  return { values: { shape, data: values }, indices: { shape, data: indices } };
}

// ------------------------------------------------------------------ scalar formulas

const GELU_C = Math.sqrt(2 / Math.PI);
/** GPT-2's gelu_new, from the paper's tanh approximation. */
export const geluF = (x: number): number => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3)));

/** Compares two arrays elementwise with relative+absolute tolerance (NaN equals NaN, ±Infinity exact). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-12, atol = 1e-12, what = ''): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} vs expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Math.abs(a - e) <= atol + rtol * Math.abs(e)) continue;
    throw new Error(`${what}: element ${i} is ${a}, expected ${e}`);
  }
}

/** Shapes must be equal and values close. */
export function expectNd(t: { shape: readonly number[]; toArray(): ArrayLike<number> }, e: Nd, rtol = 1e-12, atol = 1e-12, what = ''): void {
  if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
    throw new Error(`${what}: shape [${t.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
  }
  expectClose(t.toArray(), e.data, rtol, atol, what);
}
