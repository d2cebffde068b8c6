/** Creation ops (no inputs) and stopGradient. */
import type { DType } from '../dtype.js';
import { ShapeError } from '../errors.js';
import { checkShape, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { registerOp } from './registry.js';
import { run1 } from './util.js';

registerOp<{ shape: readonly number[]; dtype: DType; value: number }>({
  name: 'full',
  infer: (_inputs, attrs) => [{ shape: attrs.shape, dtype: attrs.dtype }],
  notDifferentiable: 'has no tensor inputs',
});

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  checkShape('full', shape);
  return run1('full', [], { shape: [...shape], dtype, value });
}
export const zeros = (shape: Shape, dtype: DType = 'float32'): Tensor => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'float32'): Tensor => full(shape, 1, dtype);
export const zerosLike = (x: Tensor): Tensor => full(x.shape, 0, x.dtype);
export const onesLike = (x: Tensor): Tensor => full(x.shape, 1, x.dtype);

registerOp<{ start: number; step: number; n: number; dtype: DType }>({
  name: 'arange',
  infer: (_inputs, attrs) => [{ shape: [attrs.n], dtype: attrs.dtype }],
  notDifferentiable: 'has no tensor inputs',
});

/** `start, start + step, ...` below `stop` (like NumPy's arange). */
export function arange(start: number, stop?: number, step = 1, dtype: DType = 'int32'): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new ShapeError('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  return run1('arange', [], { start, step, n, dtype });
}

registerOp({
  name: 'stopGradient',
  infer: (inputs) => [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }],
  notDifferentiable: 'stopGradient blocks gradients by definition',
});

/** The same values, treated as a constant by every gradient transform. */
export function stopGradient(x: Tensor): Tensor {
  return run1('stopGradient', [x]);
}
