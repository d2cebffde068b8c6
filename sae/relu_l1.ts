/**
 * ReLU + L1 SAE, the "standard" architecture (METHODS §1.1):
 *   f = ReLU((x − b_dec) W_enc + b_enc), loss ||x − x̂||² + λ ||f||₁, unit-norm decoder rows.
 * Option `april` (Anthropic, April 2024 update): no unit-norm constraint, penalty λ Σ f_i ||d_i||,
 * decoder rows initialised at norm `aprilDecoderInitNorm` (0.1), W_enc = W_decᵀ, λ warmed up
 * (the trainer uses 5% of the steps unless lambdaWarmupSteps is given).
 * Neuron resampling of dead latents (Anthropic, "Towards Monosemanticity") is `resampleDead`.
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import { decode, decoderRowNorms, host, initDecoderAndEncoder, preActs, sqErrPerBatch, type HostParams, type Params } from './common.js';
import type { Batch, LossContext, LossResult, Variant } from './variant.js';

export function reluEncode(p: Params, x: E.Tensor, applyBDecToInput = true): E.Tensor {
  return E.relu(preActs(p, x, applyBDecToInput));
}

export const reluL1Variant: Variant = {
  name: 'relu_l1',
  needsGrad: false,
  unitNormDecoder: (cfg: SaeTrainConfig) => !cfg.april,
  init(cfg, rng, bDec) {
    const { W_enc, W_dec } = initDecoderAndEncoder(cfg.dIn, cfg.dSae, rng, cfg.april ? cfg.aprilDecoderInitNorm : 1);
    return { W_enc, b_enc: host([cfg.dSae]), W_dec, b_dec: bDec };
  },
  initBuffers: () => ({}),
  loss(p: Params, batch: Batch, ctx: LossContext): LossResult {
    const f = reluEncode(p, batch.x);
    const xHat = decode(p, f);
    const mse = sqErrPerBatch(batch.x, xHat);
    const B = batch.x.shape[0]!;
    const pen = ctx.cfg.april ? E.sum(E.mul(f, decoderRowNorms(p.W_dec!))) : E.sum(f);
    const l1 = E.mul(E.div(pen, B), ctx.coeff);
    return { loss: E.add(mse, l1), parts: { mse_loss: mse, l1_loss: l1 }, f, xHat, extra: {} };
  },
  updateBuffers: (b) => b,
  exportParams: (p) => ({ architecture: 'standard', params: p }),
};

/**
 * Neuron resampling, in place on host copies (Anthropic 2023, "Towards Monosemanticity"):
 * each dead latent gets an input drawn with probability ∝ its squared reconstruction loss;
 * its decoder row becomes that input (centred by b_dec) normalised (to the mean alive decoder
 * norm under `april`, else unit), its encoder column the same direction times 0.2 × the mean
 * alive encoder-column norm, its b_enc 0; its Adam moments are zeroed. The trainer then warms
 * the LR back up. `sqLoss[r]` is ||x_r − x̂_r||² for row r of `inputs` [n, d] (normalised space).
 */
export function resampleDead(
  p: HostParams,
  adamM: HostParams,
  adamV: HostParams,
  dead: readonly number[],
  inputs: Float32Array,
  sqLoss: Float64Array,
  rng: E.Rng,
  april: boolean,
): number[] {
  if (dead.length === 0) return [];
  const W_enc = p.W_enc!;
  const W_dec = p.W_dec!;
  const [d, m] = W_enc.shape as [number, number];
  const n = sqLoss.length;
  const isDead = new Uint8Array(m);
  for (const i of dead) isDead[i] = 1;
  let encNorm = 0;
  let decNorm = 0;
  let alive = 0;
  for (let i = 0; i < m; i++) {
    if (isDead[i]) continue;
    let se = 0;
    let sd = 0;
    for (let j = 0; j < d; j++) {
      se += W_enc.data[j * m + i]! ** 2;
      sd += W_dec.data[i * d + j]! ** 2;
    }
    encNorm += Math.sqrt(se);
    decNorm += Math.sqrt(sd);
    alive++;
  }
  encNorm = alive > 0 ? encNorm / alive : 1;
  decNorm = april ? (alive > 0 ? decNorm / alive : 1) : 1;
  // cumulative distribution over inputs by squared loss
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let r = 0; r < n; r++) cdf[r] = acc += sqLoss[r]! ** 2;
  const picked: number[] = [];
  for (const i of dead) {
    let r: number;
    if (acc > 0) {
      const u = rng.uniform() * acc;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      r = lo;
    } else r = rng.int(n);
    picked.push(r);
    let ss = 0;
    const v = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      v[j] = inputs[r * d + j]! - p.b_dec!.data[j]!;
      ss += v[j]! ** 2;
    }
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let j = 0; j < d; j++) {
      W_dec.data[i * d + j] = v[j]! * inv * decNorm;
      W_enc.data[j * m + i] = v[j]! * inv * 0.2 * encNorm;
    }
    p.b_enc!.data[i] = 0;
    for (const st of [adamM, adamV]) {
      for (let j = 0; j < d; j++) {
        st.W_dec!.data[i * d + j] = 0;
        st.W_enc!.data[j * m + i] = 0;
      }
      st.b_enc!.data[i] = 0;
    }
  }
  return picked;
}
