/**
 * Reference kernels of the sparse row primitives (ops/sparse.ts; k picks per row or flat picks
 * b·m + r) and the fused Adam step (ops/optim.ts): plain loops, summing in JavaScript numbers (float64) and rounding once on store,
 * in a fixed order (j ascending, then t ascending) so the oracle is deterministic.
 */
import { BackendError } from '../../errors.js';
import type { TypedArray } from '../../dtype.js';
import type { Kernel, View } from './view.js';

/** (m, d) of W and the element offset of W_r[t]: rows layout W[r·d + t], cols layout W[t·m + r]. */
function table(w: View, layout: unknown): { m: number; d: number; at: (r: number, t: number) => number } {
  if (layout === 'rows') {
    const [m, d] = w.shape as [number, number];
    return { m, d, at: (r, t) => r * d + t };
  }
  const [d, m] = w.shape as [number, number];
  return { m, d, at: (r, t) => t * m + r };
}

/** Validates every index of idx [B, k] against m before anything is written (errors name the op). */
export function checkSparseIndices(op: string, I: ArrayLike<number>, k: number, m: number): void {
  for (let p = 0; p < I.length; p++) {
    const i = I[p]!;
    if (!(i >= 0 && i < m)) throw new BackendError(`${op}: index ${i} at [${Math.floor(p / k)}, ${p % k}] is out of range for a table of ${m} rows`);
  }
}

/** Validates flat picks q = b·m + r (ops/sparse.ts) against the [B, m] grid before anything is written. */
export function checkFlatIndices(op: string, I: ArrayLike<number>, B: number, m: number): void {
  const n = B * m;
  for (let p = 0; p < I.length; p++) {
    const q = I[p]!;
    if (!(q >= 0 && q < n)) throw new BackendError(`${op}: flat pick ${q} at [${p}] is out of range for a [${B}, ${m}] grid (b·m + r)`);
  }
}

const fround = (x: number) => Math.fround(x);
const exact = (x: number) => x;
const rounder = (a: TypedArray) => (a instanceof Float32Array ? fround : exact);

export const sparseKernels: Record<string, Kernel> = {
  gatherDot: ([a, w, idx], [y], attrs) => {
    const { m, d, at } = table(w!, attrs.layout);
    if (idx!.shape.length === 1) {
      const A = a!.data, W = w!.data, I = idx!.data, out = y!.data;
      checkFlatIndices('gatherDot', I, a!.shape[0]!, m);
      for (let p = 0; p < I.length; p++) {
        const q = I[p]!, b = Math.floor(q / m), r = q - b * m;
        let s = 0;
        for (let t = 0; t < d; t++) s += A[b * d + t]! * W[at(r, t)]!;
        out[p] = s;
      }
      return;
    }
    checkSparseIndices('gatherDot', idx!.data, idx!.shape[1]!, m);
    const A = a!.data, W = w!.data, I = idx!.data, out = y!.data;
    const k = idx!.shape[1]!;
    for (let p = 0; p < I.length; p++) {
      const b = Math.floor(p / k), r = I[p]!;
      let s = 0;
      for (let t = 0; t < d; t++) s += A[b * d + t]! * W[at(r, t)]!;
      out[p] = s;
    }
  },
  embeddingBag: ([v, idx, w], [y], attrs) => {
    const { m, d, at } = table(w!, attrs.layout);
    if (idx!.shape.length === 1) {
      // picks summed in their order (p ascending) per output row, float64, rounded once
      const B = y!.shape[0]!, V = v!.data, W = w!.data, I = idx!.data;
      checkFlatIndices('embeddingBag', I, B, m);
      const acc = new Float64Array(B * d);
      for (let p = 0; p < I.length; p++) {
        const q = I[p]!, b = Math.floor(q / m), r = q - b * m, c = V[p]!;
        for (let t = 0; t < d; t++) acc[b * d + t]! += c * W[at(r, t)]!;
      }
      y!.data.set(acc);
      return;
    }
    checkSparseIndices('embeddingBag', idx!.data, idx!.shape[1]!, m);
    const V = v!.data, W = w!.data, I = idx!.data, out = y!.data;
    const [B, k] = idx!.shape as [number, number];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < d; t++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += V[b * k + j]! * W[at(I[b * k + j]!, t)]!;
        out[b * d + t] = s;
      }
    }
  },
  scatterOuter: ([v, idx, a], [y], attrs) => {
    const m = attrs.m as number;
    const V = v!.data, A = a!.data, I = idx!.data;
    const d = a!.shape[1]!;
    const rows = attrs.layout === 'rows';
    // accumulate in float64, round once (the picks of one row are summed in (b, j) order, flat
    // picks in their order)
    const acc = new Float64Array(m * d);
    if (idx!.shape.length === 1) {
      checkFlatIndices('scatterOuter', I, a!.shape[0]!, m);
      for (let p = 0; p < I.length; p++) {
        const q = I[p]!, b = Math.floor(q / m), r = q - b * m, c = V[p]!;
        for (let t = 0; t < d; t++) acc[r * d + t]! += c * A[b * d + t]!;
      }
    } else {
      checkSparseIndices('scatterOuter', I, idx!.shape[1]!, m);
      const [B, k] = idx!.shape as [number, number];
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < k; j++) {
          const r = I[b * k + j]!, c = V[b * k + j]!;
          for (let t = 0; t < d; t++) acc[r * d + t]! += c * A[b * d + t]!;
        }
      }
    }
    const out = y!.data;
    if (rows) out.set(acc);
    else for (let r = 0; r < m; r++) for (let t = 0; t < d; t++) out[t * m + r] = acc[r * d + t]!;
  },
  adamStep: ([p, g, m, v, stepSize, sqrtBc2, decay], [pOut, mOut, vOut], attrs) => {
    const R = rounder(p!.data);
    const c1 = R(1 - (attrs.beta1 as number)), b2 = R(attrs.beta2 as number), c2 = R(1 - (attrs.beta2 as number)), eps = R(attrs.eps as number);
    const ss = stepSize!.data[0]!, bc = sqrtBc2!.data[0]!, dc = decay!.data[0]!;
    const wd = attrs.decoupledDecay === true;
    const P = p!.data, G = g!.data, M = m!.data, Vv = v!.data;
    const po = pOut!.data, mo = mOut!.data, vo = vOut!.data;
    // the composite's operations, each rounded (sae/adam.ts): bit-identical to it
    for (let i = 0; i < P.length; i++) {
      const gi = G[i]!, mi = M[i]!;
      const m1 = R(mi + R(R(gi - mi) * c1));
      const v1 = R(R(Vv[i]! * b2) + R(R(gi * gi) * c2));
      const denom = R(R(R(Math.sqrt(v1)) / bc) + eps);
      const base = wd ? R(P[i]! * dc) : P[i]!;
      po[i] = R(base - R(ss * R(m1 / denom)));
      mo[i] = m1;
      vo[i] = v1;
    }
  },
};
