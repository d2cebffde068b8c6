/**
 * Table entries for the sparse row primitives (gatherDot, embeddingBag, scatterOuter) and the
 * fused adamStep: gradient properties, forward checks against naive dense formulas (the ops equal
 * dense matmuls with a k-sparse operand), and adamStep's constant property. They are spread into
 * GRAD_CASES / FORWARD_CASES / CONST_CASES (registry and mutation tests) and run by
 * grad_sparse.test.ts.
 */
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import { hostArb, i32, indicesArb, type GradProblem, type HostTensor } from './gradcheck.js';
import { expectNd } from './host.js';

type Layout = E.SparseLayout;

interface SparseDims {
  B: number;
  k: number;
  d: number;
  m: number;
  layout: Layout;
  idx: number[];
}

/** Small shapes with empty batches, k = 0, d = 0 and repeated indices (m small). */
const dimsArb: fc.Arbitrary<SparseDims> = fc
  .record({
    B: fc.integer({ min: 0, max: 4 }),
    k: fc.integer({ min: 0, max: 4 }),
    d: fc.integer({ min: 0, max: 5 }),
    m: fc.integer({ min: 1, max: 5 }),
    layout: fc.constantFrom<Layout>('rows', 'cols'),
  })
  .chain((s) => indicesArb([s.B, s.k], s.m).map((idx) => ({ ...s, idx })));

const tableShape = (s: SparseDims): number[] => (s.layout === 'rows' ? [s.m, s.d] : [s.d, s.m]);
const fmt = (s: SparseDims): string => `B ${s.B} k ${s.k} d ${s.d} m ${s.m} ${s.layout} idx ${JSON.stringify(s.idx)}`;
const idxT = (s: SparseDims): E.Tensor => i32(s.idx, [s.B, s.k]);

/** W_r[t] of a host table in either layout. */
const wAt = (s: SparseDims, w: readonly number[], r: number, t: number): number => (s.layout === 'rows' ? w[r * s.d + t]! : w[t * s.m + r]!);

/** The dense [B, m] matrix S with v at (b, idx[b, j]) (repeats summed): every op is a matmul with it. */
function denseS(s: SparseDims, v: readonly number[]): number[] {
  const S = new Array<number>(s.B * s.m).fill(0);
  for (let b = 0; b < s.B; b++) for (let j = 0; j < s.k; j++) S[b * s.m + s.idx[b * s.k + j]!]! += v[b * s.k + j]!;
  return S;
}

/**
 * Flat picks (BatchTopK's variable picks per row): idx [N] of positions b·m + r, any order,
 * repeats allowed, some rows with none; B = 0 forces N = 0.
 */
interface FlatDims {
  B: number;
  d: number;
  m: number;
  layout: Layout;
  flat: number[];
}

const flatArb: fc.Arbitrary<FlatDims> = fc
  .record({
    B: fc.integer({ min: 0, max: 4 }),
    n: fc.integer({ min: 0, max: 9 }),
    d: fc.integer({ min: 0, max: 5 }),
    m: fc.integer({ min: 1, max: 5 }),
    layout: fc.constantFrom<Layout>('rows', 'cols'),
  })
  .chain((s) => indicesArb([s.B === 0 ? 0 : s.n], s.B * s.m).map((flat) => ({ B: s.B, d: s.d, m: s.m, layout: s.layout, flat })));

const flatFmt = (s: FlatDims): string => `flat B ${s.B} d ${s.d} m ${s.m} ${s.layout} picks ${JSON.stringify(s.flat)}`;
const flatT = (s: FlatDims): E.Tensor => i32(s.flat, [s.flat.length]);
const asDims = (s: FlatDims): SparseDims => ({ B: s.B, k: 0, d: s.d, m: s.m, layout: s.layout, idx: [] });

/** The dense [B, m] matrix S with v[p] at flat position flat[p] (repeats summed). */
function denseSFlat(s: FlatDims, v: readonly number[]): number[] {
  const S = new Array<number>(s.B * s.m).fill(0);
  s.flat.forEach((q, p) => (S[q]! += v[p]!));
  return S;
}

// ------------------------------------------------------------------ host formulas

/** out[p] = a[b] · W_r for the flat pick q = b·m + r. */
export function gatherDotFlatH(s: FlatDims, a: readonly number[], w: readonly number[]): HostTensor {
  const out = s.flat.map((q) => {
    const b = Math.floor(q / s.m), r = q % s.m;
    let acc = 0;
    for (let t = 0; t < s.d; t++) acc += a[b * s.d + t]! * wAt(asDims(s), w, r, t);
    return acc;
  });
  return { shape: [s.flat.length], data: out };
}

/** S @ W over the dense S of the flat picks: the same matmul formulas as the [B, k] form. */
function denseMatmulH(s: SparseDims, S: readonly number[], w: readonly number[]): HostTensor {
  const out: number[] = [];
  for (let b = 0; b < s.B; b++) {
    for (let t = 0; t < s.d; t++) {
      let acc = 0;
      for (let r = 0; r < s.m; r++) acc += S[b * s.m + r]! * wAt(s, w, r, t);
      out.push(acc);
    }
  }
  return { shape: [s.B, s.d], data: out };
}

function denseOuterH(s: SparseDims, S: readonly number[], a: readonly number[]): HostTensor {
  const rows = new Array<number>(s.m * s.d).fill(0);
  for (let r = 0; r < s.m; r++) for (let t = 0; t < s.d; t++) for (let b = 0; b < s.B; b++) rows[r * s.d + t]! += S[b * s.m + r]! * a[b * s.d + t]!;
  if (s.layout === 'rows') return { shape: [s.m, s.d], data: rows };
  const cols: number[] = [];
  for (let t = 0; t < s.d; t++) for (let r = 0; r < s.m; r++) cols.push(rows[r * s.d + t]!);
  return { shape: [s.d, s.m], data: cols };
}

export const embeddingBagFlatH = (s: FlatDims, v: readonly number[], w: readonly number[]): HostTensor => denseMatmulH(asDims(s), denseSFlat(s, v), w);
export const scatterOuterFlatH = (s: FlatDims, v: readonly number[], a: readonly number[]): HostTensor => denseOuterH(asDims(s), denseSFlat(s, v), a);

export function gatherDotH(s: SparseDims, a: readonly number[], w: readonly number[]): HostTensor {
  const out: number[] = [];
  for (let b = 0; b < s.B; b++) {
    for (let j = 0; j < s.k; j++) {
      let acc = 0;
      for (let t = 0; t < s.d; t++) acc += a[b * s.d + t]! * wAt(s, w, s.idx[b * s.k + j]!, t);
      out.push(acc);
    }
  }
  return { shape: [s.B, s.k], data: out };
}

/** out = S @ W_rows (as a dense matmul, a different summation than the kernels'). */
export const embeddingBagH = (s: SparseDims, v: readonly number[], w: readonly number[]): HostTensor => denseMatmulH(s, denseS(s, v), w);

/** Sᵀ @ a ([m, d]), transposed for the cols layout. */
export const scatterOuterH = (s: SparseDims, v: readonly number[], a: readonly number[]): HostTensor => denseOuterH(s, denseS(s, v), a);

// ------------------------------------------------------------------ gradient properties

interface SparseGradCase {
  op: string;
  name: string;
  group: 'structural';
  arb: fc.Arbitrary<GradProblem>;
}

export const SPARSE_GRAD_CASES: SparseGradCase[] = [
  {
    op: 'gatherDot',
    group: 'structural',
    name: 'gatherDot: both layouts, repeated indices, k = 0 / empty batch (VJP: embeddingBag, scatterOuter)',
    arb: dimsArb.chain((s) => fc.tuple(fc.constant(s), hostArb([s.B, s.d]), hostArb(tableShape(s)))).map(([s, a, w]) => ({
      inputs: [a, w],
      f: (ta: E.Tensor, tw: E.Tensor) => E.gatherDot(ta, tw, idxT(s), s.layout),
      label: `gatherDot ${fmt(s)}`,
    })),
  },
  {
    op: 'embeddingBag',
    group: 'structural',
    name: 'embeddingBag: both layouts, repeated indices accumulate (VJP: gatherDot, scatterOuter)',
    arb: dimsArb.chain((s) => fc.tuple(fc.constant(s), hostArb([s.B, s.k]), hostArb(tableShape(s)))).map(([s, v, w]) => ({
      inputs: [v, w],
      f: (tv: E.Tensor, tw: E.Tensor) => E.embeddingBag(tv, idxT(s), tw, s.layout),
      label: `embeddingBag ${fmt(s)}`,
    })),
  },
  {
    op: 'scatterOuter',
    group: 'structural',
    name: 'scatterOuter: both layouts, repeated indices accumulate (VJP: gatherDot, embeddingBag)',
    arb: dimsArb.chain((s) => fc.tuple(fc.constant(s), hostArb([s.B, s.k]), hostArb([s.B, s.d]))).map(([s, v, a]) => ({
      inputs: [v, a],
      f: (tv: E.Tensor, ta: E.Tensor) => E.scatterOuter(tv, idxT(s), ta, s.m, s.layout),
      label: `scatterOuter ${fmt(s)}`,
    })),
  },
  {
    op: 'gatherDot',
    group: 'structural',
    name: 'gatherDot, flat picks b·m + r: both layouts, rows with none or many, repeats',
    arb: flatArb.chain((s) => fc.tuple(fc.constant(s), hostArb([s.B, s.d]), hostArb(tableShape(asDims(s))))).map(([s, a, w]) => ({
      inputs: [a, w],
      f: (ta: E.Tensor, tw: E.Tensor) => E.gatherDot(ta, tw, flatT(s), s.layout),
      label: `gatherDot ${flatFmt(s)}`,
    })),
  },
  {
    op: 'embeddingBag',
    group: 'structural',
    name: 'embeddingBag, flat picks b·m + r: both layouts, rows with no pick are 0',
    arb: flatArb.chain((s) => fc.tuple(fc.constant(s), hostArb([s.flat.length]), hostArb(tableShape(asDims(s))))).map(([s, v, w]) => ({
      inputs: [v, w],
      f: (tv: E.Tensor, tw: E.Tensor) => E.embeddingBag(tv, flatT(s), tw, s.layout, s.B),
      label: `embeddingBag ${flatFmt(s)}`,
    })),
  },
  {
    op: 'scatterOuter',
    group: 'structural',
    name: 'scatterOuter, flat picks b·m + r: both layouts, repeats accumulate',
    arb: flatArb.chain((s) => fc.tuple(fc.constant(s), hostArb([s.flat.length]), hostArb([s.B, s.d]))).map(([s, v, a]) => ({
      inputs: [v, a],
      f: (tv: E.Tensor, ta: E.Tensor) => E.scatterOuter(tv, flatT(s), ta, s.m, s.layout),
      label: `scatterOuter ${flatFmt(s)}`,
    })),
  },
];

// ------------------------------------------------------------------ forward checks

interface Check {
  label: string;
  run: () => void;
}
interface SparseForwardCase {
  op: string;
  name: string;
  arb: fc.Arbitrary<Check>;
}

type FloatDType = 'float32' | 'float64';
const dtypeArb = fc.constantFrom<FloatDType>('float64', 'float32');
const vals = (n: number) => fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n });
const rnd = (d: FloatDType) => (d === 'float32' ? Math.fround : (v: number) => v);
const up = (x: readonly number[], shape: number[], d: FloatDType) => E.tensor(Float64Array.from(x), shape, d);
/** float32: inputs are rounded first; the expectation sums them exactly (float64) and rounds once. */
const tol = (d: FloatDType) => (d === 'float32' ? 1e-6 : 1e-12);

function forward(
  op: string,
  name: string,
  sizes: (s: SparseDims) => [number, number],
  run: (s: SparseDims, x: number[], y: number[], d: FloatDType) => void,
): SparseForwardCase {
  return {
    op,
    name,
    arb: fc
      .tuple(dimsArb, dtypeArb)
      .chain(([s, d]) => fc.tuple(fc.constant(s), vals(sizes(s)[0]), vals(sizes(s)[1]), fc.constant(d)))
      .map(([s, x, y, d]) => ({ label: `${op} ${fmt(s)} ${d}`, run: () => E.tidy(() => run(s, x.map(rnd(d)), y.map(rnd(d)), d)) })),
  };
}

function forwardFlat(
  op: string,
  name: string,
  sizes: (s: FlatDims) => [number, number],
  run: (s: FlatDims, x: number[], y: number[], d: FloatDType) => void,
): SparseForwardCase {
  return {
    op,
    name,
    arb: fc
      .tuple(flatArb, dtypeArb)
      .chain(([s, d]) => fc.tuple(fc.constant(s), vals(sizes(s)[0]), vals(sizes(s)[1]), fc.constant(d)))
      .map(([s, x, y, d]) => ({ label: `${op} ${flatFmt(s)} ${d}`, run: () => E.tidy(() => run(s, x.map(rnd(d)), y.map(rnd(d)), d)) })),
  };
}

export const SPARSE_FORWARD_CASES: SparseForwardCase[] = [
  forward('gatherDot', 'gatherDot: a[b] · W_{idx[b, j]} in both layouts', (s) => [s.B * s.d, s.m * s.d], (s, a, w, d) =>
    expectNd(E.gatherDot(up(a, [s.B, s.d], d), up(w, tableShape(s), d), idxT(s), s.layout), gatherDotH(s, a, w), tol(d), tol(d), 'gatherDot'),
  ),
  forward('embeddingBag', 'embeddingBag: equals S @ W for the k-sparse S (repeats summed)', (s) => [s.B * s.k, s.m * s.d], (s, v, w, d) =>
    expectNd(E.embeddingBag(up(v, [s.B, s.k], d), idxT(s), up(w, tableShape(s), d), s.layout), embeddingBagH(s, v, w), tol(d), tol(d), 'embeddingBag'),
  ),
  forward('scatterOuter', 'scatterOuter: equals Sᵀ @ a (rows) or aᵀ @ S (cols); untouched rows are 0', (s) => [s.B * s.k, s.B * s.d], (s, v, a, d) =>
    expectNd(E.scatterOuter(up(v, [s.B, s.k], d), idxT(s), up(a, [s.B, s.d], d), s.m, s.layout), scatterOuterH(s, v, a), tol(d), tol(d), 'scatterOuter'),
  ),
  forwardFlat('gatherDot', 'gatherDot, flat picks: a[q / m] · W_{q mod m}', (s) => [s.B * s.d, s.m * s.d], (s, a, w, d) =>
    expectNd(E.gatherDot(up(a, [s.B, s.d], d), up(w, tableShape(asDims(s)), d), flatT(s), s.layout), gatherDotFlatH(s, a, w), tol(d), tol(d), 'gatherDot flat'),
  ),
  forwardFlat('embeddingBag', 'embeddingBag, flat picks: equals S @ W for the S the picks scatter', (s) => [s.flat.length, s.m * s.d], (s, v, w, d) =>
    expectNd(E.embeddingBag(up(v, [s.flat.length], d), flatT(s), up(w, tableShape(asDims(s)), d), s.layout, s.B), embeddingBagFlatH(s, v, w), tol(d), tol(d), 'embeddingBag flat'),
  ),
  forwardFlat('scatterOuter', 'scatterOuter, flat picks: equals Sᵀ @ a (rows) or aᵀ @ S (cols)', (s) => [s.flat.length, s.B * s.d], (s, v, a, d) =>
    expectNd(E.scatterOuter(up(v, [s.flat.length], d), flatT(s), up(a, [s.B, s.d], d), s.m, s.layout), scatterOuterFlatH(s, v, a), tol(d), tol(d), 'scatterOuter flat'),
  ),
  {
    op: 'adamStep',
    name: 'adamStep: the Adam/AdamW formulas, each operation rounded to the dtype (bit-exact)',
    arb: fc
      .tuple(fc.integer({ min: 0, max: 9 }), dtypeArb, fc.boolean(), fc.integer({ min: 1, max: 50 }))
      .chain(([n, d, wd, t]) => fc.tuple(fc.constant(n), fc.constant(d), fc.constant(wd), fc.constant(t), vals(n), vals(n), vals(n), vals(n)))
      .map(([n, d, wd, t, p, g, m, v]) => ({
        label: `adamStep n ${n} ${d} wd ${wd} t ${t}`,
        run: () =>
          E.tidy(() => {
            const R = rnd(d);
            const [P, G, M] = [p, g, m].map((x) => x.map(R));
            const V = v.map((x) => R(x * x));
            const [b1, b2, eps] = [0.9, 0.999, 1e-8];
            const ss = R(1e-3 / (1 - b1 ** t)), bc = R(Math.sqrt(1 - b2 ** t)), dc = R(1 - 1e-3 * 0.1);
            const r = E.adamStep(up(P!, [n], d), up(G!, [n], d), up(M!, [n], d), up(V, [n], d), { stepSize: E.scalar(ss, d), sqrtBc2: E.scalar(bc, d), decay: E.scalar(dc, d) }, { beta1: b1, beta2: b2, eps, decoupledDecay: wd });
            const want = { p: [] as number[], m: [] as number[], v: [] as number[] };
            for (let i = 0; i < n; i++) {
              const m1 = R(M![i]! + R(R(G![i]! - M![i]!) * R(1 - b1)));
              const v1 = R(R(V[i]! * R(b2)) + R(R(G![i]! * G![i]!) * R(1 - b2)));
              const den = R(R(R(Math.sqrt(v1)) / bc) + R(eps));
              want.p.push(R((wd ? R(P![i]! * dc) : P![i]!) - R(ss * R(m1 / den))));
              want.m.push(m1);
              want.v.push(v1);
            }
            expectNd(r.p, { shape: [n], data: want.p }, 0, 0, 'adamStep p');
            expectNd(r.m, { shape: [n], data: want.m }, 0, 0, 'adamStep m');
            expectNd(r.v, { shape: [n], data: want.v }, 0, 0, 'adamStep v');
          }),
      })),
  },
];

// ------------------------------------------------------------------ constant property

export const ADAM_CONST_CASE = {
  op: 'adamStep',
  arb: fc
    .integer({ min: 0, max: 8 })
    .chain((n) => hostArb([n]))
    .map((x) => ({
      inputs: [x],
      f: (t: E.Tensor) =>
        E.adamStep(t, E.mul(t, 0.5), E.mul(t, 0.25), E.mul(t, t), { stepSize: E.scalar(0.1, 'float64'), sqrtBc2: E.scalar(0.5, 'float64'), decay: E.scalar(0.9, 'float64') }, { beta1: 0.9, beta2: 0.99, eps: 1e-8, decoupledDecay: true }).p,
      label: `adamStep [${x.shape.join(',')}]`,
    })),
};
