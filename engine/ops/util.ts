/** Helpers shared by op definitions: input coercion and dtype checks. */
import { allocArray, isFloat, type DType } from '../dtype.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { dispatch, fromArray } from '../engine.js';
import type { Attrs } from '../backend.js';
import { Tensor } from '../tensor.js';
import type { TensorMeta } from './registry.js';

export type TensorLike = Tensor | number;

/** A JS number becomes a 0-d tensor of `dtype`. */
export function asTensor(x: TensorLike, dtype: DType): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number') throw new DTypeError(`expected a Tensor or a number, got ${typeof x}`);
  const a = allocArray(dtype, 1);
  a[0] = x;
  return fromArray(a, [], dtype);
}

/** Picks the dtype of the tensor operands (numbers adopt it); all tensors must agree. */
export function commonDtype(op: string, xs: readonly TensorLike[]): DType {
  let d: DType | undefined;
  for (const x of xs) {
    if (x instanceof Tensor) {
      if (d && d !== x.dtype) throw new DTypeError(`${op}: operands have different dtypes (${d} and ${x.dtype}); cast one first`);
      d = x.dtype;
    }
  }
  return d ?? 'float32';
}

export function requireFloat(op: string, m: TensorMeta, what = 'input'): void {
  if (!isFloat(m.dtype)) throw new DTypeError(`${op}: ${what} must be float32 or float64, got ${m.dtype} ${fmtShape(m.shape)}`);
}

export function requireInt(op: string, m: TensorMeta, what = 'indices'): void {
  if (m.dtype !== 'int32') throw new DTypeError(`${op}: ${what} must be int32, got ${m.dtype} ${fmtShape(m.shape)}`);
}

export function requireArity(op: string, inputs: readonly unknown[], n: number): void {
  if (inputs.length !== n) throw new ShapeError(`${op}: expected ${n} inputs, got ${inputs.length}`);
}

/** dispatch for single-output ops. */
export function run1(op: string, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor {
  return dispatch(op, inputs, attrs)[0]!;
}
