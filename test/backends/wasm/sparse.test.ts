/**
 * gatherDot / embeddingBag / scatterOuter (both table layouts) and the fused adamStep on wasm
 * against the reference: shapes with d, k, m not multiples of 4 (vector tails), k = 0, empty
 * batches, repeated indices within a row, one and two threads, and out-of-range indices (same error).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import { errorOn, expectClose, expectNoFallback, on, randn, WASM, WASM_1T, type Result } from './helpers.js';
import { expectPickOrderSums, fixedDot, pickOrderSums } from './sparse_order.js';

const REF = 'reference';
const SEED = 5151;
const OPS = ['gatherDot', 'embeddingBag', 'scatterOuter', 'adamStep'];

interface Case {
  B: number;
  k: number;
  d: number;
  m: number;
  layout: E.SparseLayout;
  idx: Int32Array;
  seed: number;
}

const caseArb = (maxB: number, maxK: number, maxD: number, maxM: number): fc.Arbitrary<Case> =>
  fc
    .record({
      B: fc.integer({ min: 0, max: maxB }),
      k: fc.integer({ min: 0, max: maxK }),
      d: fc.integer({ min: 0, max: maxD }),
      m: fc.integer({ min: 1, max: maxM }),
      layout: fc.constantFrom<E.SparseLayout>('rows', 'cols'),
      seed: fc.nat(),
    })
    // few rows in the table: repeated indices within a batch row are common
    .map((c) => ({ ...c, idx: Int32Array.from(randn(c.B * c.k, c.seed + 7), (v) => Math.floor(Math.abs(v) * 1000) % c.m) }));

/** The three ops on one case, each from freshly uploaded inputs (float32, or |inputs| in float64 for the error scale). */
function build(c: Case, dtype: 'float32' | 'float64' = 'float32', abs = false): () => E.Tensor[] {
  const { B, k, d, m, layout } = c;
  const tab = layout === 'rows' ? [m, d] : [d, m];
  const h = (n: number, s: number) => {
    const x = randn(n, s);
    return abs ? x.map(Math.abs) : x;
  };
  const a = h(B * d, c.seed), w = h(m * d, c.seed + 1), v = h(B * k, c.seed + 2);
  return () => {
    const T = (x: Float32Array, s: number[]) => E.tensor(dtype === 'float64' ? Float64Array.from(x) : x, s, dtype);
    const I = E.tensor(c.idx, [B, k], 'int32');
    return [
      E.gatherDot(T(a, [B, d]), T(w, tab), I, layout),
      E.embeddingBag(T(v, [B, k]), I, T(w, tab), layout),
      E.scatterOuter(T(v, [B, k]), I, T(a, [B, d]), m, layout),
    ];
  };
}

/** wasm within float32 summation error of the reference: |Δ| ≤ (n + 2)·2⁻²³·Σ|terms|. */
function compare(c: Case, backend: string): void {
  const got = on(backend, build(c));
  const want = on(REF, build(c));
  const scale: Result[] = on(REF, build(c, 'float64', true));
  const terms = [c.d, c.k, c.B * c.k];
  got.forEach((g, i) =>
    expectClose(g, want[i]!, { rel: 2 ** -23 * (terms[i]! + 2), scale: scale[i]!.data, atol: 0 }, `${['gatherDot', 'embeddingBag', 'scatterOuter'][i]} ${JSON.stringify({ ...c, idx: undefined })} on ${backend}`),
  );
}

describe('wasm sparse row ops match the reference', () => {
  afterAll(() => expectNoFallback(OPS, [WASM, WASM_1T]));

  it('small shapes: tails, k = 0, empty batches, repeated indices (property)', () => {
    fc.assert(
      fc.property(caseArb(7, 6, 13, 9), (c) => {
        compare(c, WASM);
        compare(c, WASM_1T);
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('shapes large enough to split over threads (results independent of the thread count)', () => {
    fc.assert(
      fc.property(caseArb(70, 33, 67, 300).filter((c) => c.B * c.k * c.d > 1 << 17), (c) => {
        compare(c, WASM);
        const two = on(WASM, build(c)), one = on(WASM_1T, build(c));
        two.forEach((t, i) => expectClose(t, one[i]!, {}, `threads ${i}`));
      }),
      { numRuns: 6, seed: SEED },
    );
  });

  it('embeddingBag and scatterOuter sum each element in pick order from +0 in float32, bit for bit (register-blocked rows)', () => {
    // the kernels keep 32-float chunks of an output row in registers across the picks; the sums
    // must be those of the plain loop s = fround(s + fround(c · w)) in pick order
    fc.assert(
      fc.property(caseArb(30, 9, 75, 40), (c) => {
        const { B, k, d, m, idx } = c;
        const w = randn(m * d, c.seed + 1), v = randn(B * k, c.seed + 2), a = randn(B * d, c.seed);
        const want = pickOrderSums(Array.from({ length: B * k }, (_, p) => [Math.floor(p / k), idx[p]!, v[p]!] as const), w, a, B, m, d);
        expectPickOrderSums(() => [
          E.embeddingBag(E.tensor(v, [B, k]), E.tensor(idx, [B, k], 'int32'), E.tensor(w, [m, d]), 'rows'),
          E.scatterOuter(E.tensor(v, [B, k]), E.tensor(idx, [B, k], 'int32'), E.tensor(a, [B, d]), m, 'rows'),
        ], want, `B ${B} k ${k} d ${d} m ${m}`);
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('gatherDot is the fixed-order float32 dot of each pick, bit for bit (four picks side by side or one)', () => {
    // order: four lane sums over t ≡ l (mod 4) below d4 = d − d mod 4, (l0 + l1) + (l2 + l3), then t ≥ d4
    fc.assert(
      fc.property(caseArb(20, 11, 75, 40), (c) => {
        const { B, k, d, m, idx } = c;
        const w = randn(m * d, c.seed + 1), a = randn(B * d, c.seed);
        const want = Array.from({ length: B * k }, (_, p) => fixedDot(a, Math.floor(p / k) * d, w, idx[p]! * d, d));
        for (const be of [WASM, WASM_1T]) {
          const got = on(be, () => E.gatherDot(E.tensor(a, [B, d]), E.tensor(w, [m, d]), E.tensor(idx, [B, k], 'int32'), 'rows'))[0]!;
          expect(got.data, `${be} B ${B} k ${k} d ${d} m ${m}`).toEqual(want);
        }
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('scatterOuter into a cols table is the rows result transposed, bit for bit (1 and 2 threads)', () => {
    // the cols kernel sums 64 latents in a scratch and stores them transposed; the sums must be
    // the rows kernel's, whatever m mod 64, d mod 4 and the thread split
    fc.assert(
      fc.property(caseArb(40, 9, 21, 200).filter((c) => c.m <= c.B * c.k), fc.boolean(), (c, big) => {
        const cc = big ? { ...c, B: c.B * 40, idx: Int32Array.from({ length: c.B * 40 * c.k }, (_, i) => c.idx[i % c.idx.length]!) } : c;
        const { B, k, d, m } = cc;
        const a = randn(B * d, c.seed), v = randn(B * k, c.seed + 2);
        const go = (layout: E.SparseLayout) => () => E.scatterOuter(E.tensor(v, [B, k]), E.tensor(cc.idx, [B, k], 'int32'), E.tensor(a, [B, d]), m, layout);
        for (const be of [WASM, WASM_1T]) {
          const rows = on(be, go('rows'))[0]!.data, cols = on(be, go('cols'))[0]!.data;
          const t = Array.from({ length: d * m }, (_, i) => rows[(i % m) * d + Math.floor(i / m)]);
          expect(cols, `${be} B ${B} k ${k} d ${d} m ${m}`).toEqual(t);
        }
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('out-of-range indices throw the reference error, naming the op', () => {
    const bad = E.tensor; // alias for brevity below
    const cases: (() => unknown)[] = [
      () => E.gatherDot(E.zeros([2, 3]), E.zeros([4, 3]), bad([[0, 1], [4, 0]], [2, 2], 'int32')),
      () => E.gatherDot(E.zeros([2, 3]), E.zeros([3, 4]), bad([[0, -1], [1, 0]], [2, 2], 'int32'), 'cols'),
      () => E.embeddingBag(E.zeros([2, 2]), bad([[0, 1], [9, 0]], [2, 2], 'int32'), E.zeros([4, 3])),
      () => E.scatterOuter(E.zeros([2, 2]), bad([[0, 1], [2, 0]], [2, 2], 'int32'), E.zeros([2, 3]), 2, 'cols'),
      () => E.scatterOuter(E.zeros([1, 1]), bad([[5]], [1, 1], 'int32'), E.zeros([1, 3]), 5),
    ];
    for (const c of cases) {
      const want = errorOn(REF, c);
      expect(want).toMatch(/^(gatherDot|embeddingBag|scatterOuter): index -?\d+ at \[\d+, \d+\] is out of range for a table of \d+ rows/);
      expect(errorOn(WASM, c)).toBe(want);
    }
  });
});

describe('wasm adamStep', () => {
  it('is bit-identical to the reference kernel and to the composite of elementwise ops (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 1000 }), (n, wd, seed, t) => {
        const p = randn(n, seed), g = randn(n, seed + 1).map((x) => x * 1e-3), m = randn(n, seed + 2).map((x) => x * 1e-3), v = randn(n, seed + 3).map((x) => x * x * 1e-6);
        const [b1, b2, eps, lr] = [0.9, 0.999, 1e-8, 3e-4];
        const s = { stepSize: lr / (1 - b1 ** t), sqrtBc2: Math.sqrt(1 - b2 ** t), decay: 1 - lr * 0.01 };
        const sc = () => ({ stepSize: E.scalar(s.stepSize), sqrtBc2: E.scalar(s.sqrtBc2), decay: E.scalar(s.decay) });
        const fused = () => {
          const r = E.adamStep(E.tensor(p, [n]), E.tensor(g, [n]), E.tensor(m, [n]), E.tensor(v, [n]), sc(), { beta1: b1, beta2: b2, eps, decoupledDecay: wd });
          return [r.p, r.m, r.v];
        };
        const composite = () => {
          const [P, G, M, V] = [p, g, m, v].map((x) => E.tensor(x, [n]));
          const c = sc();
          const m1 = E.add(M!, E.mul(E.sub(G!, M!), 1 - b1));
          const v1 = E.add(E.mul(V!, b2), E.mul(E.mul(G!, G!), 1 - b2));
          const denom = E.add(E.div(E.sqrt(v1), c.sqrtBc2), eps);
          const base = wd ? E.mul(P!, c.decay) : P!;
          return [E.sub(base, E.mul(c.stepSize, E.div(m1, denom))), m1, v1];
        };
        const want = on(REF, composite);
        for (const [be, f] of [[REF, fused], [WASM, fused], [WASM_1T, fused], [WASM, composite]] as const) {
          on(be, f).forEach((r, i) => expectClose(r, want[i]!, {}, `adam ${be} output ${i} n ${n} wd ${wd}`));
        }
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('splits a large tensor over threads with the same bits', () => {
    const n = 300_001;
    const p = randn(n, 1), g = randn(n, 2), m = randn(n, 3), v = randn(n, 4).map((x) => x * x);
    const f = () => {
      const r = E.adamStep(E.tensor(p, [n]), E.tensor(g, [n]), E.tensor(m, [n]), E.tensor(v, [n]), { stepSize: E.scalar(1e-3), sqrtBc2: E.scalar(0.5), decay: E.scalar(0.99) }, { beta1: 0.9, beta2: 0.999, eps: 1e-8, decoupledDecay: true });
      return [r.p, r.m, r.v];
    };
    const want = on(REF, f);
    on(WASM, f).forEach((r, i) => expectClose(r, want[i]!, {}, `output ${i}`));
  });
});
