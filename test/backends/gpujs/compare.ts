/**
 * Cross-backend comparison: run the same tensor program on the reference backend and on a gpu.js
 * mode, then compare element by element under a bound derived from the mode's arithmetic.
 */
import { expect } from 'vitest';
import * as E from '../../../engine/index.js';
import { onBackend, type ModeTolerance } from './modes.js';

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

export function expectClose(label: string, got: HostResult, ref: HostResult, bound: Bound, tol: ModeTolerance): void {
  expect(got.shape, `${label}: shape`).toEqual(ref.shape);
  expect(got.dtype, `${label}: dtype`).toBe(ref.dtype);
  const bad: string[] = [];
  for (let i = 0; i < ref.data.length; i++) {
    const g = got.data[i]!;
    const r = ref.data[i]!;
    if (Number.isNaN(r) || Number.isNaN(g)) {
      if (Number.isNaN(r) !== Number.isNaN(g)) bad.push(`[${i}] got ${g}, reference ${r}`);
      continue;
    }
    if (g === r) continue;
    if (tol.flushesSubnormals && Math.abs(r) < 2 ** -126 && Math.abs(g) < 2 ** -126) continue;
    let allowed: number;
    if (bound === 'exact') allowed = tol.exactUlps * ulp(r);
    else if (bound === 'math') allowed = tol.mathUlps * ulp(r) + tol.mathAbs;
    else if (bound === 'formula') allowed = tol.formulaUlps * ulp(r) + tol.mathAbs;
    else if ('terms' in bound) allowed = 2 * bound.terms * EPS32 * bound.scale[i]! + tol.mathAbs * (tol.mathUlps > 1 ? 1 : 0);
    else allowed = bound.abs + bound.rel * Math.abs(r);
    if (!(Math.abs(g - r) <= allowed)) bad.push(`[${i}] got ${g}, reference ${r} (|diff| ${Math.abs(g - r)} > ${allowed})`);
  }
  expect(bad.slice(0, 5), `${label}: ${bad.length} of ${ref.data.length} elements differ`).toEqual([]);
}
