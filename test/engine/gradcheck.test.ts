/** The checker and the arbitraries themselves: the checker must fail on wrong VJPs, the arbitraries must produce what they promise. */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import {
  GradCheckError,
  SEED,
  broadcastHost,
  broadcastShapesArb,
  gradCheck,
  hostArb,
  prng,
  shapeArb,
  sizeOf,
  useReference,
  valuesArb,
} from './gradcheck.js';

beforeAll(useReference);

/** x² with a hand-written VJP scaled by `k` at element `at` (or everywhere). */
const squareWithRule = (k: number, at?: number) =>
  E.customVjp(
    `square×${k}`,
    (x) => E.mul(x, x),
    ({ inputs, cotangents }) => {
      const g = E.mul(E.mul(cotangents[0]!, inputs[0]!), 2);
      if (at === undefined) return [E.mul(g, k)];
      const scale = Array.from({ length: g.size }, (_, i) => (i === at ? k : 1));
      return [E.mul(g, E.tensor(Float64Array.from(scale), g.shape, 'float64'))];
    },
  ) as (x: E.Tensor) => E.Tensor;

const x0 = { shape: [2, 2], data: [0.5, -1.25, 2, 3] };

describe('gradCheck', () => {
  it('accepts a correct VJP and reports a worst error ratio ≤ 1', () => {
    expect(gradCheck({ inputs: [x0], f: squareWithRule(1) })).toBeLessThanOrEqual(1);
  });

  it('rejects a VJP scaled by 1 + 1e-4, naming the input, element and both values', () => {
    expect(() => gradCheck({ inputs: [x0], f: squareWithRule(1 + 1e-4), label: 'scaled' })).toThrow(GradCheckError);
    expect(() => gradCheck({ inputs: [x0], f: squareWithRule(1 + 1e-4), label: 'scaled' })).toThrow(/gradCheck \(scaled\): input 0 \[2, 2\] element 0: VJP gives .*, finite differences give/);
  });

  it('rejects a VJP wrong at a single element', () => {
    expect(() => gradCheck({ inputs: [x0], f: squareWithRule(-1, 3) })).toThrow(/element 3/);
  });

  it('checks every input: a wrong gradient for the second input is caught', () => {
    const mulBadB = E.customVjp('mulBadB', (a, b) => E.mul(a, b), ({ inputs, cotangents }) => [E.mul(cotangents[0]!, inputs[1]!), E.mul(cotangents[0]!, E.add(inputs[0]!, 1e-3))]) as (
      a: E.Tensor,
      b: E.Tensor,
    ) => E.Tensor;
    expect(() => gradCheck({ inputs: [x0, x0], f: mulBadB })).toThrow(/input 1 \[2, 2\]/);
  });

  it('gives masked (−Infinity) outputs a zero cotangent instead of failing on ∞ − ∞', () => {
    expect(gradCheck({ inputs: [{ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }], f: (t) => E.causalMask(t) })).toBeLessThanOrEqual(1);
  });

  it('refuses non-float64 outputs', () => {
    expect(() => gradCheck({ inputs: [x0], f: (t) => E.cast(t, 'float32') })).toThrow(/float64/);
  });

  it('is deterministic: the cotangent comes from the seed', () => {
    const a = prng(SEED);
    const b = prng(SEED);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(new Set(xs).size).toBe(5);
    expect(xs.every((v) => v >= 0 && v < 1)).toBe(true);
  });
});

describe('arbitraries', () => {
  const sample = <T>(arb: fc.Arbitrary<T>, n = 300): T[] => fc.sample(arb, { seed: SEED, numRuns: n });

  it('shapeArb covers ranks 0–4, size-1 dimensions and respects maxSize', () => {
    const shapes = sample(shapeArb({ maxSize: 36 }));
    expect(new Set(shapes.map((s) => s.length))).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(shapes.some((s) => s.includes(1))).toBe(true);
    expect(shapes.every((s) => sizeOf(s) <= 36 && s.every((d) => d >= 1 && d <= 3))).toBe(true);
    expect(sample(shapeArb({ minDim: 0 })).some((s) => s.includes(0))).toBe(true);
  });

  it('broadcastShapesArb gives shapes the engine broadcasts, with missing and size-1 axes', () => {
    const pairs = sample(broadcastShapesArb(2));
    E.tidy(() => {
      for (const [a, b] of pairs) expect(E.add(E.zeros(a!), E.zeros(b!)).shape).toEqual(broadcastHost(a!, b!));
    });
    expect(pairs.some(([a, b]) => a!.length !== b!.length)).toBe(true);
    expect(pairs.some(([a, b]) => a!.some((d, i) => d === 1 && (b![b!.length - a!.length + i] ?? 1) > 1))).toBe(true);
  });

  it('valuesArb keeps away from kinks and keeps distinct values apart', () => {
    for (const v of sample(valuesArb(12, { avoid: [0], margin: 1e-2 }))) expect(v.every((x) => Math.abs(x) >= 1e-2)).toBe(true);
    for (const v of sample(valuesArb(12, { distinct: true, gap: 0.05 }))) {
      const s = [...v].sort((a, b) => a - b);
      expect(s.every((x, i) => i === 0 || x - s[i - 1]! >= 0.05 - 1e-12)).toBe(true);
    }
    for (const v of sample(valuesArb(6, { min: 0.1, max: 5 }))) expect(v.every((x) => x >= 0.1 && x <= 5)).toBe(true);
  });

  it('the same seed gives the same samples (one seed fixes every random choice)', () => {
    const arb = shapeArb().chain((s) => hostArb(s));
    expect(fc.sample(arb, { seed: SEED, numRuns: 20 })).toEqual(fc.sample(arb, { seed: SEED, numRuns: 20 }));
  });
});
