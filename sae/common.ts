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
 * When the median is one of the rows, Weiszfeld only creeps towards it (sublinearly; e.g. the
 * origin among (0,0), (0,±5), (5,0)), so the row nearest to the last iterate is also tried and
 * returned when its sum of distances is no larger: O(n·d) more, for the exact answer.
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
  let nearest = 0;
  let best = Infinity;
  for (let r = 0; r < n; r++) {
    let t = 0;
    for (let j = 0; j < d; j++) t += (x[r * d + j]! - y[j]!) ** 2;
    if (t < best) [best, nearest] = [t, r];
  }
  const row = Float64Array.from(x.subarray(nearest * d, nearest * d + d));
  return sumOfDistances(x, n, d, row) <= sumOfDistances(x, n, d, y) ? row : y;
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

// ------------------------------------------------------------------ sparse TopK-family pieces

/**
 * The k-sparse code of a TopK-family SAE: latent indices idx [B, k] (int32) and their values
 * [B, k]. Training through it (cfg.sparseKernels) uses the sparse row primitives, so the decoder
 * and every gradient cost O(B·k·d) instead of O(B·m·d); only the ranking needs the dense z.
 */
export interface SparseCode {
  idx: E.Tensor;
  values: E.Tensor;
  /**
   * Rows B of the batch. Needed when idx is a vector of flat picks b·m + r (BatchTopK: a
   * variable number of latents per row, values [N]); [B, k] indices carry it in their shape.
   */
  batch?: number;
}

/** B of a sparse code (flat picks must name it). */
function batchOf(code: SparseCode): number {
  if (code.idx.rank === 2) return code.idx.shape[0]!;
  if (code.batch === undefined) throw new Error(`sparse code: flat picks ${JSON.stringify(code.idx.shape)} need the batch size`);
  return code.batch;
}

/**
 * z_idx = (x − b_dec) @ W_enc[:, idx] + b_enc[idx] with a hand-written VJP. The forward reads the
 * values from the dense z the ranking already computed (so they equal the dense path's bit for bit
 * and cost a gather); the VJP is that of gatherDot((x − b_dec), W_enc, idx, 'cols') +
 * gather(b_enc, idx), over the k picked latents only:
 *   h = Σ of the cotangents per latent ([d_sae], a scatterAdd) — b_enc's gradient;
 *   W_enc: scatterOuter(g, idx, x − b_dec);
 *   b_dec: −W_enc h (the batch sum of x's gradient, one pass over W_enc instead of an
 *          embeddingBag over W_enc's strided columns per row);
 *   x (only when it is differentiated): embeddingBag(g, idx, W_enc).
 * z itself gets no cotangent, so the dense matmul that made it has no backward.
 */
const pickedPreActs = E.customVjp(
  'pickedPreActs',
  (_x, _bDec, _W, _b, z, idx) => E.takeAlongAxis(z!, idx!, -1),
  (c) => {
    const [x, bDec, W, , , idx] = c.inputs as E.Tensor[];
    const g = c.cotangents[0]!;
    const [d, m] = W!.shape as [number, number];
    const n = idx!.size;
    const h = c.needsGrad[1] || c.needsGrad[3] ? E.scatterAdd(E.zeros([m], g.dtype), E.reshape(idx!, [n]), E.reshape(g, [n])) : null;
    return [
      c.needsGrad[0] ? E.embeddingBag(g, idx!, W!, 'cols') : null,
      c.needsGrad[1] ? E.neg(E.reshape(E.matmul(W!, E.reshape(h!, [m, 1])), [d])) : null,
      c.needsGrad[2] ? E.scatterOuter(g, idx!, E.sub(x!, bDec!), m, 'cols') : null,
      c.needsGrad[3] ? h : null,
      null,
      null,
    ];
  },
) as (x: E.Tensor, bDec: E.Tensor, W: E.Tensor, b: E.Tensor, z: E.Tensor, idx: E.Tensor) => E.Tensor;

/**
 * The pre-activations z = (x − b_dec) @ W_enc + b_enc at the picked latents only, [B, k].
 * Differentiable in W_enc, b_enc, b_dec (and x), with sparse gradients. `z` must be the dense
 * pre-activations of the same x (computed for the ranking): the values are read from it.
 * Without it they are recomputed from xc = x − b_dec with gatherDot (same VJP).
 */
export function preActsAt(p: Params, x: E.Tensor, idx: E.Tensor, z?: E.Tensor): E.Tensor {
  if (z) return pickedPreActs(x, p.b_dec!, p.W_enc!, p.b_enc!, z, idx);
  return E.add(E.gatherDot(centre(x, p.b_dec!), p.W_enc!, idx, 'cols'), E.gather(p.b_enc!, idx));
}

/** x̂ = f @ W_dec + b_dec for the k-sparse f given by (idx, values): an embeddingBag of decoder rows. */
export function decodeSparse(p: Params, code: SparseCode): E.Tensor {
  return E.add(E.embeddingBag(code.values, code.idx, p.W_dec!, 'rows'), p.b_dec!);
}

/** The dense f [B, m] of a sparse code (zeros elsewhere). */
export function densify(code: SparseCode, m: number): E.Tensor {
  const B = batchOf(code);
  if (code.idx.rank === 1) return E.reshape(E.scatterAdd(E.zeros([B * m], code.values.dtype), code.idx, code.values), [B, m]);
  return E.scatterAddAlongAxis(E.zeros([B, m], code.values.dtype), code.idx, code.values, -1);
}

/**
 * How a TopK-family SAE ranks its latents: the indices [B, k] of the k best latents of each row,
 * among those where `mask` [m] is 1 when given (AuxK's dead latents; −∞ elsewhere, as
 * `where(mask, score, −∞)` gives). A constant: no gradient flows through a selection.
 */
export type Ranker = (k: number, mask?: E.Tensor) => E.Tensor;

/** `score` with −∞ outside `mask` (when given): what a Ranker ranks under a mask. */
export function maskScores(score: E.Tensor, mask?: E.Tensor): E.Tensor {
  return mask ? E.where(mask, score, -Infinity) : score;
}

/** The Ranker of a dense score [B, m]: topk of the score (masked to −∞ outside `mask`). */
export function rankBy(score: E.Tensor): Ranker {
  return (k, mask) => E.topkIndices(maskScores(score, mask), k);
}

/**
 * AuxK (as `auxkLoss`) through the sparse kernels: the k_aux dead latents are ranked by the
 * dense `score` (a constant: only the ranking uses it), their values come from `valuesAt(idx)`
 * (recomputed at the picked latents, so the gradient is sparse) and ê is an embeddingBag of their
 * decoder rows. Same loss as `auxkLoss` with values = valuesAt over all latents.
 */
export function auxkLossSparse(p: Params, x: E.Tensor, xHat: E.Tensor, rank: Ranker, deadMask: E.Tensor, kAux: number, valuesAt: (idx: E.Tensor) => E.Tensor): E.Tensor {
  const e = E.stopGradient(E.sub(x, xHat));
  const idx = rank(kAux, deadMask);
  const picked = E.mul(E.relu(valuesAt(idx)), E.gather(deadMask, idx));
  return sqErrPerBatch(e, E.embeddingBag(picked, idx, p.W_dec!, 'rows'));
}

/**
 * Which latents fired anywhere in the batch ([d_sae], 1/0) and L0, from a sparse code without
 * materialising the dense f: a scatter of (value > 0) over the B·k picks.
 */
export function sparseFiringStats(code: SparseCode, m: number): { fired: E.Tensor; l0: E.Tensor } {
  const on = E.greater(code.values, 0);
  if (code.idx.rank === 1) {
    // flat picks: the per-latent count is scatterOuter against a column of ones ([m, 1])
    const B = batchOf(code);
    const hits = E.scatterOuter(on, code.idx, E.full([B, 1], 1, on.dtype), m, 'rows');
    return { fired: E.greater(E.reshape(hits, [m]), 0), l0: E.div(E.sum(on), B) };
  }
  const [B, k] = code.idx.shape as [number, number];
  const hits = E.scatterAdd(E.zeros([m], on.dtype), E.reshape(code.idx, [B * k]), E.reshape(on, [B * k]));
  return { fired: E.greater(hits, 0), l0: E.div(E.sum(on), B) };
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
  return { l0: E.div(E.sum(E.greater(f, 0)), B), explainedVariance: explainedVarianceOf(x, xHat) };
}

/** 1 − FVU of the batch. */
export function explainedVarianceOf(x: E.Tensor, xHat: E.Tensor): E.Tensor {
  const e = E.sub(x, xHat);
  const c = E.sub(x, E.mean(x, 0, true));
  const fvu = E.div(E.sum(E.mul(e, e)), E.maximum(E.sum(E.mul(c, c)), 1e-30));
  return E.sub(1, fvu);
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
