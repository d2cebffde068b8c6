/** Arbitraries and small host helpers shared by the SAE property tests. */
import fc from 'fast-check';
import { expect } from 'vitest';
import * as E from '../../engine/index.js';
import type { Params } from '../../sae/common.js';

export interface Dims {
  B: number;
  d: number;
  m: number;
  k: number;
}

export const dimsArb = (maxB = 4, maxD = 6, maxM = 12): fc.Arbitrary<Dims> =>
  fc
    .record({ B: fc.integer({ min: 1, max: maxB }), d: fc.integer({ min: 1, max: maxD }), m: fc.integer({ min: 2, max: maxM }) })
    .chain((s) => fc.integer({ min: 1, max: s.m }).map((k) => ({ ...s, k })));

/** Multiples of 1/4 in [-2, 2]: products and sums stay exact in float64, and ties are common. */
export const dyadic = fc.integer({ min: -8, max: 8 }).map((v) => v / 4);
/** Ordinary floats of moderate size (no subnormals), with occasional exact repeats. */
export const moderate = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }).map((v) => (Math.abs(v) < 1e-3 ? 0 : v)) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -0.5, 0, 0.5, 1) },
);

export const arr = <T = number>(n: number, el: fc.Arbitrary<T>): fc.Arbitrary<T[]> => fc.array(el, { minLength: n, maxLength: n });

export interface RawSae {
  W_enc: number[];
  b_enc: number[];
  W_dec: number[];
  b_dec: number[];
  x: number[];
  g: number[];
}

export const rawSaeArb = (dm: Dims, el: fc.Arbitrary<number>): fc.Arbitrary<RawSae> =>
  fc.record({
    W_enc: arr(dm.d * dm.m, el),
    b_enc: arr(dm.m, el),
    W_dec: arr(dm.m * dm.d, el),
    b_dec: arr(dm.d, el),
    x: arr(dm.B * dm.d, el),
    g: arr(dm.B * dm.d, el),
  });

export function deviceParams(r: RawSae, dm: Dims, dtype: 'float32' | 'float64'): Params {
  return {
    W_enc: E.tensor(r.W_enc, [dm.d, dm.m], dtype),
    b_enc: E.tensor(r.b_enc, [dm.m], dtype),
    W_dec: E.tensor(r.W_dec, [dm.m, dm.d], dtype),
    b_dec: E.tensor(r.b_dec, [dm.d], dtype),
  };
}

export const bits = (t: E.Tensor): number[] => Array.from(t.toArray());

/** Row norms of a [rows, cols] host array. */
export function rowNorms(data: ArrayLike<number>, rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += data[i * cols + j]! ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

/** Every named array of `got` equals `want` to |Δ| ≤ abs·max(1, max|want|) + rel·|want|, with the first offender named. */
export function expectAllClose(got: Record<string, number[]>, want: Record<string, number[]>, rel: number, abs: number, what: string): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const key of Object.keys(want)) {
    const a = got[key]!, b = want[key]!;
    expect(a.length, `${what} ${key} length`).toBe(b.length);
    const scale = Math.max(1, ...b.map(Math.abs));
    a.forEach((v, i) => {
      if (!(Math.abs(v - b[i]!) <= abs * scale + rel * Math.abs(b[i]!))) {
        expect.fail(`${what}: ${key}[${i}] = ${v}, want ${b[i]} (all: ${JSON.stringify(a)} vs ${JSON.stringify(b)})`);
      }
    });
  }
}
