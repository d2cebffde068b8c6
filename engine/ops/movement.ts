/** Movement primitives: reshape, transpose, slice, pad, concat, broadcastTo. */
import { ShapeError, fmtShape } from '../errors.js';
import { broadcastShapes, checkShape, normAxis, shapesEqual, sizeOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { registerOp } from './registry.js';
import { requireArity, run1 } from './util.js';
import { sumToShape } from './reduce.js';

registerOp<{ shape: readonly number[] }>({
  name: 'reshape',
  infer(inputs, attrs) {
    requireArity('reshape', inputs, 1);
    return [{ shape: attrs.shape, dtype: inputs[0]!.dtype }];
  },
  vjp: (c) => [reshape(c.cotangents[0]!, c.inputs[0]!.shape)],
});

/** Reshape (one dimension may be -1). Copies: tensors own their buffers. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const neg = shape.filter((d) => d === -1).length;
  if (neg > 1) throw new ShapeError(`reshape: at most one -1 allowed in ${fmtShape(shape)}`);
  let target = [...shape];
  if (neg === 1) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) throw new ShapeError(`reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
    target = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  checkShape('reshape', target);
  if (sizeOf(target) !== x.size) throw new ShapeError(`reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
  if (shapesEqual(target, x.shape)) return x;
  return run1('reshape', [x], { shape: target });
}

registerOp<{ perm: readonly number[] }>({
  name: 'transpose',
  infer(inputs, attrs) {
    requireArity('transpose', inputs, 1);
    const x = inputs[0]!;
    return [{ shape: attrs.perm.map((p) => x.shape[p]!), dtype: x.dtype }];
  },
  vjp: (c) => {
    const inv = new Array<number>(c.attrs.perm.length);
    c.attrs.perm.forEach((p, i) => (inv[p] = i));
    return [transpose(c.cotangents[0]!, inv)];
  },
});

/** Permutes axes (default: reverse them). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? perm.map((a) => normAxis('transpose', a, x.rank)) : Array.from({ length: x.rank }, (_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new ShapeError(`transpose: permutation [${(perm ?? []).join(', ')}] is not a permutation of the ${x.rank} axes of ${fmtShape(x.shape)}`);
  }
  if (p.every((a, i) => a === i)) return x;
  return run1('transpose', [x], { perm: p });
}

/** Swaps two axes. */
export function swapAxes(x: Tensor, a: number, b: number): Tensor {
  const p = Array.from({ length: x.rank }, (_, i) => i);
  const i = normAxis('swapAxes', a, x.rank);
  const j = normAxis('swapAxes', b, x.rank);
  [p[i], p[j]] = [p[j]!, p[i]!];
  return transpose(x, p);
}

registerOp<{ begin: readonly number[]; size: readonly number[] }>({
  name: 'slice',
  infer(inputs, attrs) {
    requireArity('slice', inputs, 1);
    return [{ shape: attrs.size, dtype: inputs[0]!.dtype }];
  },
  vjp: (c) => {
    const x = c.inputs[0]!;
    const after = x.shape.map((d, i) => d - c.attrs.begin[i]! - c.attrs.size[i]!);
    return [pad(c.cotangents[0]!, c.attrs.begin, after)];
  },
});

/**
 * A contiguous box: `begin[i]` to `begin[i] + size[i]` on each axis (size -1 = to the end).
 * Missing trailing axes are taken whole.
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  if (begin.length > x.rank) throw new ShapeError(`slice: begin [${begin.join(', ')}] has more entries than ${fmtShape(x.shape)} has axes`);
  const b = x.shape.map((_, i) => begin[i] ?? 0);
  const s = x.shape.map((d, i) => {
    const v = size?.[i] ?? -1;
    return v === -1 ? d - b[i]! : v;
  });
  for (let i = 0; i < x.rank; i++) {
    if (!Number.isInteger(b[i]) || !Number.isInteger(s[i]) || b[i]! < 0 || s[i]! < 0 || b[i]! + s[i]! > x.shape[i]!) {
      throw new ShapeError(`slice: box begin [${b.join(', ')}] size [${s.join(', ')}] does not fit in ${fmtShape(x.shape)} (axis ${i})`);
    }
  }
  if (shapesEqual(s, x.shape)) return x;
  return run1('slice', [x], { begin: b, size: s });
}

registerOp<{ before: readonly number[]; after: readonly number[] }>({
  name: 'pad',
  infer(inputs, attrs) {
    requireArity('pad', inputs, 1);
    const x = inputs[0]!;
    return [{ shape: x.shape.map((d, i) => d + attrs.before[i]! + attrs.after[i]!), dtype: x.dtype }];
  },
  vjp: (c) => [slice(c.cotangents[0]!, c.attrs.before, c.inputs[0]!.shape)],
});

/** Zero padding: `before[i]` zeros ahead of axis i and `after[i]` behind it. */
export function pad(x: Tensor, before: readonly number[], after: readonly number[]): Tensor {
  if (before.length !== x.rank || after.length !== x.rank || [...before, ...after].some((v) => !Number.isInteger(v) || v < 0)) {
    throw new ShapeError(`pad: before [${before.join(', ')}] and after [${after.join(', ')}] must be ${x.rank} non-negative integers for ${fmtShape(x.shape)}`);
  }
  if ([...before, ...after].every((v) => v === 0)) return x;
  return run1('pad', [x], { before, after });
}

registerOp<{ axis: number }>({
  name: 'concat',
  infer(inputs, attrs) {
    if (inputs.length === 0) throw new ShapeError('concat: needs at least one tensor');
    const first = inputs[0]!;
    let total = 0;
    for (const t of inputs) {
      if (t.dtype !== first.dtype) throw new ShapeError(`concat: dtypes differ (${first.dtype} and ${t.dtype})`);
      if (t.shape.length !== first.shape.length || t.shape.some((d, i) => i !== attrs.axis && d !== first.shape[i])) {
        throw new ShapeError(`concat: shapes ${inputs.map((m) => fmtShape(m.shape)).join(', ')} differ outside axis ${attrs.axis}`);
      }
      total += t.shape[attrs.axis]!;
    }
    return [{ shape: first.shape.map((d, i) => (i === attrs.axis ? total : d)), dtype: first.dtype }];
  },
  vjp: (c) => {
    const g = c.cotangents[0]!;
    let off = 0;
    return c.inputs.map((t, i) => {
      const begin = t.shape.map((_, j) => (j === c.attrs.axis ? off : 0));
      off += t.shape[c.attrs.axis]!;
      return c.needsGrad[i] ? slice(g, begin, t.shape) : null;
    });
  },
});

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: needs at least one tensor');
  if (xs.length === 1) return xs[0]!;
  return run1('concat', xs, { axis: normAxis('concat', axis, xs[0]!.rank) });
}

/** Joins tensors of equal shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('stack: needs at least one tensor');
  const r = xs[0]!.rank + 1;
  const a = normAxis('stack', axis, r);
  return concat(xs.map((x) => reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)])), a);
}

registerOp<{ shape: readonly number[] }>({
  name: 'broadcastTo',
  infer(inputs, attrs) {
    requireArity('broadcastTo', inputs, 1);
    const x = inputs[0]!;
    const out = broadcastShapes('broadcastTo', x.shape, attrs.shape);
    if (!shapesEqual(out, attrs.shape)) throw new ShapeError(`broadcastTo: ${fmtShape(x.shape)} cannot be broadcast to ${fmtShape(attrs.shape)}`);
    return [{ shape: attrs.shape, dtype: x.dtype }];
  },
  vjp: (c) => [sumToShape(c.cotangents[0]!, c.inputs[0]!.shape)],
});

export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  return run1('broadcastTo', [x], { shape: [...shape] });
}

/** Inserts a size-1 axis. */
export function expandDims(x: Tensor, axis: number): Tensor {
  const a = normAxis('expandDims', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}
