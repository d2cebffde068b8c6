/**
 * BatchTopK SAE (Bussmann et al. 2024; METHODS §1.5): over a batch of B rows keep the B·k largest
 * pre-activations of the whole batch (ReLU'd; ties to the lower flat index), loss as TopK (with
 * AuxK). At inference a single threshold θ replaces the batch: f = ReLU(z) ⊙ 1[z > θ], where θ
 * is an exponential moving average (rate `thresholdLr`, as SAELens; the first batch sets it) of
 * the smallest positive kept value per training batch. It is saved as SAELens' JumpReLU with θ
 * on every latent, which is how SAELens itself exports BatchTopK SAEs for inference.
 *
 * The rate matters: the smallest kept value drifts while the encoder trains (on the default
 * model it falls by half within the first hundred steps), and an EMA lags a drift by about
 * 1/rate steps. SAELens' 0.01 on a 118-step run left θ near its initial value and halved the
 * inference L0 (7.6 for k = 16); the default rate is therefore `autoThresholdLr(totalSteps)`
 * (config.ts): 0.01 on long runs, a time constant of 5% of the run on short ones.
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import { host, preActs, type HostParams, type Params } from './common.js';
import { initTopkLike, topkFamilyLoss } from './topk.js';
import type { Batch, LossContext, LossResult, Variant } from './variant.js';

/** Training encoder: f with exactly B·k entries kept over the batch (ReLU may zero some). */
export function batchTopkEncode(p: Params, x: E.Tensor, k: number): { f: E.Tensor; z: E.Tensor } {
  const z = preActs(p, x);
  return { f: E.batchTopk(z, k, true), z };
}

/** The smallest positive entry of f, and whether there was one (0/1). */
export function smallestPositive(f: E.Tensor): { value: E.Tensor; found: E.Tensor } {
  const pos = E.greater(f, 0);
  const found = E.greater(E.sum(pos), 0);
  // max of −f over positive entries (others → −3e38, below any float32 activation we keep)
  const value = E.neg(E.max(E.where(pos, E.neg(f), -3e38)));
  return { value, found };
}

export const batchTopkVariant: Variant = {
  name: 'batchtopk',
  needsGrad: false,
  unitNormDecoder: () => true,
  init: initTopkLike,
  initBuffers: () => ({ threshold: host([]) }),
  loss(p: Params, batch: Batch, ctx: LossContext): LossResult {
    const { f, z } = batchTopkEncode(p, batch.x, ctx.cfg.k);
    const res = topkFamilyLoss(p, batch.x, f, z, z, ctx);
    const { value, found } = smallestPositive(E.stopGradient(f));
    return { ...res, extra: { minKept: value, found } };
  },
  updateBuffers(b: Params, res: LossResult, tau: E.Tensor): Params {
    const th = b.threshold!;
    const ema = E.add(E.mul(th, E.sub(1, tau)), E.mul(res.extra.minKept!, tau));
    return { ...b, threshold: E.where(res.extra.found!, ema, th) };
  },
  exportParams(p: HostParams, buffers: HostParams, cfg: SaeTrainConfig) {
    const th = buffers.threshold?.data[0] ?? 0;
    return { architecture: 'jumprelu', params: { ...p, threshold: host([cfg.dSae], new Float32Array(cfg.dSae).fill(th)) } };
  },
};
