/**
 * erf (a float32-accurate composite with the exact derivative as its VJP) and the exact GELU built
 * on it: values against independent float64 references, gradients against finite differences.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { useReference } from './gradcheck.js';

beforeAll(useReference);

// erf to 16 digits (Abramowitz & Stegun tables / mpmath), an independent reference.
const ERF: [number, number][] = [
  [0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [1.5, 0.9661051464753108],
  [2, 0.9953222650189527], [3, 0.9999779095030014], [-0.5, -0.5204998778130465], [-2.5, -0.9995930479825550], [6, 1],
];

describe('erf and the exact GELU', () => {
  it('erf is within 2e-7 of the float64 reference everywhere in the table', () => {
    const x = E.tensor(ERF.map(([v]) => v), [ERF.length], 'float64');
    const got = E.erf(x).toArray();
    ERF.forEach(([v, want], i) => expect(Math.abs(got[i]! - want), `erf(${v})`).toBeLessThan(2e-7));
  });

  it('geluErf(x) = x·Φ(x) and differs from the tanh GELU by up to ~1e-3', () => {
    const xs = [-3, -1, -0.25, 0, 0.5, 1, 2.5];
    const x = E.tensor(xs, [xs.length], 'float64');
    const got = E.geluErf(x).toArray();
    expect(got[3]).toBe(0);
    expect(Math.abs(got[5]! - 1 * 0.8413447460685429)).toBeLessThan(2e-7); // Φ(1)
    expect(Math.abs(got[0]! - -3 * 0.0013498980316301)).toBeLessThan(2e-7); // Φ(−3)
    const tanhGelu = E.gelu(x).toArray();
    const maxDiff = Math.max(...xs.map((_, i) => Math.abs(got[i]! - tanhGelu[i]!)));
    expect(maxDiff).toBeGreaterThan(1e-5); // they are different functions
    expect(maxDiff).toBeLessThan(2e-3);
  });

  it('gradients: erf′ = 2/√π·e^(−x²) (also at 0); geluErf′ matches finite differences', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: 1, maxLength: 9 }), (xs) => {
        const x = E.tensor(xs, [xs.length], 'float64');
        const g = E.grad((t: E.Tensor) => E.sum(E.erf(t)))(x) as E.Tensor;
        const ge = g.toArray();
        xs.forEach((v, i) => expect(ge[i]!).toBeCloseTo((2 / Math.sqrt(Math.PI)) * Math.exp(-v * v), 12));
        const gg = (E.grad((t: E.Tensor) => E.sum(E.geluErf(t)))(x) as E.Tensor).toArray();
        const h = 1e-5;
        const f = (v: number) => E.geluErf(E.tensor([v], [1], 'float64')).item();
        // the fit's own slope differs from the exact derivative by < ~1e-6
        xs.forEach((v, i) => expect(Math.abs(gg[i]! - (f(v + h) - f(v - h)) / (2 * h))).toBeLessThan(2e-6));
      }),
      { numRuns: 30 },
    );
    const g0 = (E.grad((t: E.Tensor) => E.sum(E.erf(t)))(E.tensor([0], [1], 'float64')) as E.Tensor).item();
    expect(g0).toBeCloseTo(2 / Math.sqrt(Math.PI), 14);
  });
});
