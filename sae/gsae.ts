/**
 * g-SAE, gradient TopK (Olmo et al., arXiv 2411.10397; METHODS §1.3).
 *
 *   a = W_decᵀ g            (a_i = d_i · g; here a = g @ W_decᵀ with W_dec [d_sae, d_in])
 *   s = z ⊙ (1 + β|a|)       (gradNorm 'rms': a is first divided by its RMS over the batch)
 *   S = TopK_k(s)            ties to the lower index
 *   f_i = ReLU(z_i) for i ∈ S (valueSource 's': ReLU(s_i)), else 0
 *
 * g is the gradient of the LM loss at the hook on the clean model: a constant. a only ranks
 * latents, so it is a constant too (stop-gradient): with valueSource 'z' no gradient could reach
 * it anyway, and with 's' the values' gradient flows through z, scaled by (1 + β|a|), not into
 * W_dec through a. β = 0 gives s = z·1 = z exactly, hence TopK bit for bit (no special case).
 */
import * as E from '../engine/index.js';
import type { GradNorm, ValueSource } from './config.js';
import { centre, keepTopkBy, maskScores, preActs, preActsAt, rankBy, type Params, type Ranker } from './common.js';
import { initTopkLike, topkFamilyLoss, topkFamilyLossSparse } from './topk.js';
import type { Batch, LossContext, LossResult, Variant } from './variant.js';

export interface GsaeOptions {
  k: number;
  beta: number;
  valueSource: ValueSource;
  gradNorm: GradNorm;
}

/** a = W_decᵀ g per row, [B, d_sae], optionally divided by its RMS over the whole batch. */
export function gradProjection(W_dec: E.Tensor, g: E.Tensor, gradNorm: GradNorm): E.Tensor {
  // a constant: stop the gradient at W_dec (a [d_sae, d_in] copy) rather than at a ([B, d_sae])
  let a = E.matmul(g, E.stopGradient(W_dec), false, true);
  if (gradNorm === 'rms') {
    // A batch with g = 0 everywhere has a = 0: divide by a tiny floor instead of 0 (a stays 0).
    const rms = E.sqrt(E.mean(E.mul(a, a)));
    a = E.div(a, E.maximum(rms, 1e-30));
  }
  return a;
}

/** The selection score s = z ⊙ (1 + β|a|). */
export function gsaeScore(z: E.Tensor, a: E.Tensor, beta: number): E.Tensor {
  return E.mul(z, E.add(1, E.mul(E.abs(a), beta)));
}

function checkGrad(x: E.Tensor, g: E.Tensor | null | undefined): E.Tensor {
  if (!g) {
    throw new Error('g-SAE: encoding needs the gradient g = ∂L/∂x at the hook as well as x (METHODS §1.3); the data source has no gradients (build the store with gradients, or give --g-key)');
  }
  if (g.rank !== x.rank || g.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`g-SAE: gradient g ${E.fmtShape(g.shape)} must have the shape of x ${E.fmtShape(x.shape)}`);
  }
  return g;
}

export function gsaeEncode(p: Params, x: E.Tensor, g: E.Tensor | null | undefined, o: GsaeOptions, applyBDecToInput = true): { f: E.Tensor; z: E.Tensor; s: E.Tensor } {
  const gg = checkGrad(x, g);
  const z = preActs(p, x, applyBDecToInput);
  const s = gsaeScore(z, gradProjection(p.W_dec!, gg, o.gradNorm), o.beta);
  return { f: keepTopkBy(s, o.valueSource === 's' ? s : z, o.k), z, s };
}

export const gsaeVariant: Variant = {
  name: 'gsae',
  needsGrad: true,
  unitNormDecoder: () => true,
  init: initTopkLike,
  initBuffers: () => ({}),
  loss(p: Params, batch: Batch, ctx: LossContext): LossResult {
    const { cfg } = ctx;
    if (cfg.sparseKernels) {
      // Sparse path (see topk.ts): the dense z and a = W_decᵀ g rank the latents; the values are
      // taken at the picked latents, s_i = z_i (1 + β|a_i|) with a_i a constant, so gradients
      // reach only the k (and k_aux) picked latents.
      const gg = checkGrad(batch.x, batch.g);
      const xc = centre(batch.x, p.b_dec!);
      const z = E.add(E.matmul(xc, p.W_enc!), p.b_enc!);
      if (cfg.screenedTopk && cfg.valueSource === 'z' && cfg.gradNorm === 'none') {
        // the same selection without the dense a: gsaeTopkIndices screens with a proven bound on
        // |a| and computes a exactly (in the dense product's own order) for the few candidates.
        // It passes no gradient, so W_dec needs no stopGradient (a copy on the wasm backend).
        const rank: Ranker = (k, mask) => E.gsaeTopkIndices(maskScores(z, mask), gg, p.W_dec!, k, cfg.beta);
        return topkFamilyLossSparse(p, batch.x, rank, (idx) => preActsAt(p, batch.x, idx, z), ctx);
      }
      const a = gradProjection(p.W_dec!, gg, cfg.gradNorm);
      const s = gsaeScore(z, a, cfg.beta);
      const valuesAt = (idx: E.Tensor): E.Tensor => {
        const zi = preActsAt(p, batch.x, idx, z);
        return cfg.valueSource === 's' ? gsaeScore(zi, E.takeAlongAxis(a, idx, -1), cfg.beta) : zi;
      };
      return topkFamilyLossSparse(p, batch.x, rankBy(s), valuesAt, ctx);
    }
    const { f, z, s } = gsaeEncode(p, batch.x, batch.g, ctx.cfg);
    // AuxK ranks dead latents by s (METHODS §1.3), values as in the main path.
    return topkFamilyLoss(p, batch.x, f, s, ctx.cfg.valueSource === 's' ? s : z, ctx);
  },
  updateBuffers: (b) => b,
  exportParams: (p) => ({ architecture: 'topk', params: p }),
};
