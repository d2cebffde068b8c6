/**
 * gatherDot / embeddingBag / scatterOuter with flat picks (idx [N] of positions b·m + r, the
 * variable-per-row form BatchTopK trains through) on wasm against the reference: both table
 * layouts, rows with no pick and with many, repeated picks, vector tails, one and two threads,
 * out-of-range picks (same error). A cols table is transposed when m ≤ N; with fewer picks the
 * driver hands the op to the reference kernel, which the fallback counts must show — and only then.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import type { WasmBackend } from '../../../engine/backends/wasm/index.js';
import { errorOn, expectClose, on, randn, WASM, WASM_1T, type Result } from './helpers.js';
import { expectPickOrderSums, fixedDot, pickOrderSums } from './sparse_order.js';

const REF = 'reference';
const SEED = 6262;
const OPS = ['gatherDot', 'embeddingBag', 'scatterOuter'] as const;

interface Case {
  B: number;
  n: number;
  d: number;
  m: number;
  layout: E.SparseLayout;
  flat: Int32Array;
  seed: number;
}

const caseArb = (maxB: number, maxN: number, maxD: number, maxM: number): fc.Arbitrary<Case> =>
  fc
    .record({
      B: fc.integer({ min: 0, max: maxB }),
      n: fc.integer({ min: 0, max: maxN }),
      d: fc.integer({ min: 0, max: maxD }),
      m: fc.integer({ min: 1, max: maxM }),
      layout: fc.constantFrom<E.SparseLayout>('rows', 'cols'),
      seed: fc.nat(),
      // skewed picks: rows near 0 get most of them, so some rows have many and others none
      skew: fc.boolean(),
    })
    .map(({ skew, ...c }) => {
      const n = c.B === 0 ? 0 : c.n;
      const u = randn(n, c.seed + 7);
      const flat = Int32Array.from(u, (v) => {
        const x = Math.abs(v) * 1000;
        const b = skew ? Math.floor(Math.abs(v) * Math.abs(v) * c.B / 9) % c.B : Math.floor(x) % c.B;
        return b * c.m + (Math.floor(x * 7) % c.m);
      });
      return { ...c, n, flat };
    });

function build(c: Case): () => E.Tensor[] {
  const { B, n, d, m, layout } = c;
  const tab = layout === 'rows' ? [m, d] : [d, m];
  const a = randn(B * d, c.seed), w = randn(m * d, c.seed + 1), v = randn(n, c.seed + 2);
  return () => {
    const I = E.tensor(c.flat, [n], 'int32');
    return [
      E.gatherDot(E.tensor(a, [B, d]), E.tensor(w, tab), I, layout),
      E.embeddingBag(E.tensor(v, [n]), I, E.tensor(w, tab), layout, B),
      E.scatterOuter(E.tensor(v, [n]), I, E.tensor(a, [B, d]), m, layout),
    ];
  };
}

/** Float64 |terms| of the same case, for the error scale. */
function scaleOf(c: Case): Result[] {
  const { B, n, d, m, layout } = c;
  const tab = layout === 'rows' ? [m, d] : [d, m];
  const h = (k: number, s: number) => Float64Array.from(randn(k, s), Math.abs);
  return on(REF, () => {
    const I = E.tensor(c.flat, [n], 'int32');
    return [
      E.gatherDot(E.tensor(h(B * d, c.seed), [B, d], 'float64'), E.tensor(h(m * d, c.seed + 1), tab, 'float64'), I, layout),
      E.embeddingBag(E.tensor(h(n, c.seed + 2), [n], 'float64'), I, E.tensor(h(m * d, c.seed + 1), tab, 'float64'), layout, B),
      E.scatterOuter(E.tensor(h(n, c.seed + 2), [n], 'float64'), I, E.tensor(h(B * d, c.seed), [B, d], 'float64'), m, layout),
    ];
  });
}

const fallbacks = (name: string): number => OPS.reduce((s, op) => s + ((E.getBackend(name) as WasmBackend).fallbacks.get(op) ?? 0), 0);

/** wasm within float32 summation error of the reference (n picks at most per output element). */
function compare(c: Case, backend: string): void {
  const before = fallbacks(backend);
  const got = on(backend, build(c));
  const want = on(REF, build(c));
  const scale = scaleOf(c);
  const terms = [c.d, c.n, c.n];
  got.forEach((g, i) =>
    expectClose(g, want[i]!, { rel: 2 ** -23 * (terms[i]! + 2), scale: scale[i]!.data, atol: 0 }, `${OPS[i]} ${JSON.stringify({ ...c, flat: Array.from(c.flat) })} on ${backend}`),
  );
  // only a cols table with fewer picks than latents (m·d > N·d: gatherDot and embeddingBag) may decline
  const declines = c.layout === 'cols' && c.m * c.d > c.n * c.d ? (c.n > 0 ? 1 : 0) + (c.B * c.d > 0 ? 1 : 0) : 0;
  expect(fallbacks(backend) - before, `fallbacks ${JSON.stringify({ ...c, flat: undefined })}`).toBe(declines);
}

describe('wasm sparse row ops with flat picks match the reference', () => {
  it('small shapes: tails, no picks, empty batches, rows with many picks and none (property)', () => {
    fc.assert(
      fc.property(caseArb(7, 30, 13, 9), (c) => {
        compare(c, WASM);
        compare(c, WASM_1T);
      }),
      { numRuns: 80, seed: SEED },
    );
  });

  it('shapes large enough to split over threads (results independent of the thread count)', () => {
    fc.assert(
      fc.property(caseArb(70, 3000, 67, 300).filter((c) => c.n * c.d > 1 << 17), (c) => {
        compare(c, WASM);
        const two = on(WASM, build(c)), one = on(WASM_1T, build(c));
        two.forEach((t, i) => expectClose(t, one[i]!, {}, `threads ${OPS[i]}`));
      }),
      { numRuns: 6, seed: SEED },
    );
  });

  it('embeddingBag and scatterOuter with flat picks sum each element in pick order from +0 in float32, bit for bit', () => {
    fc.assert(
      fc.property(caseArb(30, 300, 75, 40), (c) => {
        const { B, n, d, m, flat } = c;
        const w = randn(m * d, c.seed + 1), v = randn(n, c.seed + 2), a = randn(B * d, c.seed);
        const want = pickOrderSums(Array.from(flat, (q, p) => [Math.floor(q / m), q % m, v[p]!] as const), w, a, B, m, d);
        expectPickOrderSums(() => [
          E.embeddingBag(E.tensor(v, [n]), E.tensor(flat, [n], 'int32'), E.tensor(w, [m, d]), 'rows', B),
          E.scatterOuter(E.tensor(v, [n]), E.tensor(flat, [n], 'int32'), E.tensor(a, [B, d]), m, 'rows'),
        ], want, `B ${B} n ${n} d ${d} m ${m}`);
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('gatherDot with flat picks is the fixed-order float32 dot of each pick, bit for bit', () => {
    fc.assert(
      fc.property(caseArb(20, 300, 75, 40), (c) => {
        const { B, n, d, m, flat } = c;
        const w = randn(m * d, c.seed + 1), a = randn(B * d, c.seed);
        const want = Array.from({ length: n }, (_, p) => fixedDot(a, Math.floor(flat[p]! / m) * d, w, (flat[p]! % m) * d, d));
        for (const be of [WASM, WASM_1T]) {
          const got = on(be, () => E.gatherDot(E.tensor(a, [B, d]), E.tensor(w, [m, d]), E.tensor(flat, [n], 'int32'), 'rows'))[0]!;
          expect(got.data, `${be} B ${B} n ${n} d ${d} m ${m}`).toEqual(want);
        }
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('scatterOuter into a cols table is the rows result transposed, bit for bit (1 and 2 threads)', () => {
    // the cols kernel (sp_outer_flat_t) sums 64 latents in a scratch and stores them transposed
    fc.assert(
      fc.property(caseArb(60, 3000, 21, 200), (c) => {
        const { B, n, d, m } = c;
        const a = randn(B * d, c.seed), v = randn(n, c.seed + 2);
        const go = (layout: E.SparseLayout) => () => E.scatterOuter(E.tensor(v, [n]), E.tensor(c.flat, [n], 'int32'), E.tensor(a, [B, d]), m, layout);
        for (const be of [WASM, WASM_1T]) {
          const rows = on(be, go('rows'))[0]!.data, cols = on(be, go('cols'))[0]!.data;
          expect(cols, `${be} B ${B} n ${n} d ${d} m ${m}`).toEqual(Array.from({ length: d * m }, (_, i) => rows[(i % m) * d + Math.floor(i / m)]));
        }
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('out-of-range picks throw the reference error, naming the op', () => {
    const I = (xs: number[]) => E.tensor(Int32Array.from(xs), [xs.length], 'int32');
    const cases: (() => unknown)[] = [
      () => E.gatherDot(E.zeros([2, 3]), E.zeros([4, 3]), I([0, 8])),
      () => E.gatherDot(E.zeros([2, 3]), E.zeros([3, 4]), I([0, -1, 2, 3, 4]), 'cols'),
      () => E.embeddingBag(E.zeros([2]), I([9, 0]), E.zeros([4, 3]), 'rows', 2),
      () => E.scatterOuter(E.zeros([2]), I([0, 4]), E.zeros([2, 3]), 2, 'cols'),
    ];
    for (const c of cases) {
      const want = errorOn(REF, c);
      expect(want).toMatch(/^(gatherDot|embeddingBag|scatterOuter): flat pick -?\d+ at \[\d+\] is out of range for a \[\d+, \d+\] grid/);
      expect(errorOn(WASM, c)).toBe(want);
    }
  });
});
