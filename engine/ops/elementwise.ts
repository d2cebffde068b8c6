/**
 * Elementwise primitives: unary math, broadcasting binary math, comparisons, where, cast.
 * Each entry pairs the forward with its VJP, written in other ops (like llm.c pairs kernels).
 */
import { isFloat, type DType } from '../dtype.js';
import { DTypeError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { registerOp, type TensorMeta, type VjpContext } from './registry.js';
import { asTensor, commonDtype, requireArity, requireFloat, run1, type TensorLike } from './util.js';
import { sumToShape } from './reduce.js';

// ------------------------------------------------------------------ unary

type UnaryVjp = (x: Tensor, y: Tensor, g: Tensor) => Tensor;

function unary(name: string, vjp: UnaryVjp | { notDifferentiable: string }): void {
  registerOp({
    name,
    infer(inputs: readonly TensorMeta[]) {
      requireArity(name, inputs, 1);
      requireFloat(name, inputs[0]!);
      return [{ shape: inputs[0]!.shape, dtype: inputs[0]!.dtype }];
    },
    ...(typeof vjp === 'function'
      ? { vjp: (c: VjpContext) => [vjp(c.inputs[0]!, c.outputs[0]!, c.cotangents[0]!)] }
      : vjp),
  });
}

export const neg = (x: Tensor): Tensor => run1('neg', [x]);
export const exp = (x: Tensor): Tensor => run1('exp', [x]);
export const log = (x: Tensor): Tensor => run1('log', [x]);
export const tanh = (x: Tensor): Tensor => run1('tanh', [x]);
export const sqrt = (x: Tensor): Tensor => run1('sqrt', [x]);
export const rsqrt = (x: Tensor): Tensor => run1('rsqrt', [x]);
export const abs = (x: Tensor): Tensor => run1('abs', [x]);
export const sign = (x: Tensor): Tensor => run1('sign', [x]);
export const relu = (x: Tensor): Tensor => run1('relu', [x]);
/** tanh-approximated GELU (GPT-2's `gelu_new`). */
export const gelu = (x: Tensor): Tensor => run1('gelu', [x]);
/** d gelu(x) / dx, used by gelu's VJP. */
export const geluGrad = (x: Tensor): Tensor => run1('geluGrad', [x]);
/** 1 where x > 0 else 0 (the Heaviside step; passes no gradient). */
export const heaviside = (x: Tensor): Tensor => run1('heaviside', [x]);

unary('neg', (_x, _y, g) => neg(g));
unary('exp', (_x, y, g) => mul(g, y));
unary('log', (x, _y, g) => div(g, x));
unary('tanh', (_x, y, g) => mul(g, sub(1, mul(y, y))));
unary('sqrt', (_x, y, g) => div(mul(g, 0.5), y));
unary('rsqrt', (_x, y, g) => mul(g, mul(-0.5, mul(y, mul(y, y)))));
unary('abs', (x, _y, g) => mul(g, sign(x)));
unary('sign', { notDifferentiable: 'piecewise constant: its derivative is zero wherever it exists' });
unary('relu', (x, _y, g) => mul(g, heaviside(x)));
unary('gelu', (x, _y, g) => mul(g, geluGrad(x)));
unary('geluGrad', { notDifferentiable: 'second derivative of GELU is not provided (higher-order gradients are unsupported)' });
unary('heaviside', { notDifferentiable: 'the Heaviside gate passes no gradient (piecewise constant)' });

// ------------------------------------------------------------------ binary (NumPy broadcasting)

function binaryInfer(name: string, floatOnly: boolean) {
  return (inputs: readonly TensorMeta[]): TensorMeta[] => {
    requireArity(name, inputs, 2);
    const [a, b] = inputs as [TensorMeta, TensorMeta];
    if (a.dtype !== b.dtype) throw new DTypeError(`${name}: operands have different dtypes (${a.dtype} and ${b.dtype}); cast one first`);
    if (floatOnly) requireFloat(name, a);
    return [{ shape: broadcastShapes(name, a.shape, b.shape), dtype: a.dtype }];
  };
}

type BinaryVjp = (a: Tensor, b: Tensor, y: Tensor, g: Tensor, need: readonly boolean[]) => [Tensor | null, Tensor | null];

function binary(name: string, vjp: BinaryVjp, floatOnly = false): void {
  registerOp({
    name,
    infer: binaryInfer(name, floatOnly),
    vjp: (c) => {
      const [a, b] = c.inputs as [Tensor, Tensor];
      const [ga, gb] = vjp(a, b, c.outputs[0]!, c.cotangents[0]!, c.needsGrad);
      return [ga && c.needsGrad[0] ? sumToShape(ga, a.shape) : null, gb && c.needsGrad[1] ? sumToShape(gb, b.shape) : null];
    },
  });
}

function bin(op: string, a: TensorLike, b: TensorLike): Tensor {
  const d = commonDtype(op, [a, b]);
  return run1(op, [asTensor(a, d), asTensor(b, d)]);
}

export const add = (a: TensorLike, b: TensorLike): Tensor => bin('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => bin('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => bin('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => bin('div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => bin('pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => bin('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => bin('minimum', a, b);

binary('add', (_a, _b, _y, g) => [g, g]);
binary('sub', (_a, _b, _y, g, need) => [g, need[1] ? neg(g) : null]);
binary('mul', (a, b, _y, g, need) => [need[0] ? mul(g, b) : null, need[1] ? mul(g, a) : null]);
binary('div', (_a, b, y, g, need) => [need[0] ? div(g, b) : null, need[1] ? neg(div(mul(g, y), b)) : null], true);
binary(
  'pow',
  (a, b, y, g, need) => [
    need[0] ? mul(g, mul(b, pow(a, sub(b, 1)))) : null,
    need[1] ? mul(g, mul(y, log(a))) : null,
  ],
  true,
);
// Ties split the gradient evenly, as PyTorch does for maximum/minimum.
binary('maximum', (a, b, _y, g, need) => {
  const share = (x: Tensor, y: Tensor) => mul(g, add(greater(x, y), mul(equal(x, y), 0.5)));
  return [need[0] ? share(a, b) : null, need[1] ? share(b, a) : null];
});
binary('minimum', (a, b, _y, g, need) => {
  const share = (x: Tensor, y: Tensor) => mul(g, add(less(x, y), mul(equal(x, y), 0.5)));
  return [need[0] ? share(a, b) : null, need[1] ? share(b, a) : null];
});

// ------------------------------------------------------------------ comparisons (0/1 of the input dtype)

const CMP = ['equal', 'notEqual', 'greater', 'greaterEqual', 'less', 'lessEqual'] as const;
for (const name of CMP) {
  registerOp({ name, infer: binaryInfer(name, false), notDifferentiable: 'comparisons are piecewise constant' });
}
export const equal = (a: TensorLike, b: TensorLike): Tensor => bin('equal', a, b);
export const notEqual = (a: TensorLike, b: TensorLike): Tensor => bin('notEqual', a, b);
export const greater = (a: TensorLike, b: TensorLike): Tensor => bin('greater', a, b);
export const greaterEqual = (a: TensorLike, b: TensorLike): Tensor => bin('greaterEqual', a, b);
export const less = (a: TensorLike, b: TensorLike): Tensor => bin('less', a, b);
export const lessEqual = (a: TensorLike, b: TensorLike): Tensor => bin('lessEqual', a, b);

// ------------------------------------------------------------------ where

registerOp({
  name: 'where',
  infer(inputs) {
    requireArity('where', inputs, 3);
    const [c, a, b] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    if (a.dtype !== b.dtype) throw new DTypeError(`where: branches have different dtypes (${a.dtype} and ${b.dtype})`);
    return [{ shape: broadcastShapes('where', c.shape, a.shape, b.shape), dtype: a.dtype }];
  },
  vjp: (c) => {
    const [cond, a, b] = c.inputs as [Tensor, Tensor, Tensor];
    const g = c.cotangents[0]!;
    const zero = zerosLikeScalar(g.dtype);
    return [
      null,
      c.needsGrad[1] ? sumToShape(where(cond, g, zero), a.shape) : null,
      c.needsGrad[2] ? sumToShape(where(cond, zero, g), b.shape) : null,
    ];
  },
});

function zerosLikeScalar(dtype: DType): Tensor {
  return asTensor(0, dtype);
}

/** Elementwise `cond != 0 ? a : b`, broadcasting all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const d = commonDtype('where', [a, b]);
  return run1('where', [cond, asTensor(a, d), asTensor(b, d)]);
}

// ------------------------------------------------------------------ cast

registerOp<{ dtype: DType }>({
  name: 'cast',
  infer(inputs, attrs) {
    requireArity('cast', inputs, 1);
    return [{ shape: inputs[0]!.shape, dtype: attrs.dtype }];
  },
  // float→float casts carry the gradient back; casts to or from int32 carry none.
  vjp: (c) => {
    const x = c.inputs[0]!;
    if (!isFloat(x.dtype) || !isFloat(c.attrs.dtype)) return [null];
    return [cast(c.cotangents[0]!, x.dtype)];
  },
});

/** Converts element type (float→int truncates toward zero). */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return run1('cast', [x], { dtype });
}
