/**
 * The gradient-property table: for every differentiable primitive, an arbitrary of gradient
 * problems that exercises its VJP (the registry test fails for a differentiable op missing here,
 * and checks that each entry really launches the op it claims to cover).
 */
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import {
  axesArb,
  broadcastShapesArb,
  broadcastableTo,
  hostArb,
  i32,
  indicesArb,
  range,
  shapeArb,
  sizeOf,
  type GradProblem,
  type HostTensor,
  type ValueOpts,
} from './gradcheck.js';
import { mapN } from './host.js';
import { SPARSE_GRAD_CASES } from './sparse_cases.js';

export interface GradCase {
  /** the primitive whose VJP this exercises */
  op: string;
  name: string;
  group: 'elementwise' | 'structural';
  arb: fc.Arbitrary<GradProblem>;
}

const fmt = (s: readonly number[]): string => `[${s.join(',')}]`;

// ------------------------------------------------------------------ elementwise

function unary(op: string, fn: (x: E.Tensor) => E.Tensor, v: ValueOpts, why: string): GradCase {
  return {
    op,
    group: 'elementwise',
    name: `${op}: ${why}`,
    arb: shapeArb()
      .chain((s) => hostArb(s, v))
      .map((x) => ({ inputs: [x], f: fn, label: `${op} ${fmt(x.shape)}` })),
  };
}

function binary(
  op: string,
  fn: (a: E.Tensor, b: E.Tensor) => E.Tensor,
  va: ValueOpts,
  vb: ValueOpts,
  why: string,
  ok: (a: HostTensor, b: HostTensor) => boolean = () => true,
): GradCase {
  return {
    op,
    group: 'elementwise',
    name: `${op}: ${why}`,
    arb: broadcastShapesArb(2)
      .chain(([sa, sb]) => fc.tuple(hostArb(sa!, va), hostArb(sb!, vb)))
      .filter(([a, b]) => ok(a, b))
      .map(([a, b]) => ({ inputs: [a, b], f: fn, label: `${op} ${fmt(a.shape)} ${fmt(b.shape)}` })),
  };
}

/** Operands at least 1e-2 apart everywhere they meet (maximum/minimum have a kink at a = b). */
const apart = (a: HostTensor, b: HostTensor): boolean => mapN([a, b], (x, y) => Math.abs(x - y)).data.every((d) => d >= 1e-2);

const positive: ValueOpts = { min: 0.1, max: 5 };

export const ELEMENTWISE_GRAD_CASES: GradCase[] = [
  unary('neg', E.neg, {}, 'any value'),
  unary('exp', E.exp, {}, 'values in [-3, 3]'),
  unary('log', E.log, positive, 'domain x ≥ 0.1'),
  unary('tanh', E.tanh, {}, 'any value'),
  unary('sqrt', E.sqrt, positive, 'domain x ≥ 0.1'),
  unary('rsqrt', E.rsqrt, positive, 'domain x ≥ 0.1'),
  unary('abs', E.abs, { avoid: [0] }, 'kept away from the kink at 0'),
  unary('relu', E.relu, { avoid: [0] }, 'kept away from the kink at 0'),
  unary('gelu', E.gelu, { min: -4, max: 4 }, 'values in [-4, 4]'),
  binary('add', E.add, {}, {}, 'broadcast shapes'),
  binary('sub', E.sub, {}, {}, 'broadcast shapes'),
  binary('mul', E.mul, {}, {}, 'broadcast shapes'),
  binary('div', E.div, {}, { avoid: [0], margin: 0.3 }, 'divisor |b| ≥ 0.3'),
  binary('pow', E.pow, { min: 0.2, max: 3 }, { min: -2, max: 2 }, 'base in [0.2, 3], exponent in [-2, 2]'),
  binary('maximum', E.maximum, {}, {}, 'operands kept 1e-2 apart', apart),
  binary('minimum', E.minimum, {}, {}, 'operands kept 1e-2 apart', apart),
  {
    op: 'maximum',
    group: 'elementwise',
    name: 'maximum: exact ties split the gradient evenly (one-sided differences average to 1/2)',
    arb: shapeArb()
      .chain((s) => hostArb(s))
      .map((a) => ({ inputs: [a, a], f: (x: E.Tensor, y: E.Tensor) => E.maximum(x, y), label: `maximum tie ${fmt(a.shape)}` })),
  },
  {
    op: 'minimum',
    group: 'elementwise',
    name: 'minimum: exact ties split the gradient evenly',
    arb: shapeArb()
      .chain((s) => hostArb(s))
      .map((a) => ({ inputs: [a, a], f: (x: E.Tensor, y: E.Tensor) => E.minimum(x, y), label: `minimum tie ${fmt(a.shape)}` })),
  },
  {
    op: 'where',
    group: 'elementwise',
    name: 'where: int32 or float condition, three broadcast shapes',
    arb: broadcastShapesArb(3)
      .chain(([sc, sa, sb]) =>
        fc.tuple(
          fc.array(fc.integer({ min: 0, max: 1 }), { minLength: sizeOf(sc!), maxLength: sizeOf(sc!) }),
          fc.boolean(),
          hostArb(sa!),
          hostArb(sb!),
          fc.constant(sc!),
        ),
      )
      .map(([cond, intCond, a, b, sc]) => ({
        inputs: [a, b],
        f: (x: E.Tensor, y: E.Tensor) => E.where(intCond ? i32(cond, sc) : E.tensor(Float64Array.from(cond), sc, 'float64'), x, y),
        label: `where cond ${fmt(sc)} ${intCond ? 'int32' : 'float64'} ${fmt(a.shape)} ${fmt(b.shape)}`,
      })),
  },
  {
    op: 'cast',
    group: 'elementwise',
    name: 'cast float64 → float32 → float64: values, steps and cotangent exact in float32, so the check is exact',
    arb: shapeArb()
      .chain((s) => fc.array(fc.integer({ min: -3072, max: 3072 }), { minLength: sizeOf(s), maxLength: sizeOf(s) }).map((k) => ({ shape: s, data: k.map((v) => v / 1024) })))
      .map((x) => ({
        inputs: [x],
        // 3x stays exact in float32; the cotangent reaches the float32 cast unrounded
        f: (t: E.Tensor) => E.cast(E.cast(E.mul(t, 3), 'float32'), 'float64'),
        opts: { h: 1 / 64, rtol: 1e-12, atol: 1e-12, float32Cotangent: true },
        label: `cast ${fmt(x.shape)}`,
      })),
  },
];

// ------------------------------------------------------------------ reduce, movement, matmul, indexing

/** An axes argument as users write it: undefined (all), one number, or a list, maybe negative. */
function axesSpecArb(rank: number): fc.Arbitrary<number | number[] | undefined> {
  return fc.oneof(
    fc.constant(undefined),
    axesArb(rank).chain((ax) => fc.array(fc.boolean(), { minLength: ax.length, maxLength: ax.length }).map((neg) => ax.map((a, i) => (neg[i] ? a - rank : a)))),
    ...(rank > 0 ? [fc.integer({ min: -rank, max: rank - 1 })] : []),
  );
}

function primeFactors(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; n > 1; p++) while (n % p === 0) (out.push(p), (n /= p));
  return out;
}

/** A different shape with the same element count: factors shuffled and regrouped, size-1 axes inserted, maybe a -1. */
export function reshapeTargetArb(shape: readonly number[]): fc.Arbitrary<number[]> {
  const fs = shape.flatMap(primeFactors);
  return fc
    .tuple(
      fc.shuffledSubarray(fs, { minLength: fs.length, maxLength: fs.length }),
      fc.array(fc.boolean(), { minLength: fs.length, maxLength: fs.length }),
      fc.array(fc.nat(), { maxLength: 2 }),
      fc.option(fc.nat()),
    )
    .map(([perm, cuts, ones, negAt]) => {
      const out: number[] = [];
      perm.forEach((f, i) => {
        if (i > 0 && !cuts[i]) out[out.length - 1]! *= f;
        else out.push(f);
      });
      for (const o of ones) out.splice(o % (out.length + 1), 0, 1);
      if (negAt !== null && out.length > 0) out[negAt % out.length] = -1;
      return out;
    });
}

const valuesOf = (shape: readonly number[], v: ValueOpts = {}) => hostArb(shape, v);

export const STRUCTURAL_GRAD_CASES: GradCase[] = [
  {
    op: 'sum',
    group: 'structural',
    name: 'sum: any subset of axes (all, one, list, negative), keepdims',
    arb: shapeArb()
      .chain((s) => fc.tuple(valuesOf(s), axesSpecArb(s.length), fc.boolean()))
      .map(([x, axes, kd]) => ({ inputs: [x], f: (t: E.Tensor) => E.sum(t, axes, kd), label: `sum ${fmt(x.shape)} axes ${JSON.stringify(axes)} keepdims ${kd}` })),
  },
  {
    op: 'max',
    group: 'structural',
    name: 'max: distinct values (no ties), any subset of axes, keepdims',
    arb: shapeArb()
      .chain((s) => fc.tuple(valuesOf(s, { distinct: true }), axesSpecArb(s.length), fc.boolean()))
      .map(([x, axes, kd]) => ({ inputs: [x], f: (t: E.Tensor) => E.max(t, axes, kd), label: `max ${fmt(x.shape)} axes ${JSON.stringify(axes)} keepdims ${kd}` })),
  },
  {
    op: 'reshape',
    group: 'structural',
    name: 'reshape: regrouped factors, inserted size-1 axes, -1',
    arb: shapeArb()
      .chain((s) => fc.tuple(valuesOf(s), reshapeTargetArb(s)))
      .map(([x, target]) => ({ inputs: [x], f: (t: E.Tensor) => E.reshape(t, target), label: `reshape ${fmt(x.shape)} → ${fmt(target)}` })),
  },
  {
    op: 'transpose',
    group: 'structural',
    name: 'transpose: random permutations (and the default reversal)',
    arb: shapeArb({ minRank: 1 })
      .chain((s) => fc.tuple(valuesOf(s), fc.option(fc.shuffledSubarray(range(s.length), { minLength: s.length, maxLength: s.length }))))
      .map(([x, perm]) => ({
        inputs: [x],
        f: (t: E.Tensor) => E.transpose(t, perm ?? undefined),
        label: `transpose ${fmt(x.shape)} perm ${perm ? fmt(perm) : 'default'}`,
      })),
  },
  {
    op: 'slice',
    group: 'structural',
    name: 'slice: any box, including empty ones and -1 sizes',
    arb: shapeArb({ minRank: 1, maxDim: 4 })
      .chain((s) =>
        fc.tuple(
          valuesOf(s),
          fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: -1, max: d - b }))))),
        ),
      )
      .map(([x, box]) => {
        const begin = box.map(([b]) => b);
        const size = box.map(([, n]) => n);
        return { inputs: [x], f: (t: E.Tensor) => E.slice(t, begin, size), label: `slice ${fmt(x.shape)} begin ${fmt(begin)} size ${fmt(size)}` };
      }),
  },
  {
    op: 'pad',
    group: 'structural',
    name: 'pad: 0–2 zeros before and after each axis',
    arb: shapeArb({ maxSize: 24 })
      .chain((s) =>
        fc.tuple(
          valuesOf(s),
          fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length }),
          fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length }),
        ),
      )
      .map(([x, before, after]) => ({ inputs: [x], f: (t: E.Tensor) => E.pad(t, before, after), label: `pad ${fmt(x.shape)} ${fmt(before)} ${fmt(after)}` })),
  },
  {
    op: 'concat',
    group: 'structural',
    name: 'concat: 2–3 pieces (some empty) along any axis',
    arb: shapeArb({ minRank: 1, maxRank: 3, maxSize: 12 })
      .chain((s) =>
        fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 3 }), fc.boolean()),
      )
      .chain(([s, axis, lens, negAxis]) =>
        fc.tuple(fc.tuple(...lens.map((n) => valuesOf(s.map((d, i) => (i === axis ? n : d))))), fc.constant(negAxis ? axis - s.length : axis)),
      )
      .map(([xs, axis]) => ({
        inputs: xs,
        f: (...ts: E.Tensor[]) => E.concat(ts, axis),
        label: `concat ${xs.map((x) => fmt(x.shape)).join(' ')} axis ${axis}`,
      })),
  },
  {
    op: 'broadcastTo',
    group: 'structural',
    name: 'broadcastTo: missing leading axes and size-1 axes expanded',
    arb: shapeArb()
      .chain((out) => fc.tuple(fc.constant(out), broadcastableTo(out)))
      .chain(([out, s]) => fc.tuple(fc.constant(out), valuesOf(s)))
      .map(([out, x]) => ({ inputs: [x], f: (t: E.Tensor) => E.broadcastTo(t, out), label: `broadcastTo ${fmt(x.shape)} → ${fmt(out)}` })),
  },
  {
    op: 'matmul',
    group: 'structural',
    name: 'matmul: transA/transB, broadcast batch axes',
    arb: fc
      .tuple(broadcastShapesArb(2, { maxRank: 2, maxSize: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean())
      .chain(([[ba, bb], M, K, N, tA, tB]) =>
        fc.tuple(valuesOf([...ba!, ...(tA ? [K, M] : [M, K])]), valuesOf([...bb!, ...(tB ? [N, K] : [K, N])]), fc.constant(tA), fc.constant(tB)),
      )
      .map(([a, b, tA, tB]) => ({
        inputs: [a, b],
        f: (x: E.Tensor, y: E.Tensor) => E.matmul(x, y, tA, tB),
        label: `matmul ${fmt(a.shape)}${tA ? 'ᵀ' : ''} @ ${fmt(b.shape)}${tB ? 'ᵀ' : ''}`,
      })),
  },
  {
    op: 'matmul',
    group: 'structural',
    name: 'matmul: 1-D operands (row/column vectors, NumPy rules)',
    arb: fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3 }))
      .chain(([K, N, kind]) => {
        const sa = kind === 0 || kind === 1 ? [K] : [2, N, K];
        const sb = kind === 0 || kind === 2 ? [K] : [K, N];
        return fc.tuple(valuesOf(sa), valuesOf(sb));
      })
      .map(([a, b]) => ({ inputs: [a, b], f: (x: E.Tensor, y: E.Tensor) => E.matmul(x, y), label: `matmul ${fmt(a.shape)} @ ${fmt(b.shape)}` })),
  },
  {
    op: 'gather',
    group: 'structural',
    name: 'gather: any axis, index tensors of rank 0–2 with repeats',
    arb: shapeArb({ minRank: 1, maxRank: 3, maxSize: 18 })
      .chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), shapeArb({ maxRank: 2, minDim: 0, maxSize: 6 })))
      .chain(([s, axis, is]) => fc.tuple(valuesOf(s), fc.constant(axis), fc.constant(is), indicesArb(is, s[axis]!)))
      .map(([x, axis, is, idx]) => ({
        inputs: [x],
        f: (t: E.Tensor) => E.gather(t, i32(idx, is), axis),
        label: `gather ${fmt(x.shape)} axis ${axis} indices ${fmt(is)} ${fmt(idx)}`,
      })),
  },
  {
    op: 'scatterAdd',
    group: 'structural',
    name: 'scatterAdd: target and updates, repeated indices accumulate',
    arb: shapeArb({ minRank: 1, maxRank: 3, maxSize: 18 })
      .chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), shapeArb({ maxRank: 2, maxSize: 6 })))
      .chain(([s, axis, is]) =>
        fc.tuple(valuesOf(s), valuesOf([...s.slice(0, axis), ...is, ...s.slice(axis + 1)]), fc.constant(axis), fc.constant(is), indicesArb(is, s[axis]!)),
      )
      .map(([x, u, axis, is, idx]) => ({
        inputs: [x, u],
        f: (t: E.Tensor, v: E.Tensor) => E.scatterAdd(t, i32(idx, is), v, axis),
        label: `scatterAdd ${fmt(x.shape)} axis ${axis} indices ${fmt(is)} ${fmt(idx)}`,
      })),
  },
  {
    op: 'takeAlongAxis',
    group: 'structural',
    name: 'takeAlongAxis: any axis, 0–3 picks per row with repeats',
    arb: shapeArb({ minRank: 1, maxRank: 3, maxSize: 18 })
      .chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), fc.integer({ min: 0, max: 3 })))
      .chain(([s, axis, m]) => {
        const is = s.map((d, i) => (i === axis ? m : d));
        return fc.tuple(valuesOf(s), fc.constant(axis), fc.constant(is), indicesArb(is, s[axis]!));
      })
      .map(([x, axis, is, idx]) => ({
        inputs: [x],
        f: (t: E.Tensor) => E.takeAlongAxis(t, i32(idx, is), axis),
        label: `takeAlongAxis ${fmt(x.shape)} axis ${axis} indices ${fmt(is)} ${fmt(idx)}`,
      })),
  },
  {
    op: 'scatterAddAlongAxis',
    group: 'structural',
    name: 'scatterAddAlongAxis: target and updates, repeats accumulate',
    arb: shapeArb({ minRank: 1, maxRank: 3, maxSize: 18 })
      .chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), fc.integer({ min: 0, max: 3 })))
      .chain(([s, axis, m]) => {
        const is = s.map((d, i) => (i === axis ? m : d));
        return fc.tuple(valuesOf(s), valuesOf(is), fc.constant(axis), fc.constant(is), indicesArb(is, s[axis]!));
      })
      .map(([x, u, axis, is, idx]) => ({
        inputs: [x, u],
        f: (t: E.Tensor, v: E.Tensor) => E.scatterAddAlongAxis(t, i32(idx, is), v, axis),
        label: `scatterAddAlongAxis ${fmt(x.shape)} axis ${axis} indices ${fmt(is)} ${fmt(idx)}`,
      })),
  },
];

export const GRAD_CASES: GradCase[] = [...ELEMENTWISE_GRAD_CASES, ...STRUCTURAL_GRAD_CASES, ...SPARSE_GRAD_CASES];
