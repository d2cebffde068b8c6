/**
 * The SAE training step as one function for E.jit (trainer.ts compiles it once per signature):
 *   x ← c·x, g ← g/c (input normalisation, c fixed at init)
 *   loss, grads ← valueAndGrad(variant.loss)      (AuxK only when some latent is dead)
 *   unit-norm variants: remove each decoder row's gradient component along the row
 *   Adam update; unit-norm variants: renormalise decoder rows
 *   dead counters (tokens since each latent fired) and variant buffers updated
 *   the batch's metrics, and one scalar that is finite iff the loss and new parameters are
 * The host computes the step's scalars (LR and λ schedules, Adam bias corrections) in float64
 * and passes them as 0-d tensors, so one plan serves every step.
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import { batchMetrics, deadMaskOf, explainedVarianceOf, firedAny, normaliseRows, removeParallelGrad, sparseFiringStats, updateSinceFired, type Params } from './common.js';
import { adamUpdate, type AdamState } from './adam.js';
import { sparseCodeOf } from './topk.js';
import type { Variant } from './variant.js';

/** The buffer holding each latent's tokens since it last fired (every variant has it). */
export const SINCE = 'since_fired';

/** What E.jit adds to a compiled function. */
export interface CompiledExtras {
  cacheSize(): number;
  dispose(): void;
}

export interface StepScalars {
  stepSize: E.Tensor;
  sqrtBc2: E.Tensor;
  decay: E.Tensor;
  coeff: E.Tensor;
  tau: E.Tensor;
}

export interface StepOut {
  params: Params;
  opt: AdamState;
  buffers: Params;
  metrics: Record<string, E.Tensor>;
  /** Σ 0·v over the loss and every new parameter: exactly 0 unless one holds NaN or ±Inf. */
  nonFinite: E.Tensor;
}

export type StepFn = ((params: Params, opt: AdamState, buffers: Params, xRaw: E.Tensor, gRaw: E.Tensor | null, sc: StepScalars, anyDead: boolean) => StepOut) & CompiledExtras;

export const scalar32 = (v: number): E.Tensor => E.tensor(new Float32Array([v]), []);

/** Disposes the tensors of `old` that are not carried over into `next` (jit may pass some through). */
export function disposeReplaced(old: unknown, next: unknown): void {
  const keepSet = new Set(E.tensorLeaves(next));
  for (const t of E.tensorLeaves(old)) if (!keepSet.has(t)) t.dispose();
}

/** The compiled step for `variant` under `cfg`, on inputs scaled by `scale`. */
export function makeStepFn(cfg: SaeTrainConfig, variant: Variant, scale: number): StepFn {
  return E.jit(stepBody(cfg, variant, scale)) as unknown as StepFn;
}

function stepBody(cfg: SaeTrainConfig, variant: Variant, scale: number) {
  const unit = variant.unitNormDecoder(cfg);
  return (params: Params, opt: AdamState, buffers: Params, xRaw: E.Tensor, gRaw: E.Tensor | null, sc: StepScalars, anyDead: boolean): StepOut => {
    const x = scale === 1 ? xRaw : E.mul(xRaw, scale);
    const g = gRaw === null ? null : scale === 1 ? gRaw : E.mul(gRaw, 1 / scale);
    const B = x.shape[0]!;
    const deadMask = anyDead ? deadMaskOf(buffers[SINCE]!, cfg.deadTokens) : null;
    const lossFn = (p: Params) => {
      const r = variant.loss(p, { x, g }, { cfg, coeff: sc.coeff, deadMask });
      return [r.loss, r] as const;
    };
    const [[loss, res], grads0] = E.valueAndGrad(lossFn, { hasAux: true })(params) as [[E.Tensor, ReturnType<Variant['loss']>], Params];
    const grads = unit ? { ...grads0, W_dec: removeParallelGrad(params.W_dec!, grads0.W_dec!) } : grads0;
    const up = adamUpdate(params, grads, opt, sc, cfg);
    const newParams = unit ? { ...up.params, W_dec: normaliseRows(up.params.W_dec!) } : up.params;
    // firing statistics from the sparse code when there is one (no dense [B, m] f is built)
    const code = sparseCodeOf(res);
    const stats = code ? sparseFiringStats(code, cfg.dSae) : null;
    const since = updateSinceFired(buffers[SINCE]!, stats ? stats.fired : firedAny(res.f), B, cfg.deadTokens);
    const { [SINCE]: _old, ...vbuf } = buffers;
    const newBuffers = { ...variant.updateBuffers(vbuf, res, sc.tau), [SINCE]: since };
    const { l0, explainedVariance } = stats ? { l0: stats.l0, explainedVariance: explainedVarianceOf(x, res.xHat) } : batchMetrics(x, res.xHat, res.f);
    const metrics: Record<string, E.Tensor> = { 'losses/overall_loss': loss };
    for (const [k, v] of Object.entries(res.parts)) metrics[`losses/${k}`] = v;
    metrics['metrics/l0'] = l0;
    metrics['metrics/explained_variance'] = explainedVariance;
    metrics['sparsity/dead_features'] = E.sum(deadMaskOf(since, cfg.deadTokens));
    // 0·v is 0 for finite v and NaN for NaN/±Inf, so this sum cannot overflow or cancel.
    const nonFinite = Object.values(newParams).reduce((acc, p) => E.add(acc, E.sum(E.mul(p, 0))), E.mul(loss, 0));
    return { params: newParams, opt: up.state, buffers: newBuffers, metrics, nonFinite };
  };
}
