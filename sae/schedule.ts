/**
 * Learning-rate and λ schedules (METHODS §2), as functions of the 1-based step t.
 *  - LR: linear warm-up over `lrWarmupSteps` (t / warmup), constant, then optional cosine or
 *    linear decay over the last `lrDecaySteps` steps (default: the last 20%) to lr·minLrFactor;
 *    after a neuron resampling at step r, multiplied by min(1, (t − r) / resampleWarmupSteps).
 *  - λ: linear warm-up over `lambdaWarmupSteps` (t / warmup).
 */
import type { SaeTrainConfig } from './config.js';

export function lrAt(cfg: SaeTrainConfig, t: number, lastResample = 0): number {
  let f = 1;
  if (cfg.lrWarmupSteps > 0) f = Math.min(1, t / cfg.lrWarmupSteps);
  if (cfg.lrDecay !== 'none') {
    const span = cfg.lrDecaySteps > 0 ? cfg.lrDecaySteps : Math.max(1, Math.round(0.2 * cfg.totalSteps));
    const start = cfg.totalSteps - span;
    if (t > start) {
      const frac = Math.min(1, (t - start) / span);
      const shape = cfg.lrDecay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * frac)) : 1 - frac;
      f *= cfg.minLrFactor + (1 - cfg.minLrFactor) * shape;
    }
  }
  if (lastResample > 0 && cfg.resampleWarmupSteps > 0) f *= Math.min(1, (t - lastResample) / cfg.resampleWarmupSteps);
  return cfg.lr * f;
}

export function lambdaAt(cfg: SaeTrainConfig, t: number): number {
  const w = cfg.lambdaWarmupSteps;
  return w > 0 ? cfg.l1Coefficient * Math.min(1, t / w) : cfg.l1Coefficient;
}
