/**
 * The seed-paired statistics against values computed independently: closed forms of the t
 * distribution for ν = 1 and 2, a numerical integral of the t density for other ν, the normal
 * limit, and a paired interval worked by hand.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pairedInterval, tCritical, tInterval, tTwoSidedMass, verdictOf } from '../../experiments/eval/statistics.js';

/** log Γ by Lanczos (g = 7), independent of the series in statistics.ts */
function lgamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ∫_{−t}^{t} of the Student t density, composite Simpson with 20 000 intervals */
function massByIntegration(t: number, nu: number): number {
  const logC = lgamma((nu + 1) / 2) - lgamma(nu / 2) - 0.5 * Math.log(nu * Math.PI);
  const dens = (x: number) => Math.exp(logC - ((nu + 1) / 2) * Math.log(1 + (x * x) / nu));
  const n = 20_000;
  const h = t / n;
  let s = dens(0) + dens(t);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * dens(i * h);
  return (2 * h * s) / 3;
}

describe('Student t', () => {
  it('ν = 1 is the Cauchy distribution: t_{0.975} = tan(0.475π) = 12.706', () => {
    expect(tCritical(1)).toBeCloseTo(Math.tan(0.475 * Math.PI), 9);
    expect(tCritical(1)).toBeCloseTo(12.7062, 4);
  });

  it('ν = 2 has F(t) = 1/2 + t / (2√(2 + t²)), so t_p = (2p − 1)·√(2 / (1 − (2p − 1)²)); t(2) = 4.303', () => {
    for (const level of [0.8, 0.9, 0.95, 0.99]) expect(tCritical(2, level)).toBeCloseTo(level * Math.sqrt(2 / (1 - level * level)), 9);
    expect(tCritical(2)).toBeCloseTo(4.3027, 4);
  });

  it('the series match a numerical integral of the density for odd and even ν', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0.01, max: 8, noNaN: true }), (nu, t) => {
        expect(Math.abs(tTwoSidedMass(t, nu) - massByIntegration(t, nu))).toBeLessThan(1e-9);
      }),
      { numRuns: 60 },
    );
  });

  it('printed table values and the normal limit', () => {
    // Fisher & Yates' table, two-sided 5%
    for (const [nu, v] of [[3, 3.182], [4, 2.776], [9, 2.262], [29, 2.045]] as const) expect(tCritical(nu)).toBeCloseTo(v, 3);
    expect(tCritical(100_000)).toBeCloseTo(1.959964, 4);
  });

  it('rejects impossible inputs by name', () => {
    expect(() => tCritical(0)).toThrow(/degrees of freedom/);
    expect(() => tCritical(2.5)).toThrow(/degrees of freedom/);
    expect(() => tCritical(3, 1.5)).toThrow(/confidence level/);
  });
});

describe('paired interval and verdicts', () => {
  it('a worked case: differences 1, 2, 3 give 2 ± 4.303·1/√3', () => {
    const iv = pairedInterval([1.5, 2.5, 3.5], [0.5, 0.5, 0.5]);
    const half = (4.302652729911275 * 1) / Math.sqrt(3);
    expect(iv.n).toBe(3);
    expect(iv.mean).toBeCloseTo(2, 12);
    expect(iv.sd).toBeCloseTo(1, 12);
    expect(iv.lo).toBeCloseTo(2 - half, 9);
    expect(iv.hi).toBeCloseTo(2 + half, 9);
    expect(verdictOf(iv, 'higher')).toBe('unresolved'); // the interval includes 0
  });

  it('the verdict follows the interval alone', () => {
    const tight = pairedInterval([1.1, 1.2, 1.3], [0, 0, 0]); // 1.2 ± 0.25
    expect(verdictOf(tight, 'higher')).toBe('holds');
    expect(verdictOf(tight, 'lower')).toBe('reversed');
    const neg = tInterval([-1.1, -1.2, -1.3]);
    expect(verdictOf(neg, 'lower')).toBe('holds');
    expect(verdictOf(neg, 'higher')).toBe('reversed');
  });

  it('one seed, or non-finite values, leave no interval and an unresolved claim', () => {
    const one = pairedInterval([1], [0]);
    expect(one.n).toBe(1);
    expect(one.mean).toBe(1);
    expect(Number.isNaN(one.lo)).toBe(true);
    expect(verdictOf(one, 'higher')).toBe('unresolved');
    const withNaN = tInterval([1, NaN, 3]);
    expect(withNaN.n).toBe(2);
    expect(withNaN.mean).toBe(2);
    expect(() => pairedInterval([1, 2], [1])).toThrow(/matched samples/);
  });
});
