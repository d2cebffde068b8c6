/**
 * Sparse row primitives for k-sparse codes (TopK-family SAEs): a batch of B rows, each naming k
 * rows of a weight matrix W by index. With k ≪ m these replace dense [B, m] matmuls whose left or
 * right operand is zero except at the k picked latents, so the cost is O(B·k·d) instead of O(B·m·d).
 *
 * W is a table of m vectors of length d, stored either as rows (`layout: 'rows'`, W [m, d], like
 * the SAE decoder W_dec) or as columns (`layout: 'cols'`, W [d, m], like the SAELens encoder W_enc;
 * then row r below means column r). With idx [B, k] int32 (repeats allowed: they accumulate):
 *
 *   gatherDot(a [B, d], W, idx)        → [B, k]:  out[b, j] = a[b] · W_{idx[b, j]}
 *   embeddingBag(v [B, k], idx, W)     → [B, d]:  out[b]    = Σ_j v[b, j] · W_{idx[b, j]}
 *   scatterOuter(v [B, k], idx, a [B, d], m) → W-shaped:  out_r = Σ_{(b, j): idx[b, j] = r} v[b, j] · a[b]
 *
 * They are closed under differentiation (each VJP is the other two), so a sparse forward has a
 * sparse backward of the same cost:
 *   gatherDot:    da = embeddingBag(g, idx, W),   dW = scatterOuter(g, idx, a)
 *   embeddingBag: dv = gatherDot(dy, W, idx),     dW = scatterOuter(v, idx, dy)
 *   scatterOuter: dv = gatherDot(a, dOut, idx),   da = embeddingBag(v, idx, dOut)
 * Indices carry no gradient. Out-of-range indices are errors naming the op (kernels check them).
 *
 * Flat picks (a variable number per row, as BatchTopK's batch-level selection gives): idx may
 * instead be a vector [N] of flat positions q = b·m + r into the [B, m] grid (row b, latent r;
 * any order, repeats accumulate), with values [N]. The formulas above hold with (b, j) replaced
 * by the pick q: out[q] = a[b] · W_r, out[b] = Σ_{q in row b} v[q] W_r, out_r = Σ_{q at r} v[q] a[b].
 * embeddingBag then needs the number of rows B (`batch`), which the other two read from a. The
 * VJP algebra is the same three identities with the same idx, so it stays closed.
 */
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { registerOp, type TensorMeta } from './registry.js';
import { requireArity, requireFloat, requireInt, run1 } from './util.js';

export type SparseLayout = 'rows' | 'cols';

export interface SparseAttrs {
  readonly [key: string]: unknown;
  readonly layout: SparseLayout;
}

export interface ScatterOuterAttrs extends SparseAttrs {
  readonly m: number;
}

function checkLayout(op: string, layout: unknown): SparseLayout {
  if (layout !== 'rows' && layout !== 'cols') throw new ShapeError(`${op}: layout must be 'rows' (W [m, d]) or 'cols' (W [d, m]), got ${JSON.stringify(layout)}`);
  return layout;
}

/** [m, d] of a table W in `layout`, validated. */
function tableDims(op: string, w: TensorMeta, layout: SparseLayout): { m: number; d: number } {
  if (w.shape.length !== 2) throw new ShapeError(`${op}: W must be a matrix (${layout === 'rows' ? '[m, d]' : '[d, m]'}), got ${fmtShape(w.shape)}`);
  return layout === 'rows' ? { m: w.shape[0]!, d: w.shape[1]! } : { m: w.shape[1]!, d: w.shape[0]! };
}

/**
 * idx int32, either [B, k] (k picks per row) or [N] (flat picks q = b·m + r; B comes from the
 * caller). `flat` says which; `n` is the number of picks (the values' length).
 */
function checkIdx(op: string, idx: TensorMeta): { B: number; k: number; flat: boolean; n: number } {
  requireInt(op, idx);
  if (idx.shape.length === 1) return { B: -1, k: -1, flat: true, n: idx.shape[0]! };
  if (idx.shape.length !== 2) throw new ShapeError(`${op}: indices must be [batch, k] (k picks per row) or [n] (flat picks b·m + r), got ${fmtShape(idx.shape)}`);
  return { B: idx.shape[0]!, k: idx.shape[1]!, flat: false, n: idx.shape[0]! * idx.shape[1]! };
}

/** Flat picks address a [B, m] grid with int32 positions: B·m must fit. */
function checkFlatGrid(op: string, B: number, m: number): void {
  if (B * m > 2 ** 31 - 1) throw new ShapeError(`${op}: flat picks into a [${B}, ${m}] grid overflow int32 positions (B·m = ${B * m})`);
}

function checkMatrix(op: string, what: string, t: TensorMeta, want: readonly number[]): void {
  requireFloat(op, t, what);
  if (t.shape.length !== want.length || want.some((n, i) => t.shape[i] !== n)) {
    throw new ShapeError(`${op}: ${what} ${fmtShape(t.shape)} must be ${fmtShape(want)}`);
  }
}

function sameDtype(op: string, ...ts: TensorMeta[]): void {
  const d = ts[0]!.dtype;
  for (const t of ts) if (t.dtype !== d) throw new DTypeError(`${op}: float operands must share one dtype, got ${ts.map((x) => x.dtype).join(', ')}`);
}

registerOp<SparseAttrs>({
  name: 'gatherDot',
  infer(inputs, attrs) {
    requireArity('gatherDot', inputs, 3);
    const [a, w, idx] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    const layout = checkLayout('gatherDot', attrs.layout);
    const { B, k, flat, n } = checkIdx('gatherDot', idx);
    requireFloat('gatherDot', w, 'W');
    const { d, m } = tableDims('gatherDot', w, layout);
    if (flat) {
      requireFloat('gatherDot', a, 'a');
      if (a.shape.length !== 2 || a.shape[1] !== d) throw new ShapeError(`gatherDot: a ${fmtShape(a.shape)} must be [batch, ${d}]`);
      checkFlatGrid('gatherDot', a.shape[0]!, m);
    } else checkMatrix('gatherDot', 'a', a, [B, d]);
    sameDtype('gatherDot', a, w);
    return [{ shape: flat ? [n] : [B, k], dtype: a.dtype }];
  },
  vjp: (c) => {
    const [a, w, idx] = c.inputs as [Tensor, Tensor, Tensor];
    const g = c.cotangents[0]!;
    const { layout } = c.attrs;
    return [
      c.needsGrad[0] ? embeddingBag(g, idx, w, layout, idx.rank === 1 ? a.shape[0] : undefined) : null,
      c.needsGrad[1] ? scatterOuter(g, idx, a, tableDims('gatherDot', w, layout).m, layout) : null,
      null,
    ];
  },
});

/**
 * `out[b, j] = a[b] · W_{idx[b, j]}` — the entries of `a @ Wᵀ` (rows) or `a @ W` (cols) at the
 * picked positions only: a [B, d], idx [B, k] int32 → [B, k]; or flat picks idx [N] → [N].
 */
export function gatherDot(a: Tensor, w: Tensor, indices: Tensor, layout: SparseLayout = 'rows'): Tensor {
  return run1('gatherDot', [a, w, indices], { layout });
}

export interface EmbeddingBagAttrs extends SparseAttrs {
  /** rows of the output; required with flat picks, else absent or idx's first dimension */
  readonly batch?: number;
}

registerOp<EmbeddingBagAttrs>({
  name: 'embeddingBag',
  infer(inputs, attrs) {
    requireArity('embeddingBag', inputs, 3);
    const [v, idx, w] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    const layout = checkLayout('embeddingBag', attrs.layout);
    const { B: Bk, k, flat, n } = checkIdx('embeddingBag', idx);
    requireFloat('embeddingBag', w, 'W');
    const { d, m } = tableDims('embeddingBag', w, layout);
    const batch = attrs.batch;
    if (batch !== undefined && (!Number.isInteger(batch) || batch < 0)) throw new ShapeError(`embeddingBag: batch = ${String(batch)} must be a non-negative integer`);
    let B = Bk;
    if (flat) {
      if (batch === undefined) throw new ShapeError(`embeddingBag: flat picks ${fmtShape(idx.shape)} need the number of output rows (batch)`);
      B = batch;
      checkFlatGrid('embeddingBag', B, m);
      checkMatrix('embeddingBag', 'values', v, [n]);
    } else {
      if (batch !== undefined && batch !== Bk) throw new ShapeError(`embeddingBag: batch = ${batch} but indices ${fmtShape(idx.shape)} have ${Bk} rows`);
      checkMatrix('embeddingBag', 'values', v, [Bk, k]);
    }
    sameDtype('embeddingBag', v, w);
    return [{ shape: [B, d], dtype: v.dtype }];
  },
  vjp: (c) => {
    const [v, idx, w] = c.inputs as [Tensor, Tensor, Tensor];
    const dy = c.cotangents[0]!;
    const { layout } = c.attrs;
    return [
      c.needsGrad[0] ? gatherDot(dy, w, idx, layout) : null,
      null,
      c.needsGrad[2] ? scatterOuter(v, idx, dy, tableDims('embeddingBag', w, layout).m, layout) : null,
    ];
  },
});

/**
 * `out[b] = Σ_j v[b, j] · W_{idx[b, j]}` — the product of a k-sparse [B, m] matrix (values v at
 * columns idx) with W: v [B, k], idx [B, k] int32 → [B, d]. Repeated indices accumulate.
 * Flat picks: v [N], idx [N] (positions b·m + r), `batch` = B rows out (rows no pick names are 0).
 */
export function embeddingBag(values: Tensor, indices: Tensor, w: Tensor, layout: SparseLayout = 'rows', batch?: number): Tensor {
  return run1('embeddingBag', [values, indices, w], batch === undefined ? { layout } : { layout, batch });
}

registerOp<ScatterOuterAttrs>({
  name: 'scatterOuter',
  infer(inputs, attrs) {
    requireArity('scatterOuter', inputs, 3);
    const [v, idx, a] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    const layout = checkLayout('scatterOuter', attrs.layout);
    const { B, k, flat, n } = checkIdx('scatterOuter', idx);
    const m = attrs.m;
    if (!Number.isInteger(m) || m < 0) throw new ShapeError(`scatterOuter: m = ${String(m)} must be a non-negative integer`);
    if (m === 0 && n > 0) throw new ShapeError(`scatterOuter: m = 0 but indices ${fmtShape(idx.shape)} pick rows`);
    checkMatrix('scatterOuter', 'values', v, flat ? [n] : [B, k]);
    requireFloat('scatterOuter', a, 'a');
    if (flat) {
      if (a.shape.length !== 2) throw new ShapeError(`scatterOuter: a ${fmtShape(a.shape)} must be [batch, d]`);
      checkFlatGrid('scatterOuter', a.shape[0]!, m);
    } else if (a.shape.length !== 2 || a.shape[0] !== B) throw new ShapeError(`scatterOuter: a ${fmtShape(a.shape)} must be [${B}, d] (one row per row of the indices ${fmtShape(idx.shape)})`);
    sameDtype('scatterOuter', v, a);
    const d = a.shape[1]!;
    return [{ shape: layout === 'rows' ? [m, d] : [d, m], dtype: v.dtype }];
  },
  vjp: (c) => {
    const [v, idx, a] = c.inputs as [Tensor, Tensor, Tensor];
    const g = c.cotangents[0]!;
    const { layout } = c.attrs;
    return [c.needsGrad[0] ? gatherDot(a, g, idx, layout) : null, null, c.needsGrad[2] ? embeddingBag(v, idx, g, layout, idx.rank === 1 ? a.shape[0] : undefined) : null];
  },
});

/**
 * The dense table `out_r = Σ_{idx[b, j] = r} v[b, j] · a[b]` — `Sᵀ @ a` (rows, [m, d]) or
 * `aᵀ @ S` (cols, [d, m]) for the k-sparse S [B, m] with values v at columns idx. Rows no index
 * picks are zero. v [B, k], idx [B, k] int32, a [B, d]; or flat picks v [N], idx [N] (b·m + r).
 */
export function scatterOuter(values: Tensor, indices: Tensor, a: Tensor, m: number, layout: SparseLayout = 'rows'): Tensor {
  return run1('scatterOuter', [values, indices, a], { m, layout });
}
