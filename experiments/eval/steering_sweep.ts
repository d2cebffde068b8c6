/**
 * The steering protocol's open choices, measured side by side (issue 12, item 3): the scale c,
 * and the associated-token rule — METHODS §4's top-n of W_U·d_i ("wu") against the n tokens whose
 * probability steering with d_i actually raises most ("measured"). The measured rule picks its
 * tokens on one context batch (`select`) and is scored on another (`score`), so it is not scored
 * on the draw it was chosen from; the wu rule is scored on the same `score` batch. Which latents
 * are steered (alive sample or uniform over all) is the caller's choice.
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
  opts: { cs: readonly number[]; topN: number; meanNorm: number },
): SweepCell[] {
  const wuSets = associatedTokens(model, dict, latents, opts.topN);
  const cleanSelect = E.tidy(() => meanProbs(model.logits(select)));
  const cleanScore = E.tidy(() => meanProbs(model.logits(score)));
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
      out.push({ c, latent, wu: add(wuSets[i]!), measured: add(moved) });
    });
  }
  return out;
}
