/**
 * TopK SAE (Gao et al. 2024; METHODS §1.2): f = ReLU(TopK_k(z)), loss ||x − x̂||² + α·AuxK.
 * Gradient reaches only the kept entries (the selection is a constant). Ties: lower index.
 *
 * Training runs one of two equivalent paths (cfg.sparseKernels):
 *  - dense: f is materialised [B, m]; x̂ = f @ W_dec and the backward are dense matmuls;
 *  - sparse (default): the dense z = (x − b_dec) @ W_enc + b_enc ranks the latents; the k kept
 *    values are read from it with the VJP of gatherDot on W_enc's columns (preActsAt), x̂ is an
 *    embeddingBag of k decoder rows, and every gradient is a scatter over those k latents —
 *    O(B·k·d) instead of O(B·m·d). The loss and gradients agree with the dense path up to float
 *    summation order (tested); the dense f is built only if someone reads `LossResult.f`.
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import {
  auxkLoss, auxkLossSparse, centre, decode, decodeSparse, densify, host, initDecoderAndEncoder, keepTopkBy, preActs, preActsAt, rankBy, sqErrPerBatch,
  type HostParams, type Params, type Ranker, type SparseCode,
} from './common.js';
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

/**
 * `topkFamilyLoss` through the sparse kernels. `rank` picks the latents (a constant: `rankBy(z)`
 * for TopK, the g-SAE's score or its screened primitive), `valuesAt(idx)` gives the values to
 * ReLU at picked indices [B, k'] (differentiable, sparse); AuxK ranks the dead latents with `rank`
 * too. The sparse code is returned in `extra.topkIndices` / `extra.topkValues`; `f` is built from
 * it only when read.
 */
export function topkFamilyLossSparse(p: Params, x: E.Tensor, rank: Ranker, valuesAt: (idx: E.Tensor) => E.Tensor, ctx: LossContext): LossResult {
  const idx = rank(ctx.cfg.k);
  const code: SparseCode = { idx, values: E.relu(valuesAt(idx)) };
  const xHat = decodeSparse(p, code);
  const mse = sqErrPerBatch(x, xHat);
  const parts: Record<string, E.Tensor> = { mse_loss: mse };
  let loss = mse;
  if (ctx.deadMask && ctx.cfg.auxkCoefficient > 0) {
    const aux = E.mul(auxkLossSparse(p, x, xHat, rank, ctx.deadMask, ctx.cfg.kAux, valuesAt), ctx.cfg.auxkCoefficient);
    parts.auxk_loss = aux;
    loss = E.add(loss, aux);
  }
  return withLazyF({ loss, parts, xHat, extra: { topkIndices: code.idx, topkValues: code.values } }, code, ctx.cfg.dSae);
}

/**
 * A LossResult whose dense `f` is made from the sparse code on first read (and again if that copy
 * was freed with its scope). Non-enumerable, so pytree walks (tidy, jit outputs) never trigger it:
 * a training step that only needs firing statistics never pays for the [B, m] tensor.
 */
export function withLazyF(r: Omit<LossResult, 'f'>, code: SparseCode, m: number): LossResult {
  let f: E.Tensor | null = null;
  Object.defineProperty(r, 'f', {
    enumerable: false,
    get: () => {
      if (!f || f.disposed) f = densify(code, m);
      return f;
    },
  });
  return r as LossResult;
}

/** The sparse code of a TopK-family loss result, when it was trained through the sparse path. */
export function sparseCodeOf(r: LossResult): SparseCode | null {
  const idx = r.extra.topkIndices, values = r.extra.topkValues;
  // flat picks (BatchTopK) need B, which x̂ [B, d] carries
  return idx && values ? { idx, values, batch: r.xHat.shape[0]! } : null;
}

export const topkVariant: Variant = {
  name: 'topk',
  needsGrad: false,
  unitNormDecoder: () => true,
  init: initTopkLike,
  initBuffers: () => ({}),
  loss(p: Params, batch: Batch, ctx: LossContext): LossResult {
    if (ctx.cfg.sparseKernels) {
      const xc = centre(batch.x, p.b_dec!);
      // z only ranks: topkIndices passes no gradient, so its dense matmul has no backward
      const z = E.add(E.matmul(xc, p.W_enc!), p.b_enc!);
      return topkFamilyLossSparse(p, batch.x, rankBy(z), (idx) => preActsAt(p, batch.x, idx, z), ctx);
    }
    const { f, z } = topkEncode(p, batch.x, ctx.cfg.k);
    return topkFamilyLoss(p, batch.x, f, z, z, ctx);
  },
  updateBuffers: (b) => b,
  exportParams: (p) => ({ architecture: 'topk', params: p }),
};
