/**
 * JumpReLU SAE (Rajamanoharan et al. 2024, arXiv 2407.14435; METHODS §1.5).
 *
 *   z = (x − b_dec) W_enc + b_enc,  θ = exp(log_threshold) > 0,  f = z ⊙ H(z − θ)
 *   loss = ||x − x̂||² + λ Σ_i H(z_i − θ_i)        (L0, mean over tokens)
 *
 * H has no useful derivative; straight-through pseudo-derivatives with the rectangle kernel
 * K(u) = 1[−½ < u < ½] of bandwidth ε give θ a gradient (the paper's eqs. 11–12):
 *   ∂/∂θ [z H(z − θ)] := −(θ/ε) K((z − θ)/ε),   ∂/∂z [z H(z − θ)] = H(z − θ)
 *   ∂/∂θ H(z − θ)     := −(1/ε) K((z − θ)/ε),    ∂/∂z H(z − θ) = 0
 * Inference (SAELens' JumpReLU): f = ReLU(z) ⊙ 1[z > θ], the same for θ > 0 and also right for
 * thresholds ≤ 0 coming from a Gated SAE export.
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import { decode, host, initDecoderAndEncoder, preActs, sqErrPerBatch, type HostParams, type Params } from './common.js';
import type { Batch, LossContext, LossResult, Variant } from './variant.js';

type Fn2 = (z: E.Tensor, theta: E.Tensor) => E.Tensor;

function rectangle(z: E.Tensor, theta: E.Tensor, eps: number): E.Tensor {
  const u = E.div(E.sub(z, theta), eps);
  return E.mul(E.greater(u, -0.5), E.less(u, 0.5));
}

const cache = new Map<number, { jump: Fn2; step: Fn2 }>();

/** The JumpReLU and Heaviside-step functions with STE pseudo-derivatives for bandwidth ε. */
export function jumpReluFns(eps: number): { jump: Fn2; step: Fn2 } {
  let fns = cache.get(eps);
  if (fns) return fns;
  const jump = E.customVjp(
    `jumprelu(eps=${eps})`,
    (z, theta) => E.mul(z, E.heaviside(E.sub(z!, theta!))),
    ({ inputs, cotangents, needsGrad }) => {
      const [z, theta] = inputs as [E.Tensor, E.Tensor];
      const g = cotangents[0]!;
      return [
        needsGrad[0] ? E.mul(g, E.heaviside(E.sub(z, theta))) : null,
        needsGrad[1] ? E.sumToShape(E.mul(g, E.mul(E.div(E.neg(theta), eps), rectangle(z, theta, eps))), theta.shape) : null,
      ];
    },
  ) as Fn2;
  const step = E.customVjp(
    `jumprelu_step(eps=${eps})`,
    (z, theta) => E.heaviside(E.sub(z!, theta!)),
    ({ inputs, cotangents, needsGrad }) => {
      const [z, theta] = inputs as [E.Tensor, E.Tensor];
      const g = cotangents[0]!;
      return [null, needsGrad[1] ? E.sumToShape(E.mul(g, E.mul(rectangle(z, theta, eps), -1 / eps)), theta.shape) : null];
    },
  ) as Fn2;
  fns = { jump, step };
  cache.set(eps, fns);
  return fns;
}

/** Inference encoder on SAELens-semantics weights (`threshold`, not its log). */
export function jumpReluEncode(p: Params, x: E.Tensor, applyBDecToInput = true): E.Tensor {
  const z = preActs(p, x, applyBDecToInput);
  return E.mul(E.relu(z), E.greater(z, p.threshold!));
}

export const jumpReluVariant: Variant = {
  name: 'jumprelu',
  needsGrad: false,
  // Unit-norm decoder rows as in the JumpReLU paper (following Bricken et al. 2023): the L0
  // penalty does not depend on scale, but fixing it keeps latents and thresholds comparable.
  unitNormDecoder: () => true,
  init(cfg, rng, bDec) {
    const { W_enc, W_dec } = initDecoderAndEncoder(cfg.dIn, cfg.dSae, rng);
    const logTh = new Float32Array(cfg.dSae).fill(Math.log(cfg.initThreshold));
    return { W_enc, b_enc: host([cfg.dSae]), log_threshold: host([cfg.dSae], logTh), W_dec, b_dec: bDec };
  },
  initBuffers: () => ({}),
  loss(p: Params, batch: Batch, ctx: LossContext): LossResult {
    const { jump, step } = jumpReluFns(ctx.cfg.bandwidth);
    const z = preActs(p, batch.x);
    const theta = E.exp(p.log_threshold!);
    const f = jump(z, theta);
    const xHat = decode(p, f);
    const mse = sqErrPerBatch(batch.x, xHat);
    const l0 = E.div(E.sum(step(z, theta)), batch.x.shape[0]!);
    const l0Loss = E.mul(l0, ctx.coeff);
    return { loss: E.add(mse, l0Loss), parts: { mse_loss: mse, l0_loss: l0Loss }, f, xHat, extra: {} };
  },
  updateBuffers: (b) => b,
  exportParams(p: HostParams, _b: HostParams, _cfg: SaeTrainConfig) {
    const { log_threshold, ...rest } = p;
    const th = Float32Array.from(log_threshold!.data, (v) => Math.exp(v));
    return { architecture: 'jumprelu', params: { ...rest, threshold: host([th.length], th) } };
  },
};
