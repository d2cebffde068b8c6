/**
 * Indexing primitives, in adjoint pairs: gather ↔ scatterAdd along an axis (embedding lookup),
 * takeAlongAxis ↔ scatterAddAlongAxis (per-row picks, the values half of topk).
 */
import { ShapeError, fmtShape } from '../errors.js';
import { normAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { registerOp, type TensorMeta } from './registry.js';
import { requireArity, requireInt, run1 } from './util.js';
import { zeros } from './create.js';

function gatherShape(x: TensorMeta['shape'], idx: TensorMeta['shape'], axis: number): number[] {
  return [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)];
}

registerOp<{ axis: number }>({
  name: 'gather',
  infer(inputs, attrs) {
    requireArity('gather', inputs, 2);
    const [x, idx] = inputs as [TensorMeta, TensorMeta];
    requireInt('gather', idx);
    if (x.shape[attrs.axis] === 0 && idx.shape.some((d) => d > 0)) throw new ShapeError(`gather: axis ${attrs.axis} of ${fmtShape(x.shape)} is empty`);
    return [{ shape: gatherShape(x.shape, idx.shape, attrs.axis), dtype: x.dtype }];
  },
  vjp: (c) => {
    const [x, idx] = c.inputs as [Tensor, Tensor];
    return [scatterAdd(zeros(x.shape, x.dtype), idx, c.cotangents[0]!, c.attrs.axis), null];
  },
});

/**
 * `out[..., j..., ...] = x[..., idx[j...], ...]` along `axis` (embedding lookup with axis 0).
 * Out-of-range indices throw (naming the index and the axis size).
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return run1('gather', [x, indices], { axis: normAxis('gather', axis, x.rank) });
}

registerOp<{ axis: number }>({
  name: 'scatterAdd',
  infer(inputs, attrs) {
    requireArity('scatterAdd', inputs, 3);
    const [x, idx, upd] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    requireInt('scatterAdd', idx);
    const want = gatherShape(x.shape, idx.shape, attrs.axis);
    if (want.length !== upd.shape.length || want.some((d, i) => d !== upd.shape[i])) {
      throw new ShapeError(`scatterAdd: updates ${fmtShape(upd.shape)} must have shape ${fmtShape(want)} for target ${fmtShape(x.shape)} and indices ${fmtShape(idx.shape)}`);
    }
    if (x.dtype !== upd.dtype) throw new ShapeError(`scatterAdd: target ${x.dtype} and updates ${upd.dtype} differ`);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  vjp: (c) => {
    const idx = c.inputs[1]!;
    const g = c.cotangents[0]!;
    return [g, null, c.needsGrad[2] ? gather(g, idx, c.attrs.axis) : null];
  },
});

/** A copy of `x` with `updates` added at `indices` along `axis` (repeated indices accumulate). */
export function scatterAdd(x: Tensor, indices: Tensor, updates: Tensor, axis = 0): Tensor {
  return run1('scatterAdd', [x, indices, updates], { axis: normAxis('scatterAdd', axis, x.rank) });
}

function checkAlong(op: string, x: TensorMeta, idx: TensorMeta, axis: number): number[] {
  requireInt(op, idx);
  if (idx.shape.length !== x.shape.length || idx.shape.some((d, i) => i !== axis && d !== x.shape[i])) {
    throw new ShapeError(`${op}: indices ${fmtShape(idx.shape)} must match ${fmtShape(x.shape)} on every axis but ${axis}`);
  }
  return [...idx.shape];
}

registerOp<{ axis: number }>({
  name: 'takeAlongAxis',
  infer(inputs, attrs) {
    requireArity('takeAlongAxis', inputs, 2);
    const [x, idx] = inputs as [TensorMeta, TensorMeta];
    return [{ shape: checkAlong('takeAlongAxis', x, idx, attrs.axis), dtype: x.dtype }];
  },
  vjp: (c) => {
    const [x, idx] = c.inputs as [Tensor, Tensor];
    return [scatterAddAlongAxis(zeros(x.shape, x.dtype), idx, c.cotangents[0]!, c.attrs.axis), null];
  },
});

/** `out[i][j] = x[i][idx[i][j]]` along `axis` (NumPy take_along_axis). */
export function takeAlongAxis(x: Tensor, indices: Tensor, axis = -1): Tensor {
  return run1('takeAlongAxis', [x, indices], { axis: normAxis('takeAlongAxis', axis, x.rank) });
}

registerOp<{ axis: number }>({
  name: 'scatterAddAlongAxis',
  infer(inputs, attrs) {
    requireArity('scatterAddAlongAxis', inputs, 3);
    const [x, idx, upd] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    const s = checkAlong('scatterAddAlongAxis', x, idx, attrs.axis);
    if (s.some((d, i) => d !== upd.shape[i]) || upd.shape.length !== s.length) {
      throw new ShapeError(`scatterAddAlongAxis: updates ${fmtShape(upd.shape)} must have the indices' shape ${fmtShape(s)}`);
    }
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  vjp: (c) => {
    const idx = c.inputs[1]!;
    const g = c.cotangents[0]!;
    return [g, null, c.needsGrad[2] ? takeAlongAxis(g, idx, c.attrs.axis) : null];
  },
});

/** A copy of `x` with `out[i][idx[i][j]] += updates[i][j]` along `axis`. */
export function scatterAddAlongAxis(x: Tensor, indices: Tensor, updates: Tensor, axis = -1): Tensor {
  return run1('scatterAddAlongAxis', [x, indices, updates], { axis: normAxis('scatterAddAlongAxis', axis, x.rank) });
}
