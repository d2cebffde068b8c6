/**
 * Steering (METHODS.md §4): latent i's associated tokens T_i are the top-n tokens of its direct
 * logit effect W_U·d_i (final LayerNorm gain folded in, bias ignored). Steering adds α·d_i at the
 * hook at every position with α = c·E||x||. The score ("probability addition") is the mean over
 * held-out contexts and positions of Σ_{t∈T_i} p_steered(t) − Σ_{t∈T_i} p_clean(t).
 */
import * as E from '../../engine/index.js';
import type { EvalDictionary, EvalModel } from './interfaces.js';

export interface SteeringOptions {
  /** steering strength in units of the mean activation norm (default 1.0) */
  c: number;
  /** number of associated tokens per latent (default 10) */
  topN: number;
  /** E||x|| at the hook, measured on held-out activations */
  meanNorm: number;
  /** scale each d_i to unit norm first (default false: METHODS adds α·d_i as stored) */
  normalizeDirection?: boolean;
}

export interface SteeringResult {
  latent: number;
  tokens: number[];
  probability_addition: number;
}

/** Top-n token ids of the direct logit effect of each listed latent. */
export function associatedTokens(model: EvalModel, dict: EvalDictionary, latents: readonly number[], topN: number): number[][] {
  return E.tidy(() => {
    const dirs = E.gather(dict.decoderRows(), E.tensor(Int32Array.from(latents)), 0); // [L, d]
    const effect = E.matmul(dirs, model.unembedWithGain(), false, true); // [L, V]
    const idx = E.topkIndices(effect, topN).toArray();
    return latents.map((_, i) => Array.from(idx.subarray(i * topN, (i + 1) * topN)));
  });
}

/** Probability addition of steering with each latent, over the given context batches. */
export function steer(model: EvalModel, dict: EvalDictionary, hook: string, contexts: readonly E.Tensor[], latents: readonly number[], opts: SteeringOptions): SteeringResult[] {
  const tokenSets = associatedTokens(model, dict, latents, opts.topN);
  const alpha = opts.c * opts.meanNorm;
  // clean probability mass on each latent's token set, per context batch: computed once per batch
  const results: SteeringResult[] = latents.map((latent, i) => ({ latent, tokens: tokenSets[i]!, probability_addition: 0 }));
  for (const ctx of contexts) {
    E.tidy(() => {
      const pClean = E.softmax(model.logits(ctx)); // [B, T, V]
      latents.forEach((latent, i) => {
        E.tidy(() => {
          let dir = E.reshape(E.slice(dict.decoderRows(), [latent, 0], [1, dict.dIn]), [dict.dIn]);
          if (opts.normalizeDirection) dir = E.div(dir, E.sqrt(E.sum(E.mul(dir, dir))));
          const delta = E.mul(dir, alpha);
          const pSteer = E.softmax(model.logits(ctx, { [hook]: (x) => E.add(x, delta) }));
          const ids = E.tensor(Int32Array.from(tokenSets[i]!));
          const mass = (p: E.Tensor) => E.sum(E.gather(p, ids, 2), -1); // [B, T]
          results[i]!.probability_addition += E.mean(E.sub(mass(pSteer), mass(pClean))).item() / contexts.length;
        });
      });
    });
  }
  return results;
}

/** Mean and a 95% normal-approximation confidence interval over a sample. */
export function meanCI(xs: readonly number[]): { mean: number; lo: number; hi: number; n: number; sd: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? (1.96 * sd) / Math.sqrt(n) : 0;
  return { mean, lo: mean - half, hi: mean + half, n, sd };
}
