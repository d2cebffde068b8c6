/**
 * Bad input gets a clear error naming the op and the offending shapes/axes/dtypes/indices.
 * Every assertion checks the error class and the message.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { ReferenceBackend } from '../../engine/backends/reference/index.js';
import { registerBackend } from '../../engine/engine.js';
import { useReference } from './gradcheck.js';

beforeAll(useReference);

const f32 = (shape: number[]) => E.zeros(shape);
const i32 = (data: number[], shape = [data.length]) => E.tensor(data, shape, 'int32');

/** Runs fn in a tidy and expects an error of `cls` whose message matches `re`. */
function expectError(fn: () => unknown, cls: new (...a: never[]) => Error, re: RegExp): void {
  let err: unknown;
  E.tidy(() => {
    try {
      fn();
    } catch (e) {
      err = e;
    }
  });
  expect(err, `expected ${cls.name} matching ${re}`).toBeInstanceOf(cls);
  expect((err as Error).message).toMatch(re);
}

describe('shape errors', () => {
  it('broadcast mismatch names the op and both shapes', () => {
    expectError(() => E.add(f32([2, 3]), f32([4])), E.ShapeError, /^add: shapes \[2, 3\] and \[4\] cannot be broadcast together \(dimension -1 is 4 vs 3\)/);
    expectError(() => E.mul(f32([2, 1, 3]), f32([5, 2])), E.ShapeError, /^mul: shapes \[2, 1, 3\] and \[5, 2\]/);
    expectError(() => E.where(i32([1, 0]), f32([3]), f32([1])), E.ShapeError, /^where: shapes \[2\] and \[3\] and \[1\] cannot be broadcast/);
    expectError(() => E.broadcastTo(f32([3]), [2, 4]), E.ShapeError, /^broadcastTo: shapes \[3\] and \[2, 4\] cannot be broadcast/);
    expectError(() => E.broadcastTo(f32([3]), [1]), E.ShapeError, /^broadcastTo: \[3\] cannot be broadcast to \[1\]/);
  });

  it('axis out of range, repeated axes, bad permutations', () => {
    expectError(() => E.sum(f32([2, 3]), 2), E.ShapeError, /^sum: axis 2 is out of range for a tensor of rank 2/);
    expectError(() => E.max(f32([2, 3]), -3), E.ShapeError, /^max: axis -3 is out of range for a tensor of rank 2/);
    expectError(() => E.sum(f32([2, 3]), [0, -2]), E.ShapeError, /^sum: repeated axis in \[0, -2\]/);
    expectError(() => E.softmax(f32([2]), 1), E.ShapeError, /^softmax: axis 1 is out of range for a tensor of rank 1/);
    expectError(() => E.mean(f32([2]), 1.5), E.ShapeError, /^mean: axis 1.5 is out of range/);
    expectError(() => E.argmax(f32([]), 0), E.ShapeError, /^argmax: axis 0 is out of range for a tensor of rank 0/);
    expectError(() => E.gather(f32([2, 3]), i32([0]), 2), E.ShapeError, /^gather: axis 2 is out of range/);
    expectError(() => E.concat([f32([2]), f32([2])], 1), E.ShapeError, /^concat: axis 1 is out of range for a tensor of rank 1/);
    expectError(() => E.expandDims(f32([2]), 3), E.ShapeError, /^expandDims: axis 3 is out of range for a tensor of rank 2/);
    expectError(() => E.swapAxes(f32([2, 3]), 0, 2), E.ShapeError, /^swapAxes: axis 2 is out of range/);
    expectError(() => E.transpose(f32([2, 3]), [0, 0]), E.ShapeError, /^transpose: permutation \[0, 0\] is not a permutation of the 2 axes of \[2, 3\]/);
    expectError(() => E.transpose(f32([2, 3]), [0]), E.ShapeError, /^transpose: permutation \[0\]/);
  });

  it('reshape size mismatch, several -1, invalid shapes', () => {
    expectError(() => E.reshape(f32([2, 3]), [4]), E.ShapeError, /^reshape: cannot reshape \[2, 3\] \(6 elements\) into \[4\]/);
    expectError(() => E.reshape(f32([2, 3]), [-1, 4]), E.ShapeError, /^reshape: cannot reshape \[2, 3\] \(6 elements\) into \[-1, 4\]/);
    expectError(() => E.reshape(f32([2, 3]), [-1, -1]), E.ShapeError, /^reshape: at most one -1 allowed in \[-1, -1\]/);
    expectError(() => E.reshape(f32([2, 3]), [2, 1.5, 2]), E.ShapeError, /^reshape: invalid shape \[2, 1.5, 2\]/);
    expectError(() => E.full([2, -1], 0), E.ShapeError, /^full: invalid shape \[2, -1\] \(dimensions must be non-negative integers\)/);
    expectError(() => E.tensor([1, 2, 3, 4, 5], [2, 3]), E.DTypeError, /^tensor: 5 values do not fill shape \[2, 3\] \(6 elements\)/);
    expectError(() => E.tensor([[1, 2], [3]] as unknown as number[][]), E.GsaeError, /^tensor: /);
    expectError(() => E.arange(0, 5, 0), E.ShapeError, /^arange: step must not be 0/);
  });

  it('matmul inner dimensions, ranks and batch axes', () => {
    expectError(() => E.matmul(f32([2, 3]), f32([4, 5])), E.ShapeError, /^matmul: inner dimensions differ \(3 vs 4\) in \[2, 3\] @ \[4, 5\]/);
    expectError(() => E.matmul(f32([2, 3]), f32([2, 5]), true, true), E.ShapeError, /^matmul: inner dimensions differ \(2 vs 5\) in \[2, 3\]ᵀ @ \[2, 5\]ᵀ/);
    expectError(() => E.matmul(f32([3]), f32([4])), E.ShapeError, /^matmul: inner dimensions differ \(3 vs 4\)/);
    expectError(() => E.matmul(f32([2, 2, 3]), f32([3, 3, 4])), E.ShapeError, /^matmul: shapes \[2\] and \[3\] cannot be broadcast/);
    expectError(() => E.matmul(f32([]), f32([2, 2])), E.ShapeError, /^matmul: operands need rank >= 2, got \[\] @ \[2, 2\]/);
  });

  it('slice and pad out of range', () => {
    expectError(() => E.slice(f32([2, 3]), [0, 2], [2, 2]), E.ShapeError, /^slice: box begin \[0, 2\] size \[2, 2\] does not fit in \[2, 3\] \(axis 1\)/);
    expectError(() => E.slice(f32([2, 3]), [-1]), E.ShapeError, /^slice: box begin \[-1, 0\]/);
    expectError(() => E.slice(f32([2]), [0, 0]), E.ShapeError, /^slice: begin \[0, 0\] has more entries than \[2\] has axes/);
    expectError(() => E.pad(f32([2, 3]), [0, -1], [0, 0]), E.ShapeError, /^pad: before \[0, -1\] and after \[0, 0\] must be 2 non-negative integers for \[2, 3\]/);
    expectError(() => E.pad(f32([2, 3]), [1], [1]), E.ShapeError, /^pad: before \[1\] and after \[1\] must be 2 non-negative integers/);
  });

  it('concat and stack mismatches', () => {
    expectError(() => E.concat([f32([2, 3]), f32([2, 4])], 0), E.ShapeError, /^concat: shapes \[2, 3\], \[2, 4\] differ outside axis 0/);
    expectError(() => E.concat([f32([2, 3]), f32([2, 3, 1])], 1), E.ShapeError, /^concat: shapes \[2, 3\], \[2, 3, 1\] differ outside axis 1/);
    expectError(() => E.concat([f32([2]), E.zeros([2], 'float64')]), E.ShapeError, /^concat: dtypes differ \(float32 and float64\)/);
    expectError(() => E.concat([]), E.ShapeError, /^concat: needs at least one tensor/);
    expectError(() => E.stack([f32([2]), f32([3])]), E.ShapeError, /^concat: shapes \[1, 2\], \[1, 3\] differ outside axis 0/);
    expectError(() => E.stack([]), E.ShapeError, /^stack: needs at least one tensor/);
  });

  it('reductions over empty axes where no value exists', () => {
    expectError(() => E.max(f32([2, 0]), 1), E.ShapeError, /^max: cannot reduce over axis 1 of size 0 in \[2, 0\]/);
    expectError(() => E.argmax(f32([0, 2]), 0), E.ShapeError, /^argmax: axis 0 of \[0, 2\] is empty/);
  });

  it('layerNorm parameters and causalMask ranks', () => {
    expectError(() => E.layerNorm(f32([2, 3]), f32([4]), null), E.ShapeError, /^layerNorm: weight \[4\] must be \[3\] for input \[2, 3\]/);
    expectError(() => E.layerNorm(f32([2, 3]), null, f32([3, 1])), E.ShapeError, /^layerNorm: bias \[3, 1\] must be \[3\]/);
    expectError(() => E.causalMask(f32([3])), E.ShapeError, /^causalMask: scores must be \[\.\.\., T, S\], got \[3\]/);
    expectError(() => E.causalMask(f32([3, 2])), E.ShapeError, /^causalMask: scores \[3, 2\] have fewer keys \(2\) than queries \(3\)/);
  });
});

describe('dtype errors', () => {
  it('operands of different dtypes', () => {
    expectError(() => E.add(f32([2]), E.zeros([2], 'float64')), E.DTypeError, /^add: operands have different dtypes \(float32 and float64\); cast one first/);
    expectError(() => E.maximum(i32([1]), f32([1])), E.DTypeError, /^maximum: operands have different dtypes \(int32 and float32\)/);
    expectError(() => E.where(i32([1]), f32([1]), E.zeros([1], 'float64')), E.DTypeError, /^where: operands have different dtypes \(float32 and float64\)/);
    expectError(() => E.matmul(f32([2, 2]), E.zeros([2, 2], 'float64')), E.GsaeError, /^matmul: dtypes differ \(float32 and float64\)/);
    expectError(
      () => E.scatterAdd(f32([3]), i32([0]), E.zeros([1], 'float64')),
      E.GsaeError,
      /^scatterAdd: target float32 and updates float64 differ/,
    );
  });

  it('int tensors into float-only ops', () => {
    expectError(() => E.exp(i32([1, 2])), E.DTypeError, /^exp: input must be float32 or float64, got int32 \[2\]/);
    expectError(() => E.relu(i32([1])), E.DTypeError, /^relu: input must be float32 or float64, got int32/);
    expectError(() => E.div(i32([1]), i32([2])), E.DTypeError, /^div: input must be float32 or float64, got int32/);
    expectError(() => E.pow(i32([1]), i32([2])), E.DTypeError, /^pow: input must be float32 or float64/);
    expectError(() => E.matmul(E.zeros([2, 2], 'int32'), E.zeros([2, 2], 'int32')), E.DTypeError, /^matmul: input must be float32 or float64, got int32 \[2, 2\]/);
    expectError(() => E.max(i32([1, 2])), E.DTypeError, /^max: input must be float32 or float64, got int32/);
    expectError(() => E.softmax(i32([1, 2])), E.DTypeError, /must be float32 or float64, got int32/);
  });

  it('float indices and float targets', () => {
    expectError(() => E.gather(f32([3]), f32([1])), E.DTypeError, /^gather: indices must be int32, got float32 \[1\]/);
    expectError(() => E.takeAlongAxis(f32([2, 3]), f32([2, 1])), E.DTypeError, /^takeAlongAxis: indices must be int32, got float32/);
    expectError(() => E.scatterAdd(f32([3]), f32([1]), f32([1])), E.DTypeError, /^scatterAdd: indices must be int32/);
    expectError(() => E.crossEntropy(f32([2, 4]), f32([2])), E.DTypeError, /^crossEntropy: targets must be int32, got float32 \[2\]/);
  });

  it('a non-number, non-tensor operand', () => {
    expectError(() => E.add(f32([1]), '1' as unknown as number), E.DTypeError, /expected a Tensor or a number, got string/);
  });
});

describe('index errors', () => {
  it('gather / takeAlongAxis / scatter indices out of range name the index and the axis size', () => {
    expectError(() => E.gather(f32([3, 2]), i32([0, 3])), E.BackendError, /^gather: index 3 is out of range for axis 0 of size 3/);
    expectError(() => E.gather(f32([3, 2]), i32([-1]), 1), E.BackendError, /^gather: index -1 is out of range for axis 1 of size 2/);
    expectError(() => E.takeAlongAxis(f32([2, 3]), i32([0, 3], [2, 1])), E.BackendError, /^takeAlongAxis: index 3 is out of range for axis 1 of size 3/);
    expectError(() => E.scatterAdd(f32([3]), i32([4]), f32([1])), E.BackendError, /^scatterAdd: index 4 is out of range for axis 0 of size 3/);
    expectError(() => E.scatterAddAlongAxis(f32([2, 2]), i32([0, 2], [2, 1]), f32([2, 1])), E.BackendError, /^scatterAddAlongAxis: index 2 is out of range/);
    expectError(() => E.gather(f32([0, 2]), i32([0])), E.ShapeError, /^gather: axis 0 of \[0, 2\] is empty/);
  });

  it('index tensors of the wrong shape', () => {
    expectError(() => E.takeAlongAxis(f32([2, 3]), i32([0, 0, 0], [3, 1])), E.ShapeError, /^takeAlongAxis: indices \[3, 1\] must match \[2, 3\] on every axis but 1/);
    expectError(() => E.scatterAdd(f32([3, 2]), i32([0]), f32([2, 2])), E.ShapeError, /^scatterAdd: updates \[2, 2\] must have shape \[1, 2\] for target \[3, 2\] and indices \[1\]/);
    expectError(
      () => E.scatterAddAlongAxis(f32([2, 3]), i32([0, 0], [2, 1]), f32([2, 2])),
      E.ShapeError,
      /^scatterAddAlongAxis: updates \[2, 2\] must have the indices' shape \[2, 1\]/,
    );
  });

  it('crossEntropy: targets shape, and targets out of range', () => {
    expectError(() => E.crossEntropy(f32([2, 4]), i32([1, 2, 3])), E.ShapeError, /^crossEntropy: targets \[3\] must match logits \[2, 4\] without its last axis/);
    expectError(() => E.crossEntropy(f32([2, 4]), i32([1, 2], [1, 2])), E.ShapeError, /^crossEntropy: targets \[1, 2\] must match logits \[2, 4\]/);
    expectError(() => E.crossEntropy(f32([2, 4]), i32([1, 4])), E.BackendError, /index 4 is out of range for axis 1 of size 4/);
  });
});

describe('autodiff misuse', () => {
  it('non-scalar, int or non-tensor loss', () => {
    const x = E.tensor([1, 2]);
    expectError(() => E.grad((t: E.Tensor) => E.mul(t, 2))(x), E.AutodiffError, /^valueAndGrad: the function must return a scalar float tensor, got \[2\] float32/);
    expectError(() => E.grad((t: E.Tensor) => E.cast(E.sum(t), 'int32'))(x), E.AutodiffError, /got \[\] int32/);
    expectError(() => E.grad((_t: E.Tensor) => 3)(x), E.AutodiffError, /^valueAndGrad: the function must return a scalar Tensor, got number/);
    expectError(() => E.valueAndGrad((t: E.Tensor) => E.sum(t), { hasAux: true })(x), E.AutodiffError, /^valueAndGrad\(hasAux\): .*\[loss, aux\]/);
    x.dispose();
  });

  it('argnums out of range', () => {
    expectError(() => E.grad((a: E.Tensor) => E.sum(a), { argnums: 1 })(E.tensor([1])), E.AutodiffError, /^argnums 1 is out of range for a call with 1 arguments/);
    expectError(() => E.grad((a: E.Tensor) => E.sum(a), { argnums: [0, -1] })(E.tensor([1])), E.AutodiffError, /^argnums -1 is out of range/);
  });
});

describe('backends', () => {
  it('an unknown backend names the known ones', () => {
    expectError(() => E.setBackend('nope'), E.BackendError, /^unknown backend 'nope' \(known: .*reference.*\)/);
    expectError(() => E.getBackend('nope'), E.BackendError, /^unknown backend 'nope'/);
  });

  it('a backend that cannot start says why, every time, and backendStatus reports it', () => {
    registerBackend({
      name: 'test-broken',
      priority: -100,
      create: () => {
        throw new Error('no device here');
      },
    });
    expectError(() => E.setBackend('test-broken'), E.BackendError, /^backend 'test-broken' is unavailable: no device here/);
    expectError(() => E.setBackend('test-broken'), E.BackendError, /^backend 'test-broken' is unavailable: no device here/);
    expect(E.backendStatus().find((s) => s.name === 'test-broken')).toEqual({
      name: 'test-broken',
      priority: -100,
      available: false,
      reason: "backend 'test-broken' is unavailable: no device here",
    });
    expect(E.backend().name).toBe('reference');
  });

  it('a tensor from another backend is refused with advice to move it', () => {
    class Other extends ReferenceBackend {
      override readonly name = 'test-other' as 'reference';
    }
    registerBackend({ name: 'test-other', priority: -100, create: () => new Other() });
    const x = E.tensor([1, 2]);
    E.setBackend('test-other');
    try {
      expectError(() => E.add(x, 1), E.BackendError, /^add: input lives on backend 'reference' but the engine runs 'test-other'; move it with toBackend\(\)/);
      const moved = E.toBackend(x, 'test-other');
      expect(Array.from(E.add(moved, 1).toArray())).toEqual([2, 3]);
    } finally {
      E.setBackend('reference');
      x.dispose();
    }
  });
});
