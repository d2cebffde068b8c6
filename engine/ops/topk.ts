/**
 * topk along the last axis. The primitive returns indices only (not differentiable); values are
 * `takeAlongAxis(x, indices)`, so gradients reach exactly the selected entries.
 *
 * Policy: results are sorted descending; ties go to the lower index; -Inf and +Inf order
 * normally; NaN is an error (a NaN pre-activation is always a bug upstream, and silently ranking
 * it would hide it).
 */
import { ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { registerOp } from './registry.js';
import { requireArity, requireFloat, run1 } from './util.js';
import { takeAlongAxis, scatterAddAlongAxis } from './indexing.js';
import { reshape } from './movement.js';
import { zerosLike } from './create.js';
import { relu } from './elementwise.js';

registerOp<{ k: number }>({
  name: 'topkIndices',
  infer(inputs, attrs) {
    requireArity('topk', inputs, 1);
    const x = inputs[0]!;
    requireFloat('topk', x);
    if (x.shape.length === 0) throw new ShapeError('topk: input must have at least one axis');
    const n = x.shape[x.shape.length - 1]!;
    if (!Number.isInteger(attrs.k) || attrs.k < 0 || attrs.k > n) {
      throw new ShapeError(`topk: k = ${attrs.k} must be an integer in [0, ${n}] for input ${fmtShape(x.shape)}`);
    }
    return [{ shape: [...x.shape.slice(0, -1), attrs.k], dtype: 'int32' }];
  },
  notDifferentiable: 'returns integer indices (values are taken with takeAlongAxis, which is differentiable)',
});

/** Indices of the k largest entries of each row (last axis), descending, ties to the lower index. */
export function topkIndices(x: Tensor, k: number): Tensor {
  return run1('topkIndices', [x], { k });
}

/** The k largest entries of each row and their indices. */
export function topk(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  const indices = topkIndices(x, k);
  return { values: takeAlongAxis(x, indices, -1), indices };
}

/** x with all but the k largest entries of each row set to zero (then ReLU'd if asked). */
export function keepTopk(x: Tensor, k: number, applyRelu = false): Tensor {
  const { values, indices } = topk(x, k);
  return scatterAddAlongAxis(zerosLike(x), indices, applyRelu ? relu(values) : values, -1);
}

/**
 * BatchTopK: over a batch [B, n], keep the B·k largest entries of the whole batch (ties to the
 * lower flat index), zeroing the rest.
 */
export function batchTopk(x: Tensor, k: number, applyRelu = false): Tensor {
  if (x.rank !== 2) throw new ShapeError(`batchTopk: input must be [batch, n], got ${fmtShape(x.shape)}`);
  if (!Number.isInteger(k) || k < 0) throw new ShapeError(`batchTopk: k = ${k} must be a non-negative integer (input ${fmtShape(x.shape)})`);
  const flat = reshape(x, [1, x.size]);
  const kk = k * x.shape[0]!;
  if (kk > x.size) throw new ShapeError(`batchTopk: k = ${k} exceeds the ${x.shape[1]} entries of each row of ${fmtShape(x.shape)}`);
  return reshape(keepTopk(flat, kk, applyRelu), x.shape);
}
