/**
 * Adam with PyTorch's semantics (torch.optim.Adam, foreach=False): per parameter
 *   m ← m + (1 − β1)(g − m)          (torch's lerp)
 *   v ← β2 v + (1 − β2) g²
 *   p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε)
 * and, when weightDecay > 0, AdamW's decoupled decay p ← p (1 − lr·wd) before the update.
 * The per-step scalars are computed on the host in float64 (as PyTorch does in Python) and
 * passed in as 0-d tensors, so one compiled step serves every step number.
 */
import * as E from '../engine/index.js';
import type { Params } from './common.js';

export interface AdamHyper {
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  weightDecay: number;
}

export interface AdamState {
  m: Params;
  v: Params;
}

/** The step-dependent scalars for step t (1-based) at learning rate lr. */
export function adamScalars(lr: number, t: number, h: AdamHyper): { stepSize: number; sqrtBc2: number; decay: number } {
  const bc1 = 1 - h.adamBeta1 ** t;
  const bc2 = 1 - h.adamBeta2 ** t;
  return { stepSize: lr / bc1, sqrtBc2: Math.sqrt(bc2), decay: 1 - lr * h.weightDecay };
}

/**
 * One Adam step for every parameter, each tensor in one pass of the fused `adamStep` primitive
 * (bit-identical to the ~13-pass composite of elementwise ops in the file comment's formulas,
 * which test/sae/sparse_path.test.ts keeps as its oracle; ~5× less memory traffic on large matrices).
 */
export function adamUpdate(
  params: Params,
  grads: Params,
  state: AdamState,
  sc: { stepSize: E.Tensor; sqrtBc2: E.Tensor; decay: E.Tensor },
  h: AdamHyper,
): { params: Params; state: AdamState } {
  const out: Params = {};
  const m: Params = {};
  const v: Params = {};
  const hyper = { beta1: h.adamBeta1, beta2: h.adamBeta2, eps: h.adamEps, decoupledDecay: h.weightDecay > 0 };
  for (const name of Object.keys(params)) {
    const g = grads[name];
    if (!g) throw new Error(`adam: no gradient for parameter '${name}'`);
    const r = E.adamStep(params[name]!, g, state.m[name]!, state.v[name]!, sc, hyper);
    out[name] = r.p;
    m[name] = r.m;
    v[name] = r.v;
  }
  return { params: out, state: { m, v } };
}
