/**
 * Composite layers built from primitives (their gradients come from the primitives' VJPs):
 * mean, variance, logsumexp, softmax, logSoftmax, layerNorm, crossEntropy, causal masking, erf and
 * the exact (erf) GELU.
 * A fused kernel may replace one of these only where measured to pay, checked against this.
 */
import { ShapeError, fmtShape } from '../errors.js';
import { normAxes, normAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { abs, add, div, equal, exp, greaterEqual, log, mul, neg, rsqrt, sign, sub, where } from '../ops/elementwise.js';
import { customVjp } from '../autodiff.js';
import { max, sum } from '../ops/reduce.js';
import { reshape } from '../ops/movement.js';
import { arange, stopGradient } from '../ops/create.js';
import { takeAlongAxis } from '../ops/indexing.js';
import { requireInt } from '../ops/util.js';

export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = normAxes('mean', axes, x.rank);
  const n = ax.reduce((p, a) => p * x.shape[a]!, 1);
  return div(sum(x, ax, keepdims), n);
}

/** Biased variance (divides by n), as LayerNorm uses. */
export function variance(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const d = sub(x, mean(x, axes, true));
  return mean(mul(d, d), axes, keepdims);
}

/** log Σ exp, stabilised by the (gradient-free) maximum. */
export function logsumexp(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = normAxes('logsumexp', axes, x.rank);
  const mx = stopGradient(max(x, ax, true));
  // A row whose maximum is ±Infinity (e.g. fully masked) would compute inf − inf = NaN; shifting
  // it by 0 instead gives ±Infinity, as PyTorch does.
  const m = where(equal(abs(mx), Infinity), 0, mx);
  const s = log(sum(exp(sub(x, m)), ax, true));
  const r = add(s, m);
  return keepdims ? r : reshape(r, x.shape.filter((_, i) => !ax.includes(i)));
}

export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('softmax', axis, x.rank);
  const e = exp(sub(x, stopGradient(max(x, a, true))));
  return div(e, sum(e, a, true));
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('logSoftmax', axis, x.rank);
  return sub(x, logsumexp(x, a, true));
}

/** LayerNorm over the last axis: (x − μ)/sqrt(σ² + eps) · weight + bias. */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const c = x.shape[x.rank - 1]!;
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && (p.rank !== 1 || p.shape[0] !== c)) throw new ShapeError(`layerNorm: ${name} ${fmtShape(p.shape)} must be [${c}] for input ${fmtShape(x.shape)}`);
  }
  const mu = mean(x, -1, true);
  const d = sub(x, mu);
  const v = mean(mul(d, d), -1, true);
  let y = mul(d, rsqrt(add(v, eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

export type Reduction = 'mean' | 'sum' | 'none';

/**
 * Cross-entropy of logits [..., V] against int32 targets [...] (PyTorch's F.cross_entropy with
 * class indices). Targets out of range throw.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, reduction: Reduction = 'mean'): Tensor {
  requireInt('crossEntropy', targets, 'targets');
  if (targets.rank !== logits.rank - 1 || targets.shape.some((d, i) => d !== logits.shape[i])) {
    throw new ShapeError(`crossEntropy: targets ${fmtShape(targets.shape)} must match logits ${fmtShape(logits.shape)} without its last axis`);
  }
  const lse = logsumexp(logits, -1, true);
  const picked = takeAlongAxis(logits, reshape(targets, [...targets.shape, 1]), -1);
  const nll = reshape(sub(lse, picked), targets.shape);
  if (reduction === 'none') return nll;
  return reduction === 'sum' ? sum(nll) : mean(nll);
}

/**
 * Causal masking of attention scores [..., T, S] (S ≥ T, queries aligned to the last T keys):
 * entries with key position > query position become -Infinity, so softmax gives them exactly 0.
 */
export function causalMask(scores: Tensor): Tensor {
  if (scores.rank < 2) throw new ShapeError(`causalMask: scores must be [..., T, S], got ${fmtShape(scores.shape)}`);
  const T = scores.shape[scores.rank - 2]!;
  const S = scores.shape[scores.rank - 1]!;
  if (S < T) throw new ShapeError(`causalMask: scores ${fmtShape(scores.shape)} have fewer keys (${S}) than queries (${T})`);
  const q = reshape(arange(S - T, S), [T, 1]);
  const k = reshape(arange(0, S), [1, S]);
  const allowed = greaterEqual(q, k);
  return where(allowed, scores, -Infinity);
}

/**
 * erf(x) from Numerical Recipes' Chebyshev fit of erfc (fractional error < 1.2e-7 for every x,
 * i.e. float32 precision): erf(x) = sign(x)·(1 − t·exp(−z² + P(t))), z = |x|, t = 1/(1 + z/2).
 * Built from primitives (no erf kernel exists on any backend); its VJP is the exact derivative
 * 2/√π·exp(−x²) rather than the derivative of the fit (which would also be wrong at x = 0, where
 * |x| has no gradient).
 */
const ERFC_COEFFS = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
const erfForward = (x: Tensor): Tensor => {
  const z = abs(x);
  const t = div(1, add(mul(z, 0.5), 1));
  let p: Tensor = mul(t, ERFC_COEFFS[9]!);
  for (let i = 8; i >= 1; i--) p = mul(t, add(p, ERFC_COEFFS[i]!));
  const erfc = mul(t, exp(add(sub(neg(mul(z, z)), -ERFC_COEFFS[0]!), p)));
  return mul(sign(x), sub(1, erfc));
};
const erfImpl = customVjp('erf', (x) => erfForward(x!), (c) => [mul(c.cotangents[0]!, mul(exp(neg(mul(c.inputs[0]!, c.inputs[0]!))), 2 / Math.sqrt(Math.PI)))]);
export const erf = (x: Tensor): Tensor => erfImpl(x) as Tensor;

/** The exact GELU, x·Φ(x) = ½·x·(1 + erf(x/√2)) (PyTorch's `nn.GELU()`, HF's 'gelu'). */
export function geluErf(x: Tensor): Tensor {
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}
