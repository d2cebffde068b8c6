/**
 * Pieces shared by the SAE variants (METHODS.md §1–§2).
 *
 * Parameter layout: SAELens names and orientations, also internally, so saving is a plain copy:
 *   W_enc [d_in, d_sae]   z = (x − b_dec) @ W_enc + b_enc
 *   W_dec [d_sae, d_in]   row i is latent i's decoder direction d_i;  x̂ = f @ W_dec + b_dec
 *   b_enc [d_sae], b_dec [d_in]
 * METHODS writes W_dec ∈ R^{d×m} with columns d_i; our rows are its columns, so "unit-norm
 * decoder columns" means unit-norm rows of W_dec here.
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';

export type Params = Record<string, E.Tensor>;

/** A host copy of a tensor (checkpoints, SAELens files, init). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
export type HostParams = Record<string, HostTensor>;

export const host = (shape: number[], data?: Float32Array): HostTensor => ({
  shape,
  data: data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)),
});

export function toDevice(p: HostParams, dtype: 'float32' | 'float64' = 'float32'): Params {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, E.tensor(v.data, v.shape, dtype)]));
}

export function toHost(p: Params): HostParams {
  return Object.fromEntries(
    Object.entries(p).map(([k, t]) => {
      const a = t.toArray();
      return [k, { shape: [...t.shape], data: a instanceof Float32Array ? a : Float32Array.from(a) }];
    }),
  );
}

// ------------------------------------------------------------------ init

/**
 * Decoder rows: Gaussian directions scaled to norm `rowNorm` (1 for the unit-norm variants);
 * the encoder starts as the decoder's transpose (METHODS §1.2; not tied afterwards).
 */
export function initDecoderAndEncoder(dIn: number, dSae: number, rng: E.Rng, rowNorm = 1): { W_dec: HostTensor; W_enc: HostTensor } {
  const dec = new Float32Array(dSae * dIn);
  const row = new Float64Array(dIn);
  for (let i = 0; i < dSae; i++) {
    let ss = 0;
    for (let j = 0; j < dIn; j++) {
      row[j] = rng.normal();
      ss += row[j]! * row[j]!;
    }
    const s = rowNorm / Math.sqrt(ss);
    for (let j = 0; j < dIn; j++) dec[i * dIn + j] = row[j]! * s;
  }
  const enc = new Float32Array(dIn * dSae);
  for (let i = 0; i < dSae; i++) for (let j = 0; j < dIn; j++) enc[j * dSae + i] = dec[i * dIn + j]!;
  return { W_dec: host([dSae, dIn], dec), W_enc: host([dIn, dSae], enc) };
}

/** Mean of the rows of x [n, d], in float64. */
export function rowMean(x: Float32Array, n: number, d: number): Float64Array {
  const m = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) m[j] = m[j]! + x[r * d + j]!;
  for (let j = 0; j < d; j++) m[j] = m[j]! / n;
  return m;
}

/**
 * Geometric median of the rows of x [n, d] by Weiszfeld's iteration (float64), started at the
 * mean; a point that coincides with a row is nudged by `eps` in the weights, as is usual.
 */
export function geometricMedian(x: Float32Array, n: number, d: number, maxIter = 100, tol = 1e-7, eps = 1e-12): Float64Array {
  let y = rowMean(x, n, d);
  for (let it = 0; it < maxIter; it++) {
    const next = new Float64Array(d);
    let wsum = 0;
    for (let r = 0; r < n; r++) {
      let dist = 0;
      for (let j = 0; j < d; j++) {
        const t = x[r * d + j]! - y[j]!;
        dist += t * t;
      }
      const w = 1 / Math.max(Math.sqrt(dist), eps);
      wsum += w;
      for (let j = 0; j < d; j++) next[j] = next[j]! + w * x[r * d + j]!;
    }
    let move = 0;
    let norm = 0;
    for (let j = 0; j < d; j++) {
      next[j] = next[j]! / wsum;
      move += (next[j]! - y[j]!) ** 2;
      norm += next[j]! ** 2;
    }
    y = next;
    if (Math.sqrt(move) <= tol * Math.max(1, Math.sqrt(norm))) break;
  }
  return y;
}

/** Sum over rows of ||x_r − p||, the quantity the geometric median minimises (tests use it). */
export function sumOfDistances(x: Float32Array, n: number, d: number, p: ArrayLike<number>): number {
  let s = 0;
  for (let r = 0; r < n; r++) {
    let t = 0;
    for (let j = 0; j < d; j++) t += (x[r * d + j]! - p[j]!) ** 2;
    s += Math.sqrt(t);
  }
  return s;
}

export function initBDec(cfg: SaeTrainConfig, sample: Float32Array, n: number): HostTensor {
  const d = cfg.dIn;
  if (cfg.bDecInit === 'zeros' || n === 0) return host([d]);
  const v = cfg.bDecInit === 'mean' ? rowMean(sample, n, d) : geometricMedian(sample, n, d);
  return host([d], Float32Array.from(v));
}

/**
 * The input normalisation factor c with E||c·x||² = d (METHODS §2), estimated from a sample.
 * The SAE trains on c·x (and on g / c, the gradient with respect to c·x); `foldScale` moves c
 * into the weights so a saved SAE works on raw activations.
 */
export function normalisationScale(sample: Float32Array, n: number, d: number): number {
  let ss = 0;
  for (let i = 0; i < n * d; i++) ss += sample[i]! * sample[i]!;
  const meanSq = ss / n;
  if (!(meanSq > 0)) throw new Error(`input normalisation: the ${n} sample rows are all zero; cannot scale them to E||x||² = d`);
  return Math.sqrt(d / meanSq);
}

// ------------------------------------------------------------------ shared forward pieces

/** (x − b_dec) when the SAE subtracts b_dec on input (always, when trained here). */
export function centre(x: E.Tensor, bDec: E.Tensor, applyBDecToInput = true): E.Tensor {
  return applyBDecToInput ? E.sub(x, bDec) : x;
}

/** z = (x − b_dec) @ W_enc + b_enc. */
export function preActs(p: Params, x: E.Tensor, applyBDecToInput = true): E.Tensor {
  return E.add(E.matmul(centre(x, p.b_dec!, applyBDecToInput), p.W_enc!), p.b_enc!);
}

/** x̂ = f @ W_dec + b_dec. */
export function decode(p: Params, f: E.Tensor): E.Tensor {
  return E.add(E.matmul(f, p.W_dec!), p.b_dec!);
}

/** mean over the batch of ||x − x̂||² (SAELens' mse_loss: sum over d, mean over tokens). */
export function sqErrPerBatch(x: E.Tensor, xHat: E.Tensor): E.Tensor {
  const e = E.sub(x, xHat);
  return E.div(E.sum(E.mul(e, e)), x.shape[0]!);
}

/** ||d_i|| for every decoder row, [d_sae]. */
export function decoderRowNorms(W_dec: E.Tensor): E.Tensor {
  return E.sqrt(E.sum(E.mul(W_dec, W_dec), 1));
}

/**
 * Removes from each decoder row's gradient its component along the row (the row is unit norm),
 * so the step moves along the sphere; the renormalisation after the step fixes the rest.
 */
export function removeParallelGrad(W_dec: E.Tensor, gW: E.Tensor): E.Tensor {
  const par = E.sum(E.mul(gW, W_dec), 1, true);
  return E.sub(gW, E.mul(par, W_dec));
}

/** Rows scaled back to unit norm (a zero row would stay zero rather than become NaN). */
export function normaliseRows(W_dec: E.Tensor): E.Tensor {
  const n = E.sqrt(E.sum(E.mul(W_dec, W_dec), 1, true));
  return E.div(W_dec, E.maximum(n, 1e-30));
}

/**
 * TopK by a score, values from `values` (z for TopK; z or s for g-SAE), then ReLU:
 * f_i = ReLU(values_i) for i in TopK_k(score), else 0. The index selection passes no gradient;
 * `takeAlongAxis` carries it to the kept entries only. Ties go to the lower index.
 */
export function keepTopkBy(score: E.Tensor, values: E.Tensor, k: number): E.Tensor {
  const idx = E.topkIndices(score, k);
  return E.scatterAddAlongAxis(E.zerosLike(values), idx, E.relu(E.takeAlongAxis(values, idx, -1)), -1);
}

/**
 * AuxK (Gao et al. 2024; METHODS §1.2): with the residual e = sg(x − x̂), take the k_aux largest
 * `score` entries among dead latents only, f_aux = ReLU(values) there, ê = f_aux @ W_dec (no
 * bias), and return mean over the batch of ||e − ê||². Alive latents are masked to −∞ before the
 * ranking and their picked values (when fewer than k_aux latents are dead) multiplied by 0, so
 * nothing alive is read. ReLU matches the main path's f (a negative pre-activation cannot
 * reconstruct anything a ReLU latent could).
 */
export function auxkLoss(p: Params, x: E.Tensor, xHat: E.Tensor, score: E.Tensor, values: E.Tensor, deadMask: E.Tensor, kAux: number): E.Tensor {
  const e = E.stopGradient(E.sub(x, xHat));
  const masked = E.where(deadMask, score, -Infinity);
  const idx = E.topkIndices(masked, kAux);
  const deadB = E.broadcastTo(deadMask, values.shape);
  const picked = E.mul(E.relu(E.takeAlongAxis(values, idx, -1)), E.takeAlongAxis(deadB, idx, -1));
  const fAux = E.scatterAddAlongAxis(E.zerosLike(values), idx, picked, -1);
  const eHat = E.matmul(fAux, p.W_dec!);
  return sqErrPerBatch(e, eHat);
}

/**
 * 1 where a latent fired (f > 0) anywhere in the batch, [d_sae]. "Fired" is f > 0 for every
 * variant (METHODS §2): ReLU, TopK, BatchTopK, JumpReLU and Gated all output exactly 0 when a
 * latent is off, so no extra threshold is needed.
 */
export function firedAny(f: E.Tensor): E.Tensor {
  return E.max(E.greater(f, 0), 0);
}

/**
 * Dead tracking in tokens: tokens since each latent last fired, clamped at `deadTokens` (float32
 * counters stay exact integers that way). A latent is dead when its count reaches deadTokens.
 */
export function updateSinceFired(since: E.Tensor, fired: E.Tensor, batchRows: number, deadTokens: number): E.Tensor {
  return E.where(fired, 0, E.minimum(E.add(since, batchRows), deadTokens));
}

export function deadMaskOf(since: E.Tensor, deadTokens: number): E.Tensor {
  return E.greaterEqual(since, deadTokens);
}

/** Metrics every variant reports: L0 and explained variance of the batch (METHODS §3 form). */
export function batchMetrics(x: E.Tensor, xHat: E.Tensor, f: E.Tensor): { l0: E.Tensor; explainedVariance: E.Tensor } {
  const B = x.shape[0]!;
  const l0 = E.div(E.sum(E.greater(f, 0)), B);
  const e = E.sub(x, xHat);
  const c = E.sub(x, E.mean(x, 0, true));
  const fvu = E.div(E.sum(E.mul(e, e)), E.maximum(E.sum(E.mul(c, c)), 1e-30));
  return { l0, explainedVariance: E.sub(1, fvu) };
}

// ------------------------------------------------------------------ normalisation folding

/**
 * Folds the input scale c into SAELens-semantics weights (x_train = c·x_raw):
 * W_enc ← c·W_enc, W_dec ← W_dec / c, b_dec ← b_dec / c; b_enc, gates, r_mag, thresholds are
 * unchanged (pre-activations are identical). The g-SAE's a = W_decᵀ g is also unchanged because
 * the trainer feeds g / c, the gradient with respect to c·x.
 */
export function foldScale(p: HostParams, c: number): HostParams {
  if (c === 1) return p;
  const scale = (t: HostTensor, s: number): HostTensor => ({ shape: t.shape, data: t.data.map((v) => v * s) });
  const out: HostParams = { ...p };
  if (p.W_enc) out.W_enc = scale(p.W_enc, c);
  if (p.W_dec) out.W_dec = scale(p.W_dec, 1 / c);
  if (p.b_dec) out.b_dec = scale(p.b_dec, 1 / c);
  return out;
}
