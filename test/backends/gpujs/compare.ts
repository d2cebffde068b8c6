/**
 * Cross-backend comparison: run the same tensor program on the reference backend and on a gpu.js
 * mode, then compare element by element under a bound derived from the mode's arithmetic. The
 * framework-free part (bounds, runOn, tolerances) is compare_core.ts, shared with the browser run.
 */
import { expect } from 'vitest';
import { compareResults, type Bound, type HostResult, type ModeTolerance } from './compare_core.js';

export { runOn, ulp, compareResults, type Bound, type HostResult, type Comparison } from './compare_core.js';

export function expectClose(label: string, got: HostResult, ref: HostResult, bound: Bound, tol: ModeTolerance): void {
  expect(got.shape, `${label}: shape`).toEqual(ref.shape);
  expect(got.dtype, `${label}: dtype`).toBe(ref.dtype);
  const c = compareResults(got, ref, bound, tol);
  expect(c.bad, `${label}: ${c.badCount} of ${c.n} elements differ`).toEqual([]);
}
