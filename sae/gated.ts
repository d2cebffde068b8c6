/**
 * Gated SAE (Rajamanoharan et al. 2024, arXiv 2404.16014; METHODS §1.4).
 *
 *   π     = (x − b_dec) W_gate + b_gate          W_gate is stored as `W_enc` (SAELens' naming)
 *   gate  = 1[π > 0]                             Heaviside: passes no gradient
 *   mag   = (x − b_dec)(W_gate ⊙ exp(r_mag)) + b_mag      (weight sharing, r_mag per latent)
 *   f     = gate ⊙ ReLU(mag),   x̂ = f W_dec + b_dec
 *   loss  = ||x − x̂||² + λ ||ReLU(π)||₁ + ||x − (ReLU(π) sg(W_dec) + sg(b_dec))||²
 *
 * The product with the shared weights is computed once: mag = ((x − b_dec) W_gate) ⊙ exp(r_mag)
 * + b_mag, equal to SAELens' `sae_in @ (W_enc * r_mag.exp()) + b_mag` up to float rounding.
 * Option `april`: decoder rows are free and the penalty is λ Σ ReLU(π_i) ||d_i|| instead.
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import { centre, decode, decoderRowNorms, host, initDecoderAndEncoder, sqErrPerBatch, type HostParams, type Params } from './common.js';
import type { Batch, LossContext, LossResult, Variant } from './variant.js';

export function gatedEncode(p: Params, x: E.Tensor, applyBDecToInput = true): { f: E.Tensor; pi: E.Tensor; mag: E.Tensor } {
  const xw = E.matmul(centre(x, p.b_dec!, applyBDecToInput), p.W_enc!);
  const pi = E.add(xw, p.b_gate!);
  const mag = E.add(E.mul(xw, E.exp(p.r_mag!)), p.b_mag!);
  const f = E.mul(E.heaviside(pi), E.relu(mag));
  return { f, pi, mag };
}

/** The three loss terms separately (tests check which parameters each one reaches). */
export function gatedLossParts(p: Params, x: E.Tensor, april: boolean): { f: E.Tensor; xHat: E.Tensor; mse: E.Tensor; sparsity: E.Tensor; aux: E.Tensor } {
  const { f, pi } = gatedEncode(p, x);
  const xHat = decode(p, f);
  const mse = sqErrPerBatch(x, xHat);
  const rpi = E.relu(pi);
  const B = x.shape[0]!;
  const sparsity = april ? E.div(E.sum(E.mul(rpi, decoderRowNorms(p.W_dec!))), B) : E.div(E.sum(rpi), B);
  const auxHat = E.add(E.matmul(rpi, E.stopGradient(p.W_dec!)), E.stopGradient(p.b_dec!));
  const aux = sqErrPerBatch(x, auxHat);
  return { f, xHat, mse, sparsity, aux };
}

/**
 * The equivalent JumpReLU SAE (METHODS §1.4): W_enc ⊙ exp(r_mag) columnwise, b_enc = b_mag,
 * θ = b_mag − exp(r_mag) ⊙ b_gate. Then mag = e^r ⊙ π + θ, so π > 0 ⟺ mag > θ and
 * gate ⊙ ReLU(mag) = ReLU(mag) ⊙ 1[mag > θ], SAELens' JumpReLU encoder (θ may be ≤ 0 here).
 */
export function gatedToJumpRelu(p: HostParams): HostParams {
  const W = p.W_enc!;
  const r = p.r_mag!.data;
  const [dIn, dSae] = W.shape as [number, number];
  const er = Float64Array.from(r, (v) => Math.exp(v));
  const wj = new Float32Array(W.data.length);
  for (let j = 0; j < dIn; j++) for (let i = 0; i < dSae; i++) wj[j * dSae + i] = W.data[j * dSae + i]! * er[i]!;
  const th = new Float32Array(dSae);
  for (let i = 0; i < dSae; i++) th[i] = p.b_mag!.data[i]! - er[i]! * p.b_gate!.data[i]!;
  return {
    W_enc: host([dIn, dSae], wj),
    b_enc: host([dSae], Float32Array.from(p.b_mag!.data)),
    threshold: host([dSae], th),
    W_dec: p.W_dec!,
    b_dec: p.b_dec!,
  };
}

export const gatedVariant: Variant = {
  name: 'gated',
  needsGrad: false,
  unitNormDecoder: (cfg: SaeTrainConfig) => !cfg.april,
  init(cfg, rng, bDec) {
    const { W_enc, W_dec } = initDecoderAndEncoder(cfg.dIn, cfg.dSae, rng, cfg.april ? cfg.aprilDecoderInitNorm : 1);
    const m = cfg.dSae;
    return { W_enc, b_gate: host([m]), r_mag: host([m]), b_mag: host([m]), W_dec, b_dec: bDec };
  },
  initBuffers: () => ({}),
  loss(p: Params, batch: Batch, ctx: LossContext): LossResult {
    const { f, xHat, mse, sparsity, aux } = gatedLossParts(p, batch.x, ctx.cfg.april);
    const l1 = E.mul(sparsity, ctx.coeff);
    const loss = E.add(E.add(mse, l1), aux);
    return { loss, parts: { mse_loss: mse, l1_loss: l1, auxiliary_reconstruction_loss: aux }, f, xHat, extra: {} };
  },
  updateBuffers: (b) => b,
  exportParams: (p) => ({ architecture: 'gated', params: p }),
};
