/**
 * Cross-backend comparison without a test framework: runs in Node (vitest, via compare.ts) and in
 * the browser page of the Chromium equivalence run (browser/page.ts). Tolerances per mode: see
 * `TOLERANCE`.
 */
import * as E from '../../../engine/index.js';
import type { GpujsMode } from '../../../engine/backends/gpujs/index.js';

/** How far each mode may be from the reference, in ulps of the reference value. */
export interface ModeTolerance {
  /** +, -, *, comparisons, movement: exact in IEEE float32 */
  exactUlps: number;
  /** division, sqrt and transcendental functions */
  mathUlps: number;
  /** short formulas of several rounded float32 steps (gelu, geluGrad) against the float64 reference */
  formulaUlps: number;
  /** absolute floor for transcendental results near zero */
  mathAbs: number;
  /** float32 subnormals may read as zero (GPUs flush them) */
  flushesSubnormals?: boolean;
}

const GPU_TOL: ModeTolerance = { exactUlps: 0, mathUlps: 64, formulaUlps: 256, mathAbs: 1e-6, flushesSubnormals: true };

export const TOLERANCE: Record<GpujsMode, ModeTolerance> = {
  // webasm imports JavaScript's Math for transcendentals and rounds to float32: as the reference
  webasm: { exactUlps: 0, mathUlps: 1, formulaUlps: 16, mathAbs: 0 },
  // cpu computes in float64 and stores float32: as the reference
  cpu: { exactUlps: 0, mathUlps: 1, formulaUlps: 16, mathAbs: 0 },
  // GPU built-ins (exp, log, pow, division) are approximations whose error the GLSL ES / WGSL specs
  // leave to the driver; measured on Mesa llvmpipe and SwiftShader they stay within a few ulps
  // (see engine/backends/gpujs/README.md)
  headlessgl: GPU_TOL,
  webgl2: GPU_TOL,
  webgl: GPU_TOL,
  webgpu: GPU_TOL,
};

/** Runs fn with `name` as the engine's backend, restoring the previous one. */
export function onBackend<T>(name: string, fn: () => T): T {
  const prev = E.backend().name;
  E.setBackend(name);
  try {
    return fn();
  } finally {
    E.setBackend(prev);
  }
}

export interface HostResult {
  shape: number[];
  dtype: E.DType;
  data: number[];
}

/** Runs `program` (which builds its tensors from host data) on `backend`; everything it makes is freed. */
export function runOn(backend: string, program: () => E.Tensor): HostResult {
  return onBackend(backend, () =>
    E.tidy(() => {
      const t = program();
      return { shape: [...t.shape], dtype: t.dtype, data: Array.from(t.toArray()) };
    }),
  );
}

const EPS32 = 2 ** -23;

/** Spacing of float32 numbers at |v| (one ulp). */
export function ulp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/**
 * How far a result may be from the reference:
 *  - 'exact': bit-for-bit (NaN matches NaN) — movement, comparisons, +, -, × of two values;
 *  - 'math': a few ulps per the mode's transcendental precision;
 *  - 'formula': a short float32 formula (several roundings) against the float64 reference;
 *  - { terms, scale }: a sum of `terms` float32 products, each result within
 *    2·terms·ε·scale (scale = the same program on absolute values: both sides' rounding errors).
 */
export type Bound = 'exact' | 'math' | 'formula' | { terms: number; scale: number[] } | { rel: number; abs: number };

/** The outcome of one comparison: mismatches (first few, described) and the largest errors seen. */
export interface Comparison {
  /** shape or dtype mismatch, if any */
  header: string | null;
  /** number of elements outside the bound */
  badCount: number;
  /** the first few of them, described */
  bad: string[];
  /** largest |got - ref| over finite elements */
  maxAbs: number;
  /**
   * largest |got - ref| in ulps of the reference value, over elements with |ref| ≥ 2^-10 (closer
   * to zero, cancellation in a sum makes ulps of the result meaningless: see maxAbs)
   */
  maxUlps: number;
  /** largest |got - ref| / allowed over elements with a nonzero allowance: 1 = at the bound */
  maxBoundUse: number;
  /** elements compared */
  n: number;
}

export function compareResults(got: HostResult, ref: HostResult, bound: Bound, tol: ModeTolerance, keep = 5): Comparison {
  const res: Comparison = { header: null, badCount: 0, bad: [], maxAbs: 0, maxUlps: 0, maxBoundUse: 0, n: ref.data.length };
  if (got.shape.join(',') !== ref.shape.join(',') || got.dtype !== ref.dtype) {
    res.header = `got ${got.dtype}[${got.shape}], reference ${ref.dtype}[${ref.shape}]`;
    return res;
  }
  const fail = (s: string): void => {
    if (res.bad.length < keep) res.bad.push(s);
    res.badCount++;
  };
  for (let i = 0; i < ref.data.length; i++) {
    const g = got.data[i]!;
    const r = ref.data[i]!;
    if (Number.isNaN(r) || Number.isNaN(g)) {
      if (Number.isNaN(r) !== Number.isNaN(g)) fail(`[${i}] got ${g}, reference ${r}`);
      continue;
    }
    if (g === r) continue;
    const diff = Math.abs(g - r);
    if (Number.isFinite(diff)) {
      res.maxAbs = Math.max(res.maxAbs, diff);
      if (Math.abs(r) >= 2 ** -10) res.maxUlps = Math.max(res.maxUlps, diff / ulp(r));
    }
    if (tol.flushesSubnormals && Math.abs(r) < 2 ** -126 && Math.abs(g) < 2 ** -126) continue;
    let allowed: number;
    if (bound === 'exact') allowed = tol.exactUlps * ulp(r);
    else if (bound === 'math') allowed = tol.mathUlps * ulp(r) + tol.mathAbs;
    else if (bound === 'formula') allowed = tol.formulaUlps * ulp(r) + tol.mathAbs;
    else if ('terms' in bound) allowed = 2 * bound.terms * EPS32 * bound.scale[i]! + tol.mathAbs * (tol.mathUlps > 1 ? 1 : 0);
    else allowed = bound.abs + bound.rel * Math.abs(r);
    if (allowed > 0 && Number.isFinite(diff)) res.maxBoundUse = Math.max(res.maxBoundUse, diff / allowed);
    if (!(diff <= allowed)) fail(`[${i}] got ${g}, reference ${r} (|diff| ${diff} > ${allowed})`);
  }
  return res;
}
