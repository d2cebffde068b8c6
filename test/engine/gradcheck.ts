/**
 * Central-finite-difference gradient checking in float64 on the reference backend, and the
 * fast-check arbitraries (shapes, broadcast-compatible shapes, values kept away from kinks and
 * outside domains) that the gradient and forward properties draw from.
 *
 * One seed (GSAE_TEST_SEED, default below) fixes every random choice: fast-check runs, cotangents
 * and sampled probes all derive from it.
 */
import fc from 'fast-check';
import * as E from '../../engine/index.js';

export const SEED = Number(process.env.GSAE_TEST_SEED ?? 20240917);
/** Runs per property; modest so the whole engine suite stays well under two minutes on 2 cores. */
export const NUM_RUNS = Number(process.env.GSAE_TEST_RUNS ?? 30);

export function fcParams(numRuns = NUM_RUNS): fc.Parameters<unknown> {
  return { seed: SEED, numRuns };
}

/** Every gradient check runs on the float64 oracle. */
export function useReference(): void {
  E.setBackend('reference');
}

// ------------------------------------------------------------------ host data

/** A float64 tensor's data kept on the host (what the properties generate and compare). */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

export const f64 = (h: HostTensor): E.Tensor => E.tensor(Float64Array.from(h.data), h.shape, 'float64');
export const i32 = (data: readonly number[], shape: readonly number[]): E.Tensor => E.tensor(Int32Array.from(data), shape, 'int32');
export const read = (t: E.Tensor): number[] => Array.from(t.toArray());

/** mulberry32: a tiny seeded PRNG for values that depend on shapes known only at run time. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------ the checker

export interface GradCheckOptions {
  /** finite-difference step (default 1e-5: truncation ~h², rounding ~eps/h both ≈ 1e-10 relative) */
  h?: number;
  rtol?: number;
  atol?: number;
  /** seeds the random cotangent */
  seed?: number;
  /** round the cotangent to float32 (for paths whose backward passes through float32, like casts) */
  float32Cotangent?: boolean;
}

/** What a gradient property checks: f's VJP at `inputs` against central differences. */
export interface GradProblem {
  /** The differentiated inputs (uploaded as float64 tensors, in order, as f's arguments). */
  inputs: readonly HostTensor[];
  /** Builds the output from the inputs; indices and other constants are closed over. */
  f: (...xs: E.Tensor[]) => E.Tensor;
  opts?: GradCheckOptions;
  /** Shown when the check fails (shapes, attrs). */
  label?: string;
}

export class GradCheckError extends Error {}

/** Evaluates f on host data inside a tidy and returns its output on the host. */
function evalHost(f: GradProblem['f'], inputs: readonly HostTensor[]): Float64Array {
  return E.tidy(() => {
    const y = f(...inputs.map(f64));
    if (y.dtype !== 'float64') throw new GradCheckError(`gradCheck: f returned ${y.dtype}; gradient checks need a float64 output`);
    return y.toArray() as Float64Array;
  });
}

/**
 * Checks the VJP of `f` at `inputs` for a random cotangent u: for every input element e,
 *   ⟨u, J e⟩ (from the pullback)  vs  (⟨u, f(x + h e)⟩ − ⟨u, f(x − h e)⟩) / 2h.
 * Output entries that are not finite (−Infinity from masking) get a zero cotangent.
 * Returns the largest error relative to its tolerance (≤ 1 passes); throws GradCheckError naming
 * the input, element, both values and the label otherwise.
 */
export function gradCheck(p: GradProblem): number {
  const h = p.opts?.h ?? 1e-5;
  const rtol = p.opts?.rtol ?? 1e-5;
  const atol = p.opts?.atol ?? 1e-7;
  const rand = prng(p.opts?.seed ?? SEED);
  const { f, inputs } = p;

  const { u, analytic, scale } = E.tidy(() => {
    const xs = inputs.map(f64);
    const [out, pullback] = E.vjp(f, ...xs);
    const y = out as E.Tensor;
    if (!(y instanceof E.Tensor) || y.dtype !== 'float64') throw new GradCheckError('gradCheck: f must return one float64 tensor');
    const yv = y.toArray();
    const round = p.opts?.float32Cotangent ? Math.fround : (v: number) => v;
    const u = Array.from(yv, (v) => (Number.isFinite(v) ? round(2 * rand() - 1) : 0));
    const grads = pullback(E.tensor(Float64Array.from(u), y.shape, 'float64')) as (E.Tensor | null)[];
    const analytic = grads.map((g, i) => {
      if (!(g instanceof E.Tensor)) throw new GradCheckError(`gradCheck: no gradient tensor for input ${i}`);
      return Array.from(g.toArray());
    });
    let scale = 0;
    yv.forEach((v, k) => (scale += u[k] !== 0 ? Math.abs(u[k]! * v) : 0));
    return { u, analytic, scale };
  });
  const dot = (y: Float64Array): number => {
    let s = 0;
    for (let k = 0; k < y.length; k++) if (u[k] !== 0) s += u[k]! * y[k]!;
    return s;
  };
  // rounding in ⟨u, f⟩ is about eps·Σ|u·y|; divided by 2h it is an absolute floor on the error
  const floor = atol + (4 * Number.EPSILON * Math.max(1, scale)) / h;
  let worst = 0;
  inputs.forEach((inp, i) => {
    for (let j = 0; j < inp.data.length; j++) {
      const plus = inputs.map((t, k) => (k === i ? { shape: t.shape, data: t.data.map((v, m) => (m === j ? v + h : v)) } : t));
      const minus = inputs.map((t, k) => (k === i ? { shape: t.shape, data: t.data.map((v, m) => (m === j ? v - h : v)) } : t));
      const numeric = (dot(evalHost(f, plus)) - dot(evalHost(f, minus))) / (2 * h);
      const a = analytic[i]![j]!;
      const tol = floor + rtol * Math.max(Math.abs(a), Math.abs(numeric));
      const ratio = Math.abs(a - numeric) / tol;
      if (!(ratio <= 1)) {
        throw new GradCheckError(
          `gradCheck${p.label ? ` (${p.label})` : ''}: input ${i} [${inp.shape.join(', ')}] element ${j}: ` +
            `VJP gives ${a}, finite differences give ${numeric} (tolerance ${tol.toExponential(2)})`,
        );
      }
      worst = Math.max(worst, ratio);
    }
  });
  return worst;
}

// ------------------------------------------------------------------ shape arbitraries

export interface ShapeOpts {
  minRank?: number;
  maxRank?: number;
  minDim?: number;
  maxDim?: number;
  /** largest element count (keeps finite differences cheap) */
  maxSize?: number;
}

/** Shapes of rank minRank..maxRank; size-1 dimensions are drawn often (they are where broadcasting bugs live). */
export function shapeArb(o: ShapeOpts = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 4, minDim = 1, maxDim = 3, maxSize = 36 } = o;
  const dim = minDim <= 1 && maxDim >= 1 ? fc.oneof(fc.constant(1), fc.integer({ min: minDim, max: maxDim })) : fc.integer({ min: minDim, max: maxDim });
  return fc.array(dim, { minLength: minRank, maxLength: maxRank }).filter((s) => sizeOf(s) <= maxSize);
}

/** NumPy broadcasting, written independently of the engine's (used to build expectations). */
export function broadcastHost(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v !== 1) {
        if (d !== 1 && d !== v) throw new Error(`broadcastHost: ${JSON.stringify(shapes)} do not broadcast`);
        d = v;
      }
    }
    out.push(d);
  }
  return out;
}

/** A shape that broadcasts to `out`: some leading axes dropped, some axes set to 1. */
export function broadcastableTo(out: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
}

/** `n` mutually broadcast-compatible shapes (ranks 0–4, with size-1 and missing axes). */
export function broadcastShapesArb(n: number, o: ShapeOpts = {}): fc.Arbitrary<number[][]> {
  return shapeArb(o).chain((out) => fc.tuple(...Array.from({ length: n }, () => broadcastableTo(out))));
}

/** A random subset of the axes of a rank-r tensor (possibly empty), in random order. */
export function axesArb(rank: number, minLength = 0): fc.Arbitrary<number[]> {
  return fc.shuffledSubarray(range(rank), { minLength: Math.min(minLength, rank) });
}

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

// ------------------------------------------------------------------ value arbitraries

export interface ValueOpts {
  min?: number;
  max?: number;
  /** points the values keep `margin` away from (kinks: 0 for relu/abs) */
  avoid?: readonly number[];
  margin?: number;
  /** pairwise gaps of at least `gap` (no ties for max/topk/maximum) */
  distinct?: boolean;
  gap?: number;
}

const double = (min: number, max: number): fc.Arbitrary<number> => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

/**
 * `size` float values in [min, max]. `avoid` keeps them ≥ margin from kinks (≫ the finite
 * difference step, so x ± h never crosses one); `distinct` builds them as a shuffled increasing
 * sequence with gaps ≥ gap, so no two tie (and the spread may exceed max for large sizes).
 */
export function valuesArb(size: number, o: ValueOpts = {}): fc.Arbitrary<number[]> {
  const { min = -3, max = 3, avoid = [], margin = 1e-2, distinct = false, gap = 0.05 } = o;
  const away = (v: number) => avoid.every((p) => Math.abs(v - p) >= margin);
  if (!distinct) return fc.array(double(min, max).filter(away), { minLength: size, maxLength: size });
  return fc
    .tuple(
      double(min, Math.max(min, Math.min(max, min + 1))),
      fc.array(double(gap, Math.max(gap, (max - min) / Math.max(1, size))), { minLength: Math.max(0, size - 1), maxLength: Math.max(0, size - 1) }),
      fc.shuffledSubarray(range(size), { minLength: size, maxLength: size }),
    )
    .map(([start, gaps, perm]) => {
      const sorted = [start];
      for (const g of gaps) sorted.push(sorted[sorted.length - 1]! + g);
      return perm.map((p) => sorted[p]!);
    })
    .filter((vs) => vs.every(away));
}

/** A host tensor of the given shape with values from valuesArb. */
export function hostArb(shape: readonly number[], o: ValueOpts = {}): fc.Arbitrary<HostTensor> {
  return valuesArb(sizeOf(shape), o).map((data) => ({ shape: [...shape], data }));
}

/** Random int32 indices in [0, n) for a given shape (repeats allowed). */
export function indicesArb(shape: readonly number[], n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: Math.max(0, n - 1) }), { minLength: sizeOf(shape), maxLength: sizeOf(shape) });
}
