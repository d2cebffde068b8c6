/**
 * Reductions (sum/max over any axis set, keepdims) and movement ops (reshape, transpose, slice,
 * pad, concat, broadcastTo, full, arange, cast) on wasm against the reference, for float32 and
 * int32, empty tensors and size-1 dims included.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import { expectClose, expectNoFallback, on, randn, WASM, WASM_1T } from './helpers.js';

const REF = 'reference';
const SEED = 99;
const dim = fc.integer({ min: 0, max: 7 });
const shape = fc.array(dim, { minLength: 1, maxLength: 5 });
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/** Float data with specials, or int32 data. */
function data(s: readonly number[], int: boolean, seed: number): Float32Array | Int32Array {
  const n = size(s);
  if (int) return Int32Array.from(randn(n, seed), (v) => Math.round(v * 1000));
  const x = randn(n, seed);
  if (n > 3) {
    x[seed % n] = -0;
    x[(seed + 1) % n] = Infinity;
  }
  return x;
}

afterAll(() => expectNoFallback(['sum', 'max', 'transpose', 'slice', 'pad', 'concat', 'broadcastTo', 'reshape', 'full']));

describe('wasm reductions match the reference', () => {
  it('sum and max over random axis sets (non-adjacent axes in several passes)', () => {
    fc.assert(
      fc.property(shape, fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 5 }), fc.boolean(), fc.integer(), (s, axesRaw, keepdims, seed) => {
        const axes = [...new Set(axesRaw.filter((a) => a < s.length))];
        const x = data(s, false, seed);
        // Σ|x| bounds the float32 summation-order error of a sum
        const absBuild = () => E.sum(E.abs(E.tensor(x, s)), axes, keepdims);
        const scale = on(REF, absBuild)[0]!.data;
        const sumB = () => E.sum(E.tensor(x, s), axes, keepdims);
        for (const be of [WASM, WASM_1T]) expectClose(on(be, sumB)[0]!, on(REF, sumB)[0]!, { rel: (size(s) + 2) * 2 ** -24, scale, atol: 0 }, `sum [${s}] axes [${axes}]`);
        if (axes.every((a) => s[a]! > 0)) {
          const maxB = () => E.max(E.tensor(x, s), axes, keepdims);
          // ±0 ties may resolve to either zero (the max is the same number)
          for (const be of [WASM, WASM_1T]) expectClose(on(be, maxB)[0]!, on(REF, maxB)[0]!, { atol: 0 }, `max [${s}] axes [${axes}]`);
        }
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('column sums (bias gradients) are bit-identical to the reference order; large rows split over threads', () => {
    const x = randn(700 * 333, 3);
    const cases: [string, () => E.Tensor][] = [
      ['cols', () => E.sum(E.tensor(x, [700, 333]), 0)],
      ['leading axes', () => E.sum(E.tensor(x, [7, 100, 333]), [0, 1])],
      ['max cols', () => E.max(E.tensor(x, [700, 333]), 0)],
      ['max rows', () => E.max(E.tensor(x, [700, 333]), 1, true)],
    ];
    for (const [what, build] of cases) expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, what);
    const rows = () => E.sum(E.tensor(x, [700, 333]), -1);
    const scale = on(REF, () => E.sum(E.abs(E.tensor(x, [700, 333])), -1))[0]!.data;
    expectClose(on(WASM, rows)[0]!, on(REF, rows)[0]!, { rel: 335 * 2 ** -24, scale }, 'rows');
  });

  it('NaN wins a max; sums of empty axes are zero', () => {
    const build = () => [E.max(E.tensor([[1, NaN, 3, 4, 5], [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity]]), 1), E.sum(E.zeros([3, 0]), 1), E.sum(E.zeros([0, 3]), 0)];
    const [m, s1, s0] = on(WASM, build);
    expect(m!.data[0]).toBeNaN();
    expect(m!.data[1]).toBe(-Infinity);
    expect(s1!.data).toEqual([0, 0, 0]);
    expect(s0!.data).toEqual([0, 0, 0]);
  });
});

describe('wasm movement ops match the reference (bit-exact)', () => {
  const cases = shape.chain((s) => fc.tuple(fc.constant(s), fc.boolean(), fc.integer({ min: 0, max: 1000 })));

  it('transpose with random permutations (float32 and int32)', () => {
    fc.assert(
      fc.property(cases, fc.integer(), ([s, int, seed], permSeed) => {
        const perm = s.map((_, i) => i).sort((a, b) => ((a * 7919 + permSeed) % 13) - ((b * 7919 + permSeed) % 13) || a - b);
        const build = () => E.transpose(E.tensor(data(s, int, seed), s), perm);
        for (const be of [WASM, WASM_1T]) expectClose(on(be, build)[0]!, on(REF, build)[0]!, {}, `transpose [${s}] perm [${perm}]`);
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('large matrix and batched transposes (tiled kernel, threaded) and attention head splits', () => {
    const x = randn(3 * 130 * 77, 1);
    const cases: [string, () => E.Tensor][] = [
      ['matrix', () => E.transpose(E.tensor(x, [390, 77]))],
      ['batched', () => E.transpose(E.tensor(x, [3, 130, 77]), [0, 2, 1])],
      ['heads', () => E.transpose(E.tensor(x, [3, 10, 11, 91]), [0, 2, 1, 3])],
      ['5-d', () => E.transpose(E.tensor(x.subarray(0, 2 * 3 * 5 * 7 * 11), [2, 3, 5, 7, 11]), [4, 0, 3, 1, 2])],
    ];
    for (const [what, build] of cases) expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, what);
  });

  it('slice, pad, concat, broadcastTo, reshape (property)', () => {
    fc.assert(
      fc.property(cases, fc.array(fc.nat(), { minLength: 10, maxLength: 10 }), ([s, int, seed], r) => {
        const x = data(s, int, seed);
        const dt = int ? 'int32' : 'float32';
        const begin = s.map((d, i) => (d === 0 ? 0 : r[i]! % d));
        const sz = s.map((d, i) => (d - begin[i]! === 0 ? 0 : r[(i + 5) % 10]! % (d - begin[i]! + 1)));
        const before = s.map((_, i) => r[i]! % 3), after = s.map((_, i) => r[(i + 3) % 10]! % 2);
        const axis = r[9]! % s.length;
        const other = s.map((d, i) => (i === axis ? r[8]! % 4 : d));
        const bshape = [2, ...s.map((d, i) => (r[i]! % 2 === 0 ? 1 : d))];
        const build = () => {
          const t = E.tensor(x, s, dt);
          return [
            E.slice(t, begin, sz),
            E.pad(t, before, after),
            E.concat([t, E.tensor(data(other, int, seed + 1), other, dt), t], axis),
            E.broadcastTo(E.tensor(data(bshape.slice(1), int, seed + 2), bshape.slice(1), dt), [3, ...bshape.slice(1).map((d, i) => (d === 1 ? s[i]! : d))]),
            E.reshape(t, [size(s)]),
          ];
        };
        const ref = on(REF, build);
        const got = on(WASM, build);
        ['slice', 'pad', 'concat', 'broadcastTo', 'reshape'].forEach((w, i) => expectClose(got[i]!, ref[i]!, {}, `${w} [${s}]`));
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('argmax along any axis (last axis in wasm), NaN and ties as the reference', () => {
    fc.assert(
      fc.property(shape.filter((s) => s.every((d) => d > 0)), fc.nat(), fc.integer(), (s, axisRaw, seed) => {
        const axis = axisRaw % s.length;
        // few distinct values: ties; a NaN sometimes first, sometimes later
        const x = Float32Array.from(randn(size(s), seed), (v, i) => (i % 11 === 3 ? NaN : Math.round(v)));
        const build = () => E.argmax(E.tensor(x, s), axis);
        expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, `argmax [${s}] axis ${axis}`);
      }),
      { numRuns: 60, seed: SEED },
    );
    const big = randn(300 * 1000, 7);
    const build = () => E.argmax(E.tensor(big, [300, 1000]), -1);
    expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, 'argmax 300x1000');
  });

  it('full, arange, cast and argmax (cast via the reference fallback)', () => {
    const build = () => [
      E.full([3, 5], -2.5),
      E.full([7], 3, 'int32'),
      E.arange(2, 11, 3),
      E.arange(0, 1, 0.25, 'float32'),
      E.cast(E.tensor([1.7, -1.7, 3e9, NaN]), 'int32'),
      E.cast(E.tensor([7, -3], [2], 'int32'), 'float32'),
      E.argmax(E.tensor([[1, 5, 5], [NaN, 0, 1]]), 1),
    ];
    const ref = on(REF, build);
    on(WASM, build).forEach((g, i) => expectClose(g, ref[i]!, {}, `case ${i}`));
  });
});
