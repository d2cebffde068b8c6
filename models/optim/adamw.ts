/**
 * AdamW with PyTorch's semantics (torch.optim.AdamW, single-tensor path of PyTorch 1.13):
 *
 *   p ← p · (1 − lr·wd)                      (decoupled decay, only on tensors chosen by `decays`)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε)
 *
 * The update is written in engine ops over a flat record of tensors so it can live inside an
 * `E.jit` step. Everything that changes from step to step (the learning rate and the bias
 * corrections) enters as 0-d tensors (`AdamWScalars`), so one compiled plan serves every step;
 * the betas and ε are constants of the plan.
 */
import * as E from '../../engine/index.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** Moment estimates, one pair per parameter (same names). */
export interface AdamWMoments {
  m: Record<string, E.Tensor>;
  v: Record<string, E.Tensor>;
}

/** The per-step scalars, as 0-d float32 tensors (build them with `adamwScalars`). */
export interface AdamWScalars {
  /** 1 − lr·wd */
  decay: E.Tensor;
  /** lr / (1 − β1^t) */
  stepSize: E.Tensor;
  /** sqrt(1 − β2^t) */
  bc2Sqrt: E.Tensor;
}

/** The default decay rule (nanoGPT's and the debug fixture's): decay tensors with 2+ dimensions. */
export const decayRank2 = (_name: string, t: E.Tensor): boolean => t.rank >= 2;

export function validateAdamW(cfg: AdamWConfig): void {
  if (!(cfg.beta1 >= 0 && cfg.beta1 < 1)) throw new Error(`AdamW: beta1 must be in [0, 1), got ${cfg.beta1}`);
  if (!(cfg.beta2 >= 0 && cfg.beta2 < 1)) throw new Error(`AdamW: beta2 must be in [0, 1), got ${cfg.beta2}`);
  if (!(cfg.eps > 0)) throw new Error(`AdamW: eps must be positive, got ${cfg.eps}`);
  if (!(cfg.weightDecay >= 0)) throw new Error(`AdamW: weight decay must be non-negative, got ${cfg.weightDecay}`);
}

/** Zero moments for `params`. */
export function adamwInit(params: Record<string, E.Tensor>): AdamWMoments {
  const m: Record<string, E.Tensor> = {};
  const v: Record<string, E.Tensor> = {};
  for (const [k, p] of Object.entries(params)) {
    m[k] = E.zerosLike(p);
    v[k] = E.zerosLike(p);
  }
  return { m, v };
}

/** Host-computed (float64, then rounded to float32 like PyTorch's scalar arguments) step scalars. */
export function adamwScalars(step: number, lr: number, cfg: AdamWConfig): AdamWScalars {
  if (!Number.isInteger(step) || step < 1) throw new Error(`AdamW: step must be an integer >= 1 (the 1-based count of updates), got ${step}`);
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`AdamW: learning rate must be a finite non-negative number, got ${lr}`);
  return {
    decay: E.scalar(1 - lr * cfg.weightDecay),
    stepSize: E.scalar(lr / (1 - cfg.beta1 ** step)),
    bc2Sqrt: E.scalar(Math.sqrt(1 - cfg.beta2 ** step)),
  };
}

/**
 * One AdamW update in ops. Returns new tensors (the inputs are left alone). `decays(name, p)`
 * chooses the tensors that get weight decay (default: 2+ dimensions).
 */
export function adamwUpdate(
  params: Record<string, E.Tensor>,
  grads: Record<string, E.Tensor>,
  moments: AdamWMoments,
  sc: AdamWScalars,
  cfg: AdamWConfig,
  decays: (name: string, p: E.Tensor) => boolean = decayRank2,
): { params: Record<string, E.Tensor> } & AdamWMoments {
  const out: Record<string, E.Tensor> = {};
  const m: Record<string, E.Tensor> = {};
  const v: Record<string, E.Tensor> = {};
  for (const [k, p0] of Object.entries(params)) {
    const g = grads[k];
    const m0 = moments.m[k];
    const v0 = moments.v[k];
    if (!g || !m0 || !v0) throw new Error(`AdamW: no ${!g ? 'gradient' : 'moment'} for parameter '${k}'`);
    const p = decays(k, p0) && cfg.weightDecay !== 0 ? E.mul(p0, sc.decay) : p0;
    const m1 = E.add(E.mul(m0, cfg.beta1), E.mul(g, 1 - cfg.beta1));
    const v1 = E.add(E.mul(v0, cfg.beta2), E.mul(E.mul(g, g), 1 - cfg.beta2));
    const denom = E.add(E.div(E.sqrt(v1), sc.bc2Sqrt), cfg.eps);
    out[k] = E.sub(p, E.mul(E.div(m1, denom), sc.stepSize));
    m[k] = m1;
    v[k] = v1;
  }
  return { params: out, m, v };
}
