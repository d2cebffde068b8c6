/**
 * TopK SAE (Gao et al. 2024; METHODS §1.2): f = ReLU(TopK_k(z)), loss ||x − x̂||² + α·AuxK.
 * Gradient reaches only the kept entries (the selection is a constant). Ties: lower index.
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import { auxkLoss, decode, host, initDecoderAndEncoder, keepTopkBy, preActs, sqErrPerBatch, type HostParams, type Params } from './common.js';
import type { Batch, LossContext, LossResult, Variant } from './variant.js';

/** Inference/training encoder: f and the pre-activations z. */
export function topkEncode(p: Params, x: E.Tensor, k: number, applyBDecToInput = true): { f: E.Tensor; z: E.Tensor } {
  const z = preActs(p, x, applyBDecToInput);
  return { f: keepTopkBy(z, z, k), z };
}

export function initTopkLike(cfg: SaeTrainConfig, rng: E.Rng, bDec: HostParams[string]): HostParams {
  const { W_enc, W_dec } = initDecoderAndEncoder(cfg.dIn, cfg.dSae, rng);
  return { W_enc, b_enc: host([cfg.dSae]), W_dec, b_dec: bDec };
}

/**
 * The loss shared by the TopK family once f is known: reconstruction plus AuxK over dead latents
 * ranked by `auxScore` (z for TopK, s for g-SAE) with values from `auxValues`.
 */
export function topkFamilyLoss(p: Params, x: E.Tensor, f: E.Tensor, auxScore: E.Tensor, auxValues: E.Tensor, ctx: LossContext): LossResult {
  const xHat = decode(p, f);
  const mse = sqErrPerBatch(x, xHat);
  const parts: Record<string, E.Tensor> = { mse_loss: mse };
  let loss = mse;
  if (ctx.deadMask && ctx.cfg.auxkCoefficient > 0) {
    const aux = E.mul(auxkLoss(p, x, xHat, auxScore, auxValues, ctx.deadMask, ctx.cfg.kAux), ctx.cfg.auxkCoefficient);
    parts.auxk_loss = aux;
    loss = E.add(loss, aux);
  }
  return { loss, parts, f, xHat, extra: {} };
}

export const topkVariant: Variant = {
  name: 'topk',
  needsGrad: false,
  unitNormDecoder: () => true,
  init: initTopkLike,
  initBuffers: () => ({}),
  loss(p: Params, batch: Batch, ctx: LossContext): LossResult {
    const { f, z } = topkEncode(p, batch.x, ctx.cfg.k);
    return topkFamilyLoss(p, batch.x, f, z, z, ctx);
  },
  updateBuffers: (b) => b,
  exportParams: (p) => ({ architecture: 'topk', params: p }),
};
