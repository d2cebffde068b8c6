/**
 * Elementwise kernels against the reference backend: every unary and binary op, where, on shapes
 * that are not multiples of the SIMD width, size-1 and broadcast dims, empty tensors, and values
 * that include NaN, ±Inf, ±0 and subnormals.
 */
import { afterAll, describe, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import { expectClose, expectNoFallback, on, WASM, WASM_1T, type Tol } from './helpers.js';

const REF = 'reference';
const SEED = 20261121;

/** float32 values, special ones included (fast-check's float() yields NaN, ±Inf, ±0, subnormals). */
const values = (n: number) => fc.array(fc.float(), { minLength: n, maxLength: n });
const dim = fc.integer({ min: 0, max: 9 });
const shape = fc.array(dim, { minLength: 0, maxLength: 4 });

/** A shape and a second one that broadcasts against it (dims set to 1 or leading dims dropped). */
const broadcastPair = shape.chain((s) =>
  fc.tuple(fc.constant(s), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }), fc.integer({ min: 0, max: s.length }), fc.boolean()).map(
    ([a, ones, drop, swap]) => {
      const b = a.map((d, i) => (ones[i] ? 1 : d)).slice(drop);
      return (swap ? [b, a] : [a, b]) as [number[], number[]];
    },
  ),
);

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

// exact where float32 arithmetic is correctly rounded like the reference's float64-then-round
const UNARY_TOL: Record<string, Tol> = {
  neg: {}, abs: {}, sqrt: {}, sign: {}, relu: {}, heaviside: {},
  rsqrt: { ulps: 1 },
  exp: { ulps: 3 },
  log: { ulps: 3, atol: 1e-37 },
  tanh: { ulps: 3 },
  // GELU in float32: the rounding of its exp argument 2u is amplified by |2u| in the tail (up to
  // ~40 ulp where the result is still normal); atol covers the reference's own float64
  // cancellation in 1 + tanh(u) (~1e-16·|x|) and geluGrad's zero crossing near x = -0.75
  gelu: { ulps: 48, atol: 1e-14 },
  geluGrad: { ulps: 48, atol: 2e-7 },
};

const BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'equal', 'notEqual', 'greater', 'greaterEqual', 'less', 'lessEqual'];

describe('wasm elementwise kernels match the reference', () => {
  // every case must have run a wasm kernel, except int32 mul (the reference's number semantics)
  afterAll(() => expectNoFallback([...Object.keys(UNARY_TOL), ...BINARY.filter((op) => op !== 'mul'), 'where']));

  for (const [op, tol] of Object.entries(UNARY_TOL)) {
    it(`unary ${op}`, () => {
      const f = (E as unknown as Record<string, (x: E.Tensor) => E.Tensor>)[op]!;
      fc.assert(
        fc.property(shape.chain((s) => fc.tuple(fc.constant(s), values(size(s)))), ([s, v]) => {
          const build = () => f(E.tensor(Float32Array.from(v), s));
          const ref = on(REF, build)[0]!;
          for (const be of [WASM, WASM_1T]) expectClose(on(be, build)[0]!, ref, tol, `${op} on ${be}`);
        }),
        { numRuns: 40, seed: SEED },
      );
    });
  }

  it('unary transcendental ops over a dense sweep of ordinary inputs (threaded sizes)', () => {
    // 2^17 values in [-40, 40] and some near 0: long enough to be split over threads
    const n = 1 << 17;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = i % 3 === 0 ? (i - n / 2) * 1e-6 : -40 + (80 * i) / n;
    for (const op of ['exp', 'log', 'tanh', 'gelu', 'geluGrad', 'rsqrt']) {
      const f = (E as unknown as Record<string, (x: E.Tensor) => E.Tensor>)[op]!;
      const build = () => f(E.tensor(x, [n]));
      const ref = on(REF, build)[0]!;
      expectClose(on(WASM, build)[0]!, ref, UNARY_TOL[op]!, op);
    }
  });

  for (const op of BINARY) {
    it(`binary ${op} with broadcasting (exact)`, () => {
      const f = (E as unknown as Record<string, (a: E.Tensor, b: E.Tensor) => E.Tensor>)[op]!;
      fc.assert(
        fc.property(
          broadcastPair.chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), values(size(a)), values(size(b)))),
          ([sa, sb, va, vb]) => {
            const build = () => f(E.tensor(Float32Array.from(va), sa), E.tensor(Float32Array.from(vb), sb));
            const ref = on(REF, build)[0]!;
            for (const be of [WASM, WASM_1T]) expectClose(on(be, build)[0]!, ref, {}, `${op} [${sa}] [${sb}] on ${be}`);
          },
        ),
        { numRuns: 40, seed: SEED },
      );
    });
  }

  it('binary ops on large broadcast shapes split over threads (row, column, scalar)', () => {
    const a = Float32Array.from({ length: 300 * 517 }, (_, i) => Math.sin(i) * 10);
    const row = Float32Array.from({ length: 517 }, (_, i) => Math.cos(i));
    const col = Float32Array.from({ length: 300 }, (_, i) => i - 150);
    const cases: [string, () => E.Tensor][] = [
      ['row', () => E.mul(E.tensor(a, [300, 517]), E.tensor(row, [517]))],
      ['col', () => E.sub(E.tensor(a, [300, 517]), E.tensor(col, [300, 1]))],
      ['scalar', () => E.div(E.tensor(a, [300, 517]), 3)],
      ['scalar-left', () => E.sub(7, E.tensor(a, [1, 300, 517]))],
      ['outer', () => E.add(E.tensor(col, [300, 1]), E.tensor(row, [1, 517]))],
    ];
    for (const [what, build] of cases) expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, what);
  });

  it('int32 add/sub/min/max/comparisons (wrapping like the reference), mul through the fallback', () => {
    const int = fc.oneof(fc.integer({ min: -2147483648, max: 2147483647 }), fc.integer({ min: -3, max: 3 }));
    fc.assert(
      fc.property(
        broadcastPair.chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), fc.array(int, { minLength: size(a), maxLength: size(a) }), fc.array(int, { minLength: size(b), maxLength: size(b) }))),
        ([sa, sb, va, vb]) => {
          for (const op of BINARY.filter((o) => o !== 'div')) {
            const f = (E as unknown as Record<string, (a: E.Tensor, b: E.Tensor) => E.Tensor>)[op]!;
            const build = () => f(E.tensor(Int32Array.from(va), sa, 'int32'), E.tensor(Int32Array.from(vb), sb, 'int32'));
            expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, `int32 ${op} [${sa}] [${sb}]`);
          }
        },
      ),
      { numRuns: 25, seed: SEED },
    );
  });

  it('where with float and int32 conditions, broadcast branches, any 32-bit dtype', () => {
    fc.assert(
      fc.property(
        broadcastPair.chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), values(size(a)), values(size(b)), values(size(a)), fc.boolean(), fc.boolean())),
        ([sa, sb, c, vb, va, intCond, intVals]) => {
          const build = () => {
            const cond = intCond ? E.tensor(Int32Array.from(c, (x) => (Number.isFinite(x) ? Math.trunc(x) % 3 : 0)), sa, 'int32') : E.tensor(Float32Array.from(c), sa);
            const dt: E.DType = intVals ? 'int32' : 'float32';
            const conv = (v: number[]) => (intVals ? Int32Array.from(v, (x) => (Number.isFinite(x) ? Math.trunc(x) | 0 : 7)) : Float32Array.from(v));
            return E.where(cond, E.tensor(conv(va), sa, dt), E.tensor(conv(vb), sb, dt));
          };
          expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, `where [${sa}] [${sb}]`);
        },
      ),
      { numRuns: 40, seed: SEED },
    );
  });

  it('causal masking (where with a broadcast mask and a scalar branch) matches', () => {
    const build = () => E.causalMask(E.tensor(Float32Array.from({ length: 2 * 3 * 5 * 7 }, (_, i) => i * 0.5), [2, 3, 5, 7]));
    expectClose(on(WASM, build)[0]!, on(REF, build)[0]!);
  });
});
