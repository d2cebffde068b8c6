/**
 * Matching the latents of two dictionaries by decoder cosine: the pure algorithm, shared by the
 * explorer's comparison view (experiments/explorer/match.ts) and the feature-splitting statistics
 * (experiments/eval/feature_splitting.ts).
 *
 * Method: the optimal one-to-one assignment (Hungarian algorithm, the shortest-augmenting-path
 * form with potentials, O(n²·m)) maximising the summed cosine between unit decoder rows of A and
 * B. Greedy matching would be faster but lets an early good-enough pair steal a latent's best
 * partner; the assignment is exact, and for d_sae ≈ 1k it takes about a second here.
 */

/** Rows of `w` ([n, d] row-major) scaled to unit norm (zero rows stay zero). */
export function unitRows(w: ArrayLike<number>, n: number, d: number): Float64Array {
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
export function cosineMatrix(wA: ArrayLike<number>, nA: number, wB: ArrayLike<number>, nB: number, d: number): Float64Array {
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

/** One assigned pair: latent `a` of A, latent `b` of B, and their decoder cosine. */
export interface AssignedPair {
  a: number;
  b: number;
  cosine: number;
}

/**
 * The maximum-total-cosine one-to-one assignment between A's and B's latents, given their cosine
 * matrix [nA, nB]: min(nA, nB) pairs, sorted by A's latent. The side with fewer latents is the
 * Hungarian's rows.
 */
export function assignByCosine(cos: Float64Array, nA: number, nB: number): AssignedPair[] {
  if (cos.length !== nA * nB) throw new Error(`assignByCosine: ${cos.length} cosines do not form [${nA}, ${nB}]`);
  const pairs: AssignedPair[] = [];
  if (nA <= nB) {
    const col = hungarian(cos.map((c) => -c), nA, nB);
    for (let i = 0; i < nA; i++) pairs.push({ a: i, b: col[i]!, cosine: cos[i * nB + col[i]!]! });
    return pairs;
  }
  const negT = new Float64Array(nB * nA);
  for (let i = 0; i < nA; i++) for (let j = 0; j < nB; j++) negT[j * nA + i] = -cos[i * nB + j]!;
  const col = hungarian(negT, nB, nA);
  for (let j = 0; j < nB; j++) pairs.push({ a: col[j]!, b: j, cosine: cos[col[j]! * nB + j]! });
  return pairs.sort((x, y) => x.a - y.a);
}
