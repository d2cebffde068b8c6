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
 *
 * Training runs one of two equivalent paths (cfg.sparseKernels), as TopK's (topk.ts):
 *  - dense: f = batchTopk(z) is materialised [B, m]; decoder and backward are dense matmuls;
 *  - sparse (default): the dense z ranks the latents over the whole batch; the B·k picks are
 *    flat positions q = b·m + r (a variable number per row), their values are read from z with
 *    a sparse VJP (pickedPreActsFlat), x̂ is an embeddingBag of decoder rows over the flat picks
 *    and every gradient a scatter over them (ops/sparse.ts, flat picks): O(B·k·d) instead of
 *    O(B·m·d). The selection is the same topk over the flattened batch, so the picks, f and the
 *    threshold statistic equal the dense path's exactly; loss and gradients up to float
 *    summation order (tested in test/sae/batch_topk_sparse.test.ts).
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import { auxkLossSparse, centre, host, preActs, preActsAt, rankBy, sqErrPerBatch, type HostParams, type Params, type SparseCode } from './common.js';
import { initTopkLike, topkFamilyLoss, withLazyF } from './topk.js';
import type { Batch, LossContext, LossResult, Variant } from './variant.js';

/** Training encoder: f with exactly B·k entries kept over the batch (ReLU may zero some). */
export function batchTopkEncode(p: Params, x: E.Tensor, k: number): { f: E.Tensor; z: E.Tensor } {
  const z = preActs(p, x);
  return { f: E.batchTopk(z, k, true), z };
}

/**
 * The flat positions q = b·m + r of the B·k largest entries of z [B, m] over the whole batch
 * (descending; ties to the lower flat index): the picks `batchTopk` keeps, as a vector [B·k].
 */
export function batchTopkPicks(z: E.Tensor, k: number): E.Tensor {
  return E.reshape(batchTopkPicksRow(E.reshape(z, [1, z.size]), z.shape as [number, number], k), [z.shape[0]! * k]);
}

/** The same picks from z already flattened to one row [1, B·m] (`shape`: z's [B, m]), as [1, B·k]. */
function batchTopkPicksRow(zRow: E.Tensor, shape: readonly [number, number], k: number): E.Tensor {
  const [B, m] = shape;
  if (!Number.isInteger(k) || k < 0 || k > m) throw new Error(`batchTopk: k = ${k} must be an integer in [0, ${m}] (the latents per row of ${JSON.stringify(shape)})`);
  return E.topkIndices(zRow, B * k);
}

/**
 * z at the flat picks, [N], with a sparse VJP (the flat-picks analogue of preActsAt's, common.ts):
 * the forward reads the values from the dense z the ranking computed (bit-identical to the dense
 * path), given as the one row [1, B·m] the ranking read (a reshape is a copy on the wasm backend:
 * 16 MB at the benchmark's shape); the pullback of the cotangent g [N] touches the picked latents only:
 *   b_enc: h = Σ of g per latent = scatterOuter(g, q, 1 [B, 1], m) — [m, 1], a per-latent sum;
 *   W_enc: scatterOuter(g, q, x − b_dec, m, 'cols');   b_dec: −W_enc h;
 *   x (only when differentiated): embeddingBag(g, q, W_enc, 'cols', B).
 * z gets no cotangent, so the dense matmul that made it has no backward.
 */
const pickedPreActsFlat = E.customVjp(
  'pickedPreActsFlat',
  (_x, _bDec, _W, _b, zRow, q) => E.reshape(E.takeAlongAxis(zRow!, E.reshape(q!, [1, q!.size]), -1), [q!.size]),
  (c) => {
    const [x, bDec, W, , , q] = c.inputs as E.Tensor[];
    const g = c.cotangents[0]!;
    const [d, m] = W!.shape as [number, number];
    const B = x!.shape[0]!;
    const h = c.needsGrad[1] || c.needsGrad[3] ? E.reshape(E.scatterOuter(g, q!, E.full([B, 1], 1, g.dtype), m, 'rows'), [m]) : null;
    return [
      c.needsGrad[0] ? E.embeddingBag(g, q!, W!, 'cols', B) : null,
      c.needsGrad[1] ? E.neg(E.reshape(E.matmul(W!, E.reshape(h!, [m, 1])), [d])) : null,
      c.needsGrad[2] ? E.scatterOuter(g, q!, E.sub(x!, bDec!), m, 'cols') : null,
      c.needsGrad[3] ? h : null,
      null,
      null,
    ];
  },
) as (x: E.Tensor, bDec: E.Tensor, W: E.Tensor, b: E.Tensor, zRow: E.Tensor, q: E.Tensor) => E.Tensor;

/**
 * The BatchTopK loss through the sparse kernels: reconstruction from the B·k flat picks plus
 * AuxK (per row, over dead latents, ranked by z as in the dense path: auxkLossSparse). The code
 * is returned in `extra.topkIndices` (flat picks) / `extra.topkValues`, with the threshold
 * statistic; `f` is built from it only when read.
 */
function batchTopkLossSparse(p: Params, x: E.Tensor, ctx: LossContext): LossResult {
  const [B] = x.shape as [number, number];
  const m = ctx.cfg.dSae;
  // z only ranks (topkIndices passes no gradient): its dense matmul has no backward
  const z = E.add(E.matmul(centre(x, p.b_dec!), p.W_enc!), p.b_enc!);
  const zRow = E.reshape(z, [1, B * m]);
  const q = E.reshape(batchTopkPicksRow(zRow, [B, m], ctx.cfg.k), [B * ctx.cfg.k]);
  const code: SparseCode = { idx: q, values: E.relu(pickedPreActsFlat(x, p.b_dec!, p.W_enc!, p.b_enc!, zRow, q)), batch: B };
  const xHat = E.add(E.embeddingBag(code.values, q, p.W_dec!, 'rows', B), p.b_dec!);
  const mse = sqErrPerBatch(x, xHat);
  const parts: Record<string, E.Tensor> = { mse_loss: mse };
  let loss = mse;
  if (ctx.deadMask && ctx.cfg.auxkCoefficient > 0) {
    const aux = E.mul(auxkLossSparse(p, x, xHat, rankBy(z), ctx.deadMask, ctx.cfg.kAux, (idx) => preActsAt(p, x, idx, z)), ctx.cfg.auxkCoefficient);
    parts.auxk_loss = aux;
    loss = E.add(loss, aux);
  }
  // the positive kept values are exactly f's positive entries: the same minimum as the dense path
  const { value, found } = smallestPositive(E.stopGradient(code.values));
  return withLazyF({ loss, parts, xHat, extra: { topkIndices: q, topkValues: code.values, minKept: value, found } }, code, m);
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
    if (ctx.cfg.sparseKernels) return batchTopkLossSparse(p, batch.x, ctx);
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
