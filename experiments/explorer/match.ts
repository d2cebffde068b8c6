/**
 * Matching the latents of two dictionaries by decoder cosine (the comparison view).
 *
 * Method: the optimal one-to-one assignment maximising the summed decoder cosine (Hungarian
 * algorithm, experiments/eval/matching.ts).
 * A pair counts as matched when its cosine is ≥ `threshold`; every other latent is unmatched.
 * A split is a latent of A with two or more latents of B at cosine ≥ `splitThreshold`
 * (feature splitting: one direction of A spread over several of B), and the same the other way.
 */
import { assignByCosine, cosineMatrix } from '../eval/matching.js';
import type { ComparisonResult, MatchedPair } from './manifest.js';

// the pure algorithm lives in experiments/eval/matching.ts (the feature-splitting statistics use it too)
export { cosineMatrix, hungarian, unitRows } from '../eval/matching.js';

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
  const pairs: MatchedPair[] = assignByCosine(cos, nA, nB);
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
