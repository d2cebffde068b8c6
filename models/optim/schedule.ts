/**
 * Learning-rate schedules and global-norm gradient clipping.
 */
import * as E from '../../engine/index.js';

export interface LrSchedule {
  /** Peak learning rate (reached at the end of warm-up). */
  lr: number;
  /** Linear warm-up steps (0: none). */
  warmupIters: number;
  /** Step at which the cosine reaches minLr (afterwards: minLr). Equal to warmupIters or less: constant. */
  decayIters: number;
  minLr: number;
  /** 'cosine' (nanoGPT's get_lr) or 'constant' after warm-up. */
  decay: 'cosine' | 'constant';
}

/**
 * The learning rate for the 0-based iteration `it`, as nanoGPT's `get_lr`:
 * warm-up `lr·(it+1)/(warmup+1)`, then cosine from lr down to minLr at `decayIters`, then minLr.
 */
export function learningRate(s: LrSchedule, it: number): number {
  if (it < s.warmupIters) return (s.lr * (it + 1)) / (s.warmupIters + 1);
  if (s.decay === 'constant') return s.lr;
  if (it > s.decayIters) return s.minLr;
  if (s.decayIters <= s.warmupIters) return s.lr;
  const ratio = (it - s.warmupIters) / (s.decayIters - s.warmupIters);
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio));
  return s.minLr + coeff * (s.lr - s.minLr);
}

export function validateSchedule(s: LrSchedule): void {
  if (!(s.lr > 0) || !Number.isFinite(s.lr)) throw new Error(`schedule: lr must be a positive number, got ${s.lr}`);
  if (!(s.minLr >= 0) || s.minLr > s.lr) throw new Error(`schedule: min lr must be in [0, lr = ${s.lr}], got ${s.minLr}`);
  if (!Number.isInteger(s.warmupIters) || s.warmupIters < 0) throw new Error(`schedule: warm-up iterations must be a non-negative integer, got ${s.warmupIters}`);
  if (!Number.isInteger(s.decayIters) || s.decayIters < 0) throw new Error(`schedule: decay iterations must be a non-negative integer, got ${s.decayIters}`);
  if (s.decay !== 'cosine' && s.decay !== 'constant') throw new Error(`schedule: decay must be 'cosine' or 'constant', got ${JSON.stringify(s.decay)}`);
}

/** The global L2 norm of a set of gradients, as a 0-d tensor. */
export function globalNorm(grads: Record<string, E.Tensor>): E.Tensor {
  let acc: E.Tensor | null = null;
  for (const g of Object.values(grads)) {
    const s = E.sum(E.mul(g, g));
    acc = acc ? E.add(acc, s) : s;
  }
  if (!acc) throw new Error('globalNorm: no gradients');
  return E.sqrt(acc);
}

/**
 * torch.nn.utils.clip_grad_norm_: scales every gradient by min(1, maxNorm / (norm + 1e-6)).
 * Returns the clipped gradients and the norm before clipping.
 */
export function clipByGlobalNorm(grads: Record<string, E.Tensor>, maxNorm: number): { grads: Record<string, E.Tensor>; norm: E.Tensor } {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: max norm must be positive, got ${maxNorm}`);
  const norm = globalNorm(grads);
  const coef = E.minimum(E.div(maxNorm, E.add(norm, 1e-6)), 1);
  const out: Record<string, E.Tensor> = {};
  for (const [k, g] of Object.entries(grads)) out[k] = E.mul(g, coef);
  return { grads: out, norm };
}
