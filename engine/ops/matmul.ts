/** Batched matrix multiply with optionally transposed operands and broadcast batch dimensions. */
import { ShapeError, fmtShape } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { registerOp, type TensorMeta } from './registry.js';
import { requireArity, requireFloat, run1 } from './util.js';
import { sumToShape } from './reduce.js';
import { reshape } from './movement.js';

export interface MatmulAttrs {
  readonly [k: string]: unknown;
  readonly transA: boolean;
  readonly transB: boolean;
}

/** [batch, M, K, N] of a matmul, validated. */
export function matmulDims(a: TensorMeta['shape'], b: TensorMeta['shape'], attrs: MatmulAttrs): { batch: number[]; M: number; K: number; N: number } {
  const desc = () => `${fmtShape(a)}${attrs.transA ? 'ᵀ' : ''} @ ${fmtShape(b)}${attrs.transB ? 'ᵀ' : ''}`;
  if (a.length < 2 || b.length < 2) throw new ShapeError(`matmul: operands need rank >= 2, got ${desc()}`);
  const [ar, ac] = [a[a.length - 2]!, a[a.length - 1]!];
  const [br, bc] = [b[b.length - 2]!, b[b.length - 1]!];
  const [M, K] = attrs.transA ? [ac, ar] : [ar, ac];
  const [K2, N] = attrs.transB ? [bc, br] : [br, bc];
  if (K !== K2) throw new ShapeError(`matmul: inner dimensions differ (${K} vs ${K2}) in ${desc()}`);
  const batch = broadcastShapes('matmul', a.slice(0, -2), b.slice(0, -2));
  return { batch, M, K, N };
}

registerOp<MatmulAttrs>({
  name: 'matmul',
  infer(inputs, attrs) {
    requireArity('matmul', inputs, 2);
    const [a, b] = inputs as [TensorMeta, TensorMeta];
    requireFloat('matmul', a);
    if (a.dtype !== b.dtype) throw new ShapeError(`matmul: dtypes differ (${a.dtype} and ${b.dtype})`);
    const { batch, M, N } = matmulDims(a.shape, b.shape, attrs);
    return [{ shape: [...batch, M, N], dtype: a.dtype }];
  },
  vjp: (c) => {
    const [a, b] = c.inputs as [Tensor, Tensor];
    const g = c.cotangents[0]!;
    const { transA: tA, transB: tB } = c.attrs;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (c.needsGrad[0]) {
      // C = op(A) op(B): d op(A) = G op(B)ᵀ; when A is stored transposed, take the transpose of that.
      ga = tA ? matmul(b, g, tB, true) : matmul(g, b, false, !tB);
      ga = sumToShape(ga, a.shape);
    }
    if (c.needsGrad[1]) {
      gb = tB ? matmul(g, a, true, tA) : matmul(a, g, !tA, false);
      gb = sumToShape(gb, b.shape);
    }
    return [ga, gb];
  },
});

/**
 * `op(a) @ op(b)` where op transposes the last two axes when asked. Leading (batch) axes
 * broadcast. 1-D operands are treated as a row (a) or column (b) vector, as in NumPy.
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (a.rank === 1 || b.rank === 1) {
    const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]!]) : a;
    const b2 = b.rank === 1 ? reshape(b, [b.shape[0]!, 1]) : b;
    const out = matmul(a2, b2, a.rank === 1 ? false : transA, b.rank === 1 ? false : transB);
    const s = [...out.shape];
    if (b.rank === 1) s.pop();
    if (a.rank === 1) s.splice(s.length - (b.rank === 1 ? 1 : 2), 1);
    return reshape(out, s);
  }
  return run1('matmul', [a, b], { transA, transB });
}
