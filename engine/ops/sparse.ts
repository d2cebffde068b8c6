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

/** idx [B, k] int32, and the values [B, k] / dense rows [B, d] that go with it. */
function checkIdx(op: string, idx: TensorMeta): { B: number; k: number } {
  requireInt(op, idx);
  if (idx.shape.length !== 2) throw new ShapeError(`${op}: indices must be [batch, k], got ${fmtShape(idx.shape)}`);
  return { B: idx.shape[0]!, k: idx.shape[1]! };
}

function checkMatrix(op: string, what: string, t: TensorMeta, want: readonly number[]): void {
  requireFloat(op, t, what);
  if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
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
    const { B, k } = checkIdx('gatherDot', idx);
    requireFloat('gatherDot', w, 'W');
    const { d } = tableDims('gatherDot', w, layout);
    checkMatrix('gatherDot', 'a', a, [B, d]);
    sameDtype('gatherDot', a, w);
    return [{ shape: [B, k], dtype: a.dtype }];
  },
  vjp: (c) => {
    const [a, w, idx] = c.inputs as [Tensor, Tensor, Tensor];
    const g = c.cotangents[0]!;
    const { layout } = c.attrs;
    return [
      c.needsGrad[0] ? embeddingBag(g, idx, w, layout) : null,
      c.needsGrad[1] ? scatterOuter(g, idx, a, tableDims('gatherDot', w, layout).m, layout) : null,
      null,
    ];
  },
});

/**
 * `out[b, j] = a[b] · W_{idx[b, j]}` — the entries of `a @ Wᵀ` (rows) or `a @ W` (cols) at the
 * picked positions only: a [B, d], idx [B, k] int32 → [B, k].
 */
export function gatherDot(a: Tensor, w: Tensor, indices: Tensor, layout: SparseLayout = 'rows'): Tensor {
  return run1('gatherDot', [a, w, indices], { layout });
}

registerOp<SparseAttrs>({
  name: 'embeddingBag',
  infer(inputs, attrs) {
    requireArity('embeddingBag', inputs, 3);
    const [v, idx, w] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    const layout = checkLayout('embeddingBag', attrs.layout);
    const { B, k } = checkIdx('embeddingBag', idx);
    requireFloat('embeddingBag', w, 'W');
    const { d } = tableDims('embeddingBag', w, layout);
    checkMatrix('embeddingBag', 'values', v, [B, k]);
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
 */
export function embeddingBag(values: Tensor, indices: Tensor, w: Tensor, layout: SparseLayout = 'rows'): Tensor {
  return run1('embeddingBag', [values, indices, w], { layout });
}

registerOp<ScatterOuterAttrs>({
  name: 'scatterOuter',
  infer(inputs, attrs) {
    requireArity('scatterOuter', inputs, 3);
    const [v, idx, a] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    const layout = checkLayout('scatterOuter', attrs.layout);
    const { B, k } = checkIdx('scatterOuter', idx);
    const m = attrs.m;
    if (!Number.isInteger(m) || m < 0) throw new ShapeError(`scatterOuter: m = ${String(m)} must be a non-negative integer`);
    if (m === 0 && B * k > 0) throw new ShapeError(`scatterOuter: m = 0 but indices ${fmtShape(idx.shape)} pick rows`);
    checkMatrix('scatterOuter', 'values', v, [B, k]);
    requireFloat('scatterOuter', a, 'a');
    if (a.shape.length !== 2 || a.shape[0] !== B) throw new ShapeError(`scatterOuter: a ${fmtShape(a.shape)} must be [${B}, d] (one row per row of the indices ${fmtShape(idx.shape)})`);
    sameDtype('scatterOuter', v, a);
    const d = a.shape[1]!;
    return [{ shape: layout === 'rows' ? [m, d] : [d, m], dtype: v.dtype }];
  },
  vjp: (c) => {
    const [v, idx, a] = c.inputs as [Tensor, Tensor, Tensor];
    const g = c.cotangents[0]!;
    const { layout } = c.attrs;
    return [c.needsGrad[0] ? gatherDot(a, g, idx, layout) : null, null, c.needsGrad[2] ? embeddingBag(v, idx, g, layout) : null];
  },
});

/**
 * The dense table `out_r = Σ_{idx[b, j] = r} v[b, j] · a[b]` — `Sᵀ @ a` (rows, [m, d]) or
 * `aᵀ @ S` (cols, [d, m]) for the k-sparse S [B, m] with values v at columns idx. Rows no index
 * picks are zero. v [B, k], idx [B, k] int32, a [B, d].
 */
export function scatterOuter(values: Tensor, indices: Tensor, a: Tensor, m: number, layout: SparseLayout = 'rows'): Tensor {
  return run1('scatterOuter', [values, indices, a], { m, layout });
}
