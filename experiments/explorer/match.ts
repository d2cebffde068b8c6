/**
 * Matching the latents of two dictionaries by decoder cosine (the comparison view).
 *
 * Method: the optimal one-to-one assignment (Hungarian algorithm, the shortest-augmenting-path
 * form with potentials, O(n²·m)) maximising the summed cosine between unit decoder rows of A and
 * B. Greedy matching would be faster but lets an early good-enough pair steal a latent's best
 * partner; the assignment is exact, and for d_sae ≈ 1k it takes about a second here.
 * A pair counts as matched when its cosine is ≥ `threshold`; every other latent is unmatched.
 * A split is a latent of A with two or more latents of B at cosine ≥ `splitThreshold`
 * (feature splitting: one direction of A spread over several of B), and the same the other way.
 */
import type { ComparisonResult, MatchedPair } from './manifest.js';

/** Rows of `w` ([n, d] row-major) scaled to unit norm (zero rows stay zero). */
export function unitRows(w: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += w[i * d + j]! * w[i * d + j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) out[i * d + j] = w[i * d + j]! * inv;
  }
  return out;
}

/** Cosine matrix [nA, nB] of the decoder rows. */
export function cosineMatrix(wA: Float32Array, nA: number, wB: Float32Array, nB: number, d: number): Float64Array {
  const a = unitRows(wA, nA, d);
  const b = unitRows(wB, nB, d);
  const c = new Float64Array(nA * nB);
  for (let i = 0; i < nA; i++) {
    for (let j = 0; j < nB; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += a[i * d + t]! * b[j * d + t]!;
      c[i * nB + j] = s;
    }
  }
  return c;
}

/**
 * Minimum-cost assignment of n rows to m ≥ n columns (cost row-major [n, m]); returns the column
 * of each row. Shortest augmenting paths with row/column potentials (e-maxx formulation).
 */
export function hungarian(cost: Float64Array, n: number, m: number): Int32Array {
  if (n > m) throw new Error(`hungarian: ${n} rows for ${m} columns (transpose first)`);
  const INF = Number.POSITIVE_INFINITY;
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: row (1-based) assigned to column j, 0 = none
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(INF);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = INF;
      let j1 = 0;
      const row = (i0 - 1) * m;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost[row + j - 1]! - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          const r = p[j]!;
          u[r] = u[r]! + delta;
          v[j] = v[j]! - delta;
        } else minv[j] = minv[j]! - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const rowToCol = new Int32Array(n).fill(-1);
  for (let j = 1; j <= m; j++) if (p[j]! > 0) rowToCol[p[j]! - 1] = j - 1;
  return rowToCol;
}

function splits(cos: Float64Array, nA: number, nB: number, threshold: number, byRow: boolean): ComparisonResult['splitsA'] {
  const out: ComparisonResult['splitsA'] = [];
  const outer = byRow ? nA : nB;
  const inner = byRow ? nB : nA;
  for (let i = 0; i < outer; i++) {
    const partners: { index: number; cosine: number }[] = [];
    for (let j = 0; j < inner; j++) {
      const c = byRow ? cos[i * nB + j]! : cos[j * nB + i]!;
      if (c >= threshold) partners.push({ index: j, cosine: c });
    }
    if (partners.length >= 2) out.push({ latent: i, partners: partners.sort((x, y) => y.cosine - x.cosine) });
  }
  return out.sort((x, y) => y.partners.length - x.partners.length || x.latent - y.latent);
}

export interface CompareInput {
  id: string;
  wDec: Float32Array;
  dSae: number;
}

/** The full comparison of two dictionaries with the same d_in. */
export function compareDictionaries(A: CompareInput, B: CompareInput, dIn: number, threshold: number, splitThreshold: number): ComparisonResult {
  if (A.wDec.length !== A.dSae * dIn || B.wDec.length !== B.dSae * dIn) {
    throw new Error(`compare: decoder sizes ${A.wDec.length} and ${B.wDec.length} do not match d_sae × d_in (${A.dSae}×${dIn}, ${B.dSae}×${dIn})`);
  }
  const cos = cosineMatrix(A.wDec, A.dSae, B.wDec, B.dSae, dIn);
  const nA = A.dSae;
  const nB = B.dSae;
  // maximise Σ cos = minimise Σ −cos; the side with fewer latents is the rows
  let pairs: MatchedPair[] = [];
  if (nA <= nB) {
    const neg = cos.map((c) => -c);
    const col = hungarian(neg, nA, nB);
    for (let i = 0; i < nA; i++) pairs.push({ a: i, b: col[i]!, cosine: cos[i * nB + col[i]!]! });
  } else {
    const negT = new Float64Array(nB * nA);
    for (let i = 0; i < nA; i++) for (let j = 0; j < nB; j++) negT[j * nA + i] = -cos[i * nB + j]!;
    const col = hungarian(negT, nB, nA);
    for (let j = 0; j < nB; j++) pairs.push({ a: col[j]!, b: j, cosine: cos[col[j]! * nB + j]! });
    pairs = pairs.sort((x, y) => x.a - y.a);
  }
  const good = new Set(pairs.filter((p) => p.cosine >= threshold).map((p) => p.a));
  const goodB = new Set(pairs.filter((p) => p.cosine >= threshold).map((p) => p.b));
  const unmatchedA: number[] = [];
  for (let i = 0; i < nA; i++) if (!good.has(i)) unmatchedA.push(i);
  const unmatchedB: number[] = [];
  for (let j = 0; j < nB; j++) if (!goodB.has(j)) unmatchedB.push(j);
  const bins = 20;
  const edges = Array.from({ length: bins + 1 }, (_, i) => -1 + (2 * i) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const p of pairs) counts[Math.min(bins - 1, Math.max(0, Math.floor(((p.cosine + 1) / 2) * bins)))]! += 1;
  return {
    a: A.id, b: B.id, method: 'hungarian', threshold, splitThreshold, dSaeA: nA, dSaeB: nB, pairs,
    matched: good.size, unmatchedA, unmatchedB,
    splitsA: splits(cos, nA, nB, splitThreshold, true),
    splitsB: splits(cos, nA, nB, splitThreshold, false),
    cosineHistogram: { edges, counts, label: 'decoder cosine of the assigned pair' },
  };
}
