/** Reductions over any set of axes, with keepdims: sum, max (differentiable), argmax (indices). */
import { ShapeError, fmtShape } from '../errors.js';
import { broadcastReductionAxes, normAxes, normAxis, shapesEqual, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { registerOp, type TensorMeta } from './registry.js';
import { requireArity, requireFloat, run1 } from './util.js';
import { div, equal, mul } from './elementwise.js';
import { broadcastTo, reshape } from './movement.js';

export interface ReduceAttrs {
  readonly [k: string]: unknown;
  /** normalised, sorted axes */
  readonly axes: readonly number[];
  readonly keepdims: boolean;
}

function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

/** The reduced shape with the reduced axes kept as size 1, to broadcast results back. */
function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceInfer(name: string) {
  return (inputs: readonly TensorMeta[], attrs: ReduceAttrs): TensorMeta[] => {
    requireArity(name, inputs, 1);
    const x = inputs[0]!;
    return [{ shape: reducedShape(x.shape, attrs.axes, attrs.keepdims), dtype: x.dtype }];
  };
}

registerOp<ReduceAttrs>({
  name: 'sum',
  infer: reduceInfer('sum'),
  vjp: (c) => {
    const x = c.inputs[0]!;
    const g = reshape(c.cotangents[0]!, keptShape(x.shape, c.attrs.axes));
    return [broadcastTo(g, x.shape)];
  },
});

registerOp<ReduceAttrs>({
  name: 'max',
  infer: (inputs, attrs) => {
    const out = reduceInfer('max')(inputs, attrs);
    requireFloat('max', inputs[0]!);
    for (const a of attrs.axes) {
      if (inputs[0]!.shape[a] === 0) throw new ShapeError(`max: cannot reduce over axis ${a} of size 0 in ${fmtShape(inputs[0]!.shape)}`);
    }
    return out;
  },
  // The gradient is shared evenly among tied maxima (like PyTorch's amax).
  vjp: (c) => {
    const x = c.inputs[0]!;
    const ks = keptShape(x.shape, c.attrs.axes);
    const m = reshape(c.outputs[0]!, ks);
    const mask = equal(x, m);
    const count = sum(mask, c.attrs.axes, true);
    const g = reshape(c.cotangents[0]!, ks);
    return [mul(mask, div(g, count))];
  },
});

registerOp<{ axis: number }>({
  name: 'argmax',
  infer(inputs, attrs) {
    requireArity('argmax', inputs, 1);
    const x = inputs[0]!;
    if (x.shape[attrs.axis] === 0) throw new ShapeError(`argmax: axis ${attrs.axis} of ${fmtShape(x.shape)} is empty`);
    return [{ shape: reducedShape(x.shape, [attrs.axis], false), dtype: 'int32' }];
  },
  notDifferentiable: 'returns integer indices',
});

export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return run1('sum', [x], { axes: normAxes('sum', axes, x.rank), keepdims });
}

export function max(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return run1('max', [x], { axes: normAxes('max', axes, x.rank), keepdims });
}

/** Index of the first maximum along `axis` (int32). */
export function argmax(x: Tensor, axis = -1): Tensor {
  return run1('argmax', [x], { axis: normAxis('argmax', axis, x.rank) });
}

/** Sums `x` down to `shape` over the axes that broadcasting expanded (VJP of broadcasting). */
export function sumToShape(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  const axes = broadcastReductionAxes(shape, x.shape);
  return reshape(sum(x, axes, false), shape);
}
