/**
 * The forward-check table: for every registered op, a property comparing the engine's output with
 * an independent formula (Math.* per element, naive multi-index loops in host.ts), in float64 and,
 * where the op takes floats, float32 (expected = the float64 formula on float32 inputs, rounded).
 * The registry test fails for an op missing here.
 */
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import {
  axesArb,
  broadcastShapesArb,
  broadcastableTo,
  i32,
  indicesArb,
  range,
  shapeArb,
  sizeOf,
  type HostTensor,
} from './gradcheck.js';
import {
  argmaxH,
  broadcastToH,
  concatH,
  expectClose,
  expectNd,
  gatherH,
  geluF,
  mapN,
  matmulH,
  maxH,
  padH,
  scatterAddAlongH,
  scatterAddH,
  sliceH,
  sumH,
  takeAlongH,
  topkH,
  transposeH,
} from './host.js';
import { reshapeTargetArb } from './grad_cases.js';
import { SPARSE_FORWARD_CASES } from './sparse_cases.js';

export interface Check {
  label: string;
  run: () => void;
}

export interface ForwardCase {
  op: string;
  name: string;
  arb: fc.Arbitrary<Check>;
}

type FloatDType = 'float32' | 'float64';
const fmt = (s: readonly number[]): string => `[${s.join(',')}]`;
const floatDtype = fc.constantFrom<FloatDType>('float64', 'float32');
/** What storing a float64 value into `dtype` does. */
const rounder = (d: E.DType): ((v: number) => number) => (d === 'float32' ? Math.fround : d === 'int32' ? (v) => v | 0 : (v) => v);
const upload = (h: HostTensor, d: E.DType): E.Tensor => E.tensor(Float64Array.from(h.data), h.shape, d);
const roundNd = (h: HostTensor, d: E.DType): HostTensor => ({ shape: h.shape, data: h.data.map(rounder(d)) });

/** Mostly ordinary values, plus the IEEE specials every kernel must pass through like Math.* does. */
const special = fc.constantFrom(0, -0, 1, -1, 0.5, Infinity, -Infinity, NaN, 1e-310, -3e38, 1e300);
const anyDouble = fc.oneof(
  { weight: 5, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 2, arbitrary: special },
  { weight: 1, arbitrary: fc.double() },
);
/** Small integers, so that equal values (ties, equality) actually happen. */
const smallInt = fc.integer({ min: -2, max: 2 });
const dataArb = (shape: readonly number[], values: fc.Arbitrary<number> = anyDouble): fc.Arbitrary<HostTensor> =>
  fc.array(values, { minLength: sizeOf(shape), maxLength: sizeOf(shape) }).map((data) => ({ shape: [...shape], data }));
const finiteArb = (shape: readonly number[]): fc.Arbitrary<HostTensor> => dataArb(shape, fc.double({ min: -5, max: 5, noNaN: true }));
const mixedArb = (shape: readonly number[]): fc.Arbitrary<HostTensor> => dataArb(shape, fc.oneof(smallInt, fc.double({ min: -3, max: 3, noNaN: true })));

/** Empty axes included: kernels must handle zero-size tensors. */
const anyShape = shapeArb({ minDim: 0, maxSize: 48 });

function fcase<T>(op: string, name: string, arb: fc.Arbitrary<T>, label: (t: T) => string, run: (t: T) => void): ForwardCase {
  return { op, name, arb: arb.map((t) => ({ label: label(t), run: () => E.tidy(() => run(t)) })) };
}

// ------------------------------------------------------------------ elementwise

const UNARY: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  sign: Math.sign,
  // PyTorch semantics: NaN propagates through relu
  relu: (x) => (Number.isNaN(x) ? NaN : Math.max(x, 0)),
  heaviside: (x) => (x > 0 ? 1 : 0),
};

const unaryCases: ForwardCase[] = Object.entries(UNARY).map(([op, f]) =>
  fcase(
    op,
    `${op}: Math formula per element, specials included, float64 and float32`,
    fc.tuple(anyShape.chain((s) => dataArb(s)), floatDtype),
    ([x, d]) => `${op} ${fmt(x.shape)} ${d}`,
    ([x, d]) => {
      const y = (E as unknown as Record<string, (t: E.Tensor) => E.Tensor>)[op]!(upload(x, d));
      expect(y.dtype === d, `${op}: dtype ${y.dtype}`);
      expectNd(y, roundNd(mapN([roundNd(x, d)], f), d), 0, 0, op);
    },
  ),
);

/** gelu and its derivative on finite inputs (GELU(±∞) involves ∞·0). */
const geluCases: ForwardCase[] = [
  fcase(
    'gelu',
    'gelu: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))',
    fc.tuple(anyShape.chain((s) => dataArb(s, fc.double({ min: -1e3, max: 1e3, noNaN: true }))), floatDtype),
    ([x, d]) => `gelu ${fmt(x.shape)} ${d}`,
    ([x, d]) => expectNd(E.gelu(upload(x, d)), roundNd(mapN([roundNd(x, d)], geluF), d), d === 'float32' ? 1e-6 : 1e-14, 1e-300, 'gelu'),
  ),
  fcase(
    'geluGrad',
    'geluGrad: matches central differences of the gelu formula',
    anyShape.chain((s) => dataArb(s, fc.double({ min: -6, max: 6, noNaN: true }))),
    (x) => `geluGrad ${fmt(x.shape)}`,
    (x) => {
      const h = 1e-6;
      expectNd(E.geluGrad(upload(x, 'float64')), mapN([x], (v) => (geluF(v + h) - geluF(v - h)) / (2 * h)), 1e-7, 1e-8, 'geluGrad');
    },
  ),
];

const BINARY: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: (a, b) => Math.max(a, b),
  minimum: (a, b) => Math.min(a, b),
  equal: (a, b) => Number(a === b),
  notEqual: (a, b) => Number(a !== b),
  greater: (a, b) => Number(a > b),
  greaterEqual: (a, b) => Number(a >= b),
  less: (a, b) => Number(a < b),
  lessEqual: (a, b) => Number(a <= b),
};
const FLOAT_ONLY = new Set(['div', 'pow']);

const binaryCases: ForwardCase[] = Object.entries(BINARY).map(([op, f]) =>
  fcase(
    op,
    `${op}: broadcast (ranks 0–4, empty axes), specials and ties, ${FLOAT_ONLY.has(op) ? 'float64/float32' : 'float64/float32/int32'}`,
    fc
      .tuple(broadcastShapesArb(2, { minDim: 0, maxSize: 48 }), FLOAT_ONLY.has(op) ? floatDtype : fc.constantFrom<E.DType>('float64', 'float32', 'int32'))
      .chain(([[sa, sb], d]) =>
        fc.tuple(
          d === 'int32' ? dataArb(sa!, fc.integer({ min: -1000, max: 1000 })) : dataArb(sa!, fc.oneof(anyDouble, smallInt)),
          d === 'int32' ? dataArb(sb!, fc.integer({ min: -1000, max: 1000 })) : dataArb(sb!, fc.oneof(anyDouble, smallInt)),
          fc.constant(d),
        ),
      ),
    ([a, b, d]) => `${op} ${fmt(a.shape)} ${fmt(b.shape)} ${d}`,
    ([a, b, d]) => {
      const y = (E as unknown as Record<string, (x: E.Tensor, y: E.Tensor) => E.Tensor>)[op]!(upload(a, d), upload(b, d));
      expect(y.dtype === d, `${op}: dtype ${y.dtype}`);
      expectNd(y, roundNd(mapN([roundNd(a, d), roundNd(b, d)], f), d), 0, 0, op);
    },
  ),
);

const whereCase = fcase(
  'where',
  'where: cond ≠ 0 (NaN counts as true) picks a, three broadcast shapes',
  fc
    .tuple(broadcastShapesArb(3, { minDim: 0, maxSize: 48 }), fc.constantFrom<E.DType>('int32', 'float64', 'float32'), floatDtype)
    .chain(([[sc, sa, sb], cd, d]) =>
      fc.tuple(dataArb(sc!, cd === 'int32' ? smallInt : fc.constantFrom(0, -0, 1, NaN, -2.5)), fc.constant(cd), finiteArb(sa!), finiteArb(sb!), fc.constant(d)),
    ),
  ([c, cd, a, b, d]) => `where ${fmt(c.shape)} ${cd} ${fmt(a.shape)} ${fmt(b.shape)} ${d}`,
  ([c, cd, a, b, d]) => {
    const y = E.where(upload(c, cd), upload(a, d), upload(b, d));
    expectNd(y, roundNd(mapN([c, a, b], (cv, av, bv) => (cv !== 0 ? av : bv)), d), 0, 0, 'where');
  },
);

const castCase = fcase(
  'cast',
  'cast: float→int truncates toward zero, float64→float32 rounds, int→float exact',
  fc
    .tuple(anyShape, fc.constantFrom<E.DType>('float64', 'float32', 'int32'), fc.constantFrom<E.DType>('float64', 'float32', 'int32'))
    .chain(([s, from, to]) => fc.tuple(dataArb(s, from === 'int32' ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) : fc.double({ min: -2e9, max: 2e9, noNaN: true })), fc.constant(from), fc.constant(to))),
  ([x, from, to]) => `cast ${fmt(x.shape)} ${from}→${to}`,
  ([x, from, to]) => {
    const src = roundNd(x, from === 'int32' ? 'float64' : from);
    const y = E.cast(upload(src, from), to);
    expect(y.dtype === to, `cast: dtype ${y.dtype}`);
    const conv = to === 'int32' ? (v: number) => Math.trunc(v) | 0 : rounder(to);
    expectNd(y, { shape: src.shape, data: src.data.map((v) => conv(from === 'int32' ? Math.trunc(v) : v)) }, 0, 0, 'cast');
  },
);

// ------------------------------------------------------------------ reduce

const reduceCases: ForwardCase[] = [
  fcase(
    'sum',
    'sum: any axes subset, keepdims, empty axes, float64/float32/int32',
    anyShape.chain((s) => fc.tuple(mixedArb(s), axesArb(s.length), fc.boolean(), fc.constantFrom<E.DType>('float64', 'float32', 'int32'))),
    ([x, ax, kd, d]) => `sum ${fmt(x.shape)} axes ${fmt(ax)} keepdims ${kd} ${d}`,
    ([x, ax, kd, d]) => {
      const xr = roundNd(x, d === 'int32' ? 'int32' : d);
      expectNd(E.sum(upload(xr, d), ax, kd), roundNd(sumH(xr, [...ax].sort(), kd), d), d === 'float32' ? 1e-6 : 1e-13, d === 'float32' ? 1e-5 : 1e-12, 'sum');
    },
  ),
  fcase(
    'max',
    'max: any non-empty axes, keepdims, ties, ±Infinity, NaN propagates',
    shapeArb({ maxSize: 48 }).chain((s) => fc.tuple(dataArb(s, fc.oneof(smallInt, special, fc.double({ min: -5, max: 5, noNaN: true }))), axesArb(s.length), fc.boolean(), floatDtype)),
    ([x, ax, kd, d]) => `max ${fmt(x.shape)} axes ${fmt(ax)} keepdims ${kd} ${d}`,
    ([x, ax, kd, d]) => {
      const xr = roundNd(x, d);
      expectNd(E.max(upload(xr, d), ax, kd), maxH(xr, ax, kd), 0, 0, 'max');
    },
  ),
  fcase(
    'argmax',
    'argmax: first index of the maximum along any axis, ties, ±Infinity',
    shapeArb({ minRank: 1, maxSize: 48 }).chain((s) =>
      fc.tuple(dataArb(s, fc.oneof(smallInt, fc.constantFrom(Infinity, -Infinity))), fc.integer({ min: -s.length, max: s.length - 1 }), fc.constantFrom<E.DType>('float64', 'float32', 'int32')),
    ),
    ([x, axis, d]) => `argmax ${fmt(x.shape)} axis ${axis} ${d}`,
    ([x, axis, d]) => {
      const xs = d === 'int32' ? { shape: x.shape, data: x.data.map((v) => (Number.isFinite(v) ? v : Math.sign(v) * 1e9)) } : x;
      const y = E.argmax(upload(xs, d), axis);
      expect(y.dtype === 'int32', `argmax dtype ${y.dtype}`);
      expectNd(y, argmaxH(xs, axis < 0 ? axis + x.shape.length : axis), 0, 0, 'argmax');
    },
  ),
];

// ------------------------------------------------------------------ movement

const movementCases: ForwardCase[] = [
  fcase(
    'reshape',
    'reshape: row-major order preserved, -1 inferred',
    shapeArb({ maxSize: 48 }).chain((s) => fc.tuple(mixedArb(s), reshapeTargetArb(s))),
    ([x, t]) => `reshape ${fmt(x.shape)} → ${fmt(t)}`,
    ([x, t]) => {
      const y = E.reshape(upload(x, 'float64'), t);
      const want = t.map((d) => (d === -1 ? sizeOf(x.shape) / -sizeOf(t) : d));
      expectNd(y, { shape: want, data: x.data }, 0, 0, 'reshape');
    },
  ),
  fcase(
    'transpose',
    'transpose: out[i_perm] = x[i]',
    anyShape.chain((s) => fc.tuple(mixedArb(s), fc.shuffledSubarray(range(s.length), { minLength: s.length, maxLength: s.length }), fc.constantFrom<E.DType>('float64', 'int32'))),
    ([x, p, d]) => `transpose ${fmt(x.shape)} ${fmt(p)} ${d}`,
    ([x, p, d]) => {
      const xr = roundNd(x, d);
      expectNd(E.transpose(upload(xr, d), p), transposeH(xr, p), 0, 0, 'transpose');
    },
  ),
  fcase(
    'slice',
    'slice: any box inside the tensor',
    shapeArb({ minRank: 1, minDim: 0, maxDim: 4, maxSize: 48 }).chain((s) =>
      fc.tuple(mixedArb(s), fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: 0, max: d - b })))))),
    ),
    ([x, box]) => `slice ${fmt(x.shape)} ${JSON.stringify(box)}`,
    ([x, box]) => {
      const begin = box.map(([b]) => b);
      const size = box.map(([, n]) => n);
      expectNd(E.slice(upload(x, 'float64'), begin, size), sliceH(x, begin, size), 0, 0, 'slice');
    },
  ),
  fcase(
    'pad',
    'pad: zeros around, original values inside',
    anyShape.chain((s) =>
      fc.tuple(mixedArb(s), fc.array(fc.nat(2), { minLength: s.length, maxLength: s.length }), fc.array(fc.nat(2), { minLength: s.length, maxLength: s.length }), fc.constantFrom<E.DType>('float64', 'float32', 'int32')),
    ),
    ([x, b, a, d]) => `pad ${fmt(x.shape)} ${fmt(b)} ${fmt(a)} ${d}`,
    ([x, b, a, d]) => {
      const xr = roundNd(x, d);
      expectNd(E.pad(upload(xr, d), b, a), padH(xr, b, a), 0, 0, 'pad');
    },
  ),
  fcase(
    'concat',
    'concat: 2–4 pieces along any axis, empty pieces',
    shapeArb({ minRank: 1, minDim: 0, maxSize: 24 })
      .chain((s) => fc.tuple(fc.constant(s), fc.nat(s.length - 1), fc.array(fc.nat(3), { minLength: 2, maxLength: 4 }), fc.constantFrom<E.DType>('float64', 'int32')))
      .chain(([s, axis, lens, d]) => fc.tuple(fc.tuple(...lens.map((n) => mixedArb(s.map((v, i) => (i === axis ? n : v))))), fc.constant(axis), fc.constant(d))),
    ([xs, axis, d]) => `concat ${xs.map((x) => fmt(x.shape)).join(' ')} axis ${axis} ${d}`,
    ([xs, axis, d]) => {
      const xr = xs.map((x) => roundNd(x, d));
      expectNd(E.concat(xr.map((x) => upload(x, d)), axis), concatH(xr, axis), 0, 0, 'concat');
    },
  ),
  fcase(
    'broadcastTo',
    'broadcastTo: size-1 and missing axes repeated',
    shapeArb({ minDim: 0, maxSize: 48 }).chain((out) => fc.tuple(fc.constant(out), broadcastableTo(out))).chain(([out, s]) => fc.tuple(fc.constant(out), mixedArb(s))),
    ([out, x]) => `broadcastTo ${fmt(x.shape)} → ${fmt(out)}`,
    ([out, x]) => expectNd(E.broadcastTo(upload(x, 'float64'), out), broadcastToH(x, out), 0, 0, 'broadcastTo'),
  ),
];

// ------------------------------------------------------------------ matmul, indexing, creation, topk

const otherCases: ForwardCase[] = [
  fcase(
    'matmul',
    'matmul: naive triple loop, transA/transB, broadcast batch axes, K = 0',
    fc
      .tuple(broadcastShapesArb(2, { maxRank: 2, maxSize: 6 }), fc.nat(4), fc.nat(4), fc.nat(4), fc.boolean(), fc.boolean(), floatDtype)
      .chain(([[ba, bb], M, K, N, tA, tB, d]) =>
        fc.tuple(finiteArb([...ba!, ...(tA ? [K, M] : [M, K])]), finiteArb([...bb!, ...(tB ? [N, K] : [K, N])]), fc.constant(tA), fc.constant(tB), fc.constant(d)),
      ),
    ([a, b, tA, tB, d]) => `matmul ${fmt(a.shape)}${tA ? 'ᵀ' : ''} @ ${fmt(b.shape)}${tB ? 'ᵀ' : ''} ${d}`,
    ([a, b, tA, tB, d]) => {
      const [ar, br] = [roundNd(a, d), roundNd(b, d)];
      expectNd(E.matmul(upload(ar, d), upload(br, d), tA, tB), matmulH(ar, br, tA, tB), d === 'float32' ? 1e-5 : 1e-13, d === 'float32' ? 1e-5 : 1e-13, 'matmul');
    },
  ),
  fcase(
    'gather',
    'gather: rows picked along any axis by an index tensor of rank 0–2',
    shapeArb({ minRank: 1, maxRank: 3, maxSize: 24 })
      .chain((s) => fc.tuple(fc.constant(s), fc.nat(s.length - 1), shapeArb({ maxRank: 2, minDim: 0, maxSize: 6 }), fc.constantFrom<E.DType>('float64', 'int32')))
      .chain(([s, axis, is, d]) => fc.tuple(mixedArb(s), fc.constant(axis), indicesArb(is, s[axis]!).map((data) => ({ shape: is, data })), fc.constant(d))),
    ([x, axis, idx, d]) => `gather ${fmt(x.shape)} axis ${axis} ${fmt(idx.shape)} ${d}`,
    ([x, axis, idx, d]) => {
      const xr = roundNd(x, d);
      expectNd(E.gather(upload(xr, d), i32(idx.data, idx.shape), axis), gatherH(xr, idx, axis), 0, 0, 'gather');
    },
  ),
  fcase(
    'scatterAdd',
    'scatterAdd: repeated indices accumulate into a copy of the target',
    shapeArb({ minRank: 1, maxRank: 3, maxSize: 24 })
      .chain((s) => fc.tuple(fc.constant(s), fc.nat(s.length - 1), shapeArb({ maxRank: 2, minDim: 0, maxSize: 6 })))
      .chain(([s, axis, is]) =>
        fc.tuple(mixedArb(s), fc.constant(axis), indicesArb(is, s[axis]!).map((data) => ({ shape: is, data })), mixedArb([...s.slice(0, axis), ...is, ...s.slice(axis + 1)])),
      ),
    ([x, axis, idx]) => `scatterAdd ${fmt(x.shape)} axis ${axis} ${fmt(idx.shape)} ${JSON.stringify(idx.data)}`,
    ([x, axis, idx, u]) =>
      expectNd(E.scatterAdd(upload(x, 'float64'), i32(idx.data, idx.shape), upload(u, 'float64'), axis), scatterAddH(x, idx, u, axis), 1e-14, 1e-14, 'scatterAdd'),
  ),
  fcase(
    'takeAlongAxis',
    'takeAlongAxis: out[..i..] = x[..idx[..i..]..] along any axis',
    shapeArb({ minRank: 1, maxRank: 3, maxSize: 24 })
      .chain((s) => fc.tuple(fc.constant(s), fc.nat(s.length - 1), fc.nat(3)))
      .chain(([s, axis, m]) => {
        const is = s.map((d, i) => (i === axis ? m : d));
        return fc.tuple(mixedArb(s), fc.constant(axis), indicesArb(is, s[axis]!).map((data) => ({ shape: is, data })));
      }),
    ([x, axis, idx]) => `takeAlongAxis ${fmt(x.shape)} axis ${axis} ${fmt(idx.shape)}`,
    ([x, axis, idx]) => expectNd(E.takeAlongAxis(upload(x, 'float64'), i32(idx.data, idx.shape), axis), takeAlongH(x, idx, axis), 0, 0, 'takeAlongAxis'),
  ),
  fcase(
    'scatterAddAlongAxis',
    'scatterAddAlongAxis: repeats accumulate',
    shapeArb({ minRank: 1, maxRank: 3, maxSize: 24 })
      .chain((s) => fc.tuple(fc.constant(s), fc.nat(s.length - 1), fc.nat(3)))
      .chain(([s, axis, m]) => {
        const is = s.map((d, i) => (i === axis ? m : d));
        return fc.tuple(mixedArb(s), fc.constant(axis), indicesArb(is, s[axis]!).map((data) => ({ shape: is, data })), mixedArb(is));
      }),
    ([x, axis, idx]) => `scatterAddAlongAxis ${fmt(x.shape)} axis ${axis} ${fmt(idx.shape)}`,
    ([x, axis, idx, u]) =>
      expectNd(E.scatterAddAlongAxis(upload(x, 'float64'), i32(idx.data, idx.shape), upload(u, 'float64'), axis), scatterAddAlongH(x, idx, u, axis), 1e-14, 1e-14, 'scatterAddAlongAxis'),
  ),
  fcase(
    'full',
    'full: every element set, every dtype',
    fc.tuple(anyShape, fc.oneof(smallInt, special), fc.constantFrom<E.DType>('float64', 'float32', 'int32')),
    ([s, v, d]) => `full ${fmt(s)} ${v} ${d}`,
    ([s, v, d]) => {
      const y = E.full(s, v, d);
      const want = d === 'int32' ? (Number.isFinite(v) ? Math.trunc(v) | 0 : 0) : rounder(d)(v);
      expectNd(y, { shape: s, data: Array.from({ length: sizeOf(s) }, () => want) }, 0, 0, 'full');
    },
  ),
  fcase(
    'arange',
    'arange: start, start+step, ... below stop (negative steps, one-argument form)',
    fc.tuple(fc.integer({ min: -6, max: 6 }), fc.integer({ min: -6, max: 6 }), fc.integer({ min: -3, max: 3 }).filter((v) => v !== 0), fc.boolean(), fc.constantFrom<E.DType>('int32', 'float64')),
    ([a, b, st, one, d]) => (one ? `arange(${Math.abs(a)})` : `arange(${a}, ${b}, ${st})`) + ` ${d}`,
    ([a, b, st, one, d]) => {
      const want: number[] = [];
      if (one) for (let v = 0; v < Math.abs(a); v++) want.push(v);
      else for (let v = a; st > 0 ? v < b : v > b; v += st) want.push(v);
      const y = one ? E.arange(Math.abs(a), undefined, 1, d) : E.arange(a, b, st, d);
      expect(y.dtype === d, `arange dtype ${y.dtype}`);
      expectNd(y, { shape: [want.length], data: want }, 0, 0, 'arange');
    },
  ),
  fcase(
    'stopGradient',
    'stopGradient: an identical copy',
    fc.tuple(anyShape.chain((s) => dataArb(s)), fc.constantFrom<E.DType>('float64', 'float32')),
    ([x, d]) => `stopGradient ${fmt(x.shape)} ${d}`,
    ([x, d]) => expectNd(E.stopGradient(upload(x, d)), roundNd(x, d), 0, 0, 'stopGradient'),
  ),
  fcase(
    'topkIndices',
    'topkIndices: sort-based reference, ties to the lower index, ±Infinity, any k in [0, n]',
    shapeArb({ minRank: 1, maxSize: 48 }).chain((s) =>
      fc.tuple(dataArb(s, fc.oneof(smallInt, fc.constantFrom(Infinity, -Infinity, -0), fc.double({ min: -3, max: 3, noNaN: true }))), fc.nat(s[s.length - 1]!), floatDtype),
    ),
    ([x, k, d]) => `topkIndices ${fmt(x.shape)} k ${k} ${d}`,
    ([x, k, d]) => {
      const xr = roundNd(x, d);
      const y = E.topkIndices(upload(xr, d), k);
      expect(y.dtype === 'int32', `topkIndices dtype ${y.dtype}`);
      expectNd(y, topkH(xr, k).indices, 0, 0, 'topkIndices');
    },
  ),
  fcase(
    'gsaeTopkIndices',
    'gsaeTopkIndices: top k of z ⊙ (1 + β|g Wᵀ|) by a host sort (small integers: every score exact, many ties)',
    fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 9 }))
      .chain(([B, d, m]) =>
        fc.tuple(
          dataArb([B, m], smallInt), dataArb([B, d], smallInt), dataArb([m, d], smallInt),
          fc.integer({ min: 0, max: m }), fc.constantFrom(0, 0.5, 1, 2), floatDtype,
        ),
      ),
    ([z, g, w, k, beta]) => `gsaeTopkIndices z ${fmt(z.shape)} d ${g.shape[1]} k ${k} β ${beta}`,
    ([z, g, w, k, beta, d]) => {
      const [B, m] = z.shape as [number, number];
      const dIn = g.shape[1]!;
      const s = z.data.map((zv, p) => {
        const b = Math.floor(p / m), i = p % m;
        let a = 0;
        for (let t = 0; t < dIn; t++) a += g.data[b * dIn + t]! * w.data[i * dIn + t]!;
        return zv * (1 + beta * Math.abs(a));
      });
      const y = E.gsaeTopkIndices(upload(z, d), upload(g, d), upload(w, d), k, beta);
      expect(y.dtype === 'int32' && y.shape[0] === B && y.shape[1] === k, `gsaeTopkIndices ${y.dtype} ${fmt(y.shape)}`);
      expectNd(y, topkH({ shape: [B, m], data: s }, k).indices, 0, 0, 'gsaeTopkIndices');
    },
  ),
];

function expect(ok: boolean, msg: string): void {
  if (!ok) throw new Error(msg);
}

export const ELEMENTWISE_FORWARD_CASES: ForwardCase[] = [...unaryCases, ...geluCases, ...binaryCases, whereCase, castCase];
export const STRUCTURAL_FORWARD_CASES: ForwardCase[] = [...reduceCases, ...movementCases, ...otherCases];
export const FORWARD_CASES: ForwardCase[] = [...ELEMENTWISE_FORWARD_CASES, ...STRUCTURAL_FORWARD_CASES, ...SPARSE_FORWARD_CASES];
export { expectClose };
