/**
 * The steering protocol's open choices, measured side by side (issue 12, item 3): the scale c,
 * and the associated-token rule — METHODS §4's top-n of W_U·d_i ("wu") against the n tokens whose
 * probability steering with d_i actually raises most ("measured"). The measured rule picks its
 * tokens on one context batch (`select`) and is scored on another (`score`), so it is not scored
 * on the draw it was chosen from; the wu rule is scored on the same `score` batch. Which latents
 * are steered (alive sample or uniform over all) is the caller's choice. Each cell also carries two
 * diagnostics: the overlap of the two token sets and the total variation steering causes.
 * Many sweeps over one model can share the clean distributions (`cleanProbs`, `opts.clean`).
 */
import * as E from '../../engine/index.js';
import type { EvalDictionary, EvalModel } from './interfaces.js';
import { associatedTokens } from './steering.js';

export interface SweepCell {
  c: number;
  latent: number;
  /** probability addition on the score batch with the W_U·d_i tokens */
  wu: number;
  /** probability addition on the score batch with the tokens steering moved most on the select batch */
  measured: number;
  /** |T_wu ∩ T_measured| / topN: how many of the W_U·d_i tokens are among those steering actually raised most */
  overlap: number;
  /**
   * total variation ½ Σ_t |p̄_steered(t) − p̄_clean(t)| between the mean next-token distributions
   * (mean over the score batch's positions): how much steering moves the output at all
   */
  tv: number;
}

/** The clean model's mean next-token distributions on the select and score batches (reusable across dictionaries). */
export interface CleanProbs {
  select: Float32Array;
  score: Float32Array;
}

export function cleanProbs(model: EvalModel, select: E.Tensor, score: E.Tensor): CleanProbs {
  return { select: E.tidy(() => meanProbs(model.logits(select))), score: E.tidy(() => meanProbs(model.logits(score))) };
}

/** Mean over batch and positions of softmax(logits) [B, T, V] → [V], as a host array. */
function meanProbs(logits: E.Tensor): Float32Array {
  const V = logits.shape[logits.shape.length - 1]!;
  return E.tidy(() => E.mean(E.reshape(E.softmax(logits), [-1, V]), 0).toArray() as Float32Array);
}

/** Indices of the n largest values (ties by lower index). */
export function topIndices(xs: ArrayLike<number>, n: number): number[] {
  return Array.from({ length: xs.length }, (_, i) => i)
    .sort((a, b) => xs[b]! - xs[a]! || a - b)
    .slice(0, n);
}

export function steeringSweep(
  model: EvalModel, dict: EvalDictionary, hook: string, select: E.Tensor, score: E.Tensor, latents: readonly number[],
  opts: { cs: readonly number[]; topN: number; meanNorm: number; clean?: CleanProbs },
): SweepCell[] {
  const wuSets = associatedTokens(model, dict, latents, opts.topN);
  const clean = opts.clean ?? cleanProbs(model, select, score);
  const cleanSelect = clean.select;
  const cleanScore = clean.score;
  const out: SweepCell[] = [];
  for (const c of opts.cs) {
    latents.forEach((latent, i) => {
      const steered = (ctx: E.Tensor) =>
        E.tidy(() => {
          const dir = E.reshape(E.slice(dict.decoderRows(), [latent, 0], [1, dict.dIn]), [dict.dIn]);
          const delta = E.mul(dir, c * opts.meanNorm);
          return meanProbs(model.logits(ctx, { [hook]: (x) => E.add(x, delta) }));
        });
      const pSel = steered(select);
      const moved = topIndices(Float32Array.from(pSel, (p, t) => p - cleanSelect[t]!), opts.topN);
      const pScore = steered(score);
      const add = (ids: readonly number[]) => ids.reduce((s, t) => s + (pScore[t]! - cleanScore[t]!), 0);
      const wuSet = new Set(wuSets[i]!);
      const overlap = moved.filter((t) => wuSet.has(t)).length / opts.topN;
      let tv = 0;
      for (let t = 0; t < pScore.length; t++) tv += Math.abs(pScore[t]! - cleanScore[t]!);
      out.push({ c, latent, wu: add(wuSets[i]!), measured: add(moved), overlap, tv: tv / 2 });
    });
  }
  return out;
}
