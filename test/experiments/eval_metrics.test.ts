import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import { ReconstructionAccumulator, decoderMaxCosines, quantiles } from '../../experiments/eval/reconstruction.js';
import { meanKL, nextTokenCE } from '../../experiments/eval/downstream.js';
import { meanCI } from '../../experiments/eval/steering.js';

const floats = (n: number) => fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n });

describe('reconstruction metrics', () => {
  it('match direct float64 formulas whatever the batching', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }), // rows
        fc.integer({ min: 1, max: 4 }), // d
        fc.integer({ min: 1, max: 5 }), // m
        fc.integer({ min: 1, max: 3 }), // split point
        fc.integer({ min: 0, max: 1 << 30 }),
        (N, d, m, split, seed) => {
          const rng = new E.Rng(seed);
          const x = Array.from({ length: N * d }, () => rng.normal());
          const xh = Array.from({ length: N * d }, () => rng.normal());
          const f = Array.from({ length: N * m }, () => (rng.uniform() < 0.4 ? rng.uniform() : 0));
          const acc = new ReconstructionAccumulator(d, m);
          const s = Math.min(split, N - 1);
          acc.add(x.slice(0, s * d), xh.slice(0, s * d), f.slice(0, s * m));
          acc.add(x.slice(s * d), xh.slice(s * d), f.slice(s * m));
          const r = acc.result();
          // direct formulas
          const mean = Array.from({ length: d }, (_, j) => x.filter((_, i) => i % d === j).reduce((a, b) => a + b, 0) / N);
          let err = 0, tot = 0, hh = 0, dot = 0, nx = 0, nh = 0, cos = 0;
          for (let r2 = 0; r2 < N; r2++) {
            let sx = 0, sh = 0, sd = 0;
            for (let j = 0; j < d; j++) {
              const a = x[r2 * d + j]!, b = xh[r2 * d + j]!;
              err += (a - b) ** 2;
              tot += (a - mean[j]!) ** 2;
              sx += a * a; sh += b * b; sd += a * b;
            }
            hh += sh; dot += sd; nx += Math.sqrt(sx); nh += Math.sqrt(sh); cos += sd / Math.sqrt(sx * sh);
          }
          const l0 = f.filter((v) => v > 0).length / N;
          const alive = new Set(f.flatMap((v, i) => (v > 0 ? [i % m] : []))).size;
          expect(r.mse).toBeCloseTo(err / N, 9);
          expect(r.fvu).toBeCloseTo(err / tot, 6);
          expect(r.explained_variance).toBeCloseTo(1 - err / tot, 6);
          expect(r.l0).toBeCloseTo(l0, 12);
          expect(r.never_active_fraction).toBeCloseTo(1 - alive / m, 12);
          expect(r.gamma).toBeCloseTo(hh / dot, 6);
          expect(r.l2_ratio).toBeCloseTo(nh / nx, 9);
          expect(r.cosine).toBeCloseTo(cos / N, 9);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rejects mismatched shapes and empty sets with clear errors', () => {
    const acc = new ReconstructionAccumulator(2, 3);
    expect(() => acc.add([1, 2], [1], [0, 0, 0])).toThrow(/x has 2 values, x̂ 1/);
    expect(() => acc.result()).toThrow(/no rows/);
  });

  it('perfect reconstruction gives FVU 0, γ 1, cosine 1', () => {
    const acc = new ReconstructionAccumulator(2, 1);
    acc.add([1, 2, 3, 5], [1, 2, 3, 5], [1, 0]);
    const r = acc.result();
    expect(r.fvu).toBe(0);
    expect(r.gamma).toBe(1);
    expect(r.cosine).toBeCloseTo(1, 12);
    expect(r.l0).toBe(0.5);
  });
});

describe('decoder geometry', () => {
  it('max cosine equals brute force over all pairs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1e9 }), (m, d, seed) => {
        const rng = new E.Rng(seed);
        const w = Array.from({ length: m * d }, () => rng.normal());
        const got = decoderMaxCosines(w, m, d);
        for (let i = 0; i < m; i++) {
          let best = -Infinity;
          for (let k = 0; k < m; k++) {
            if (k === i) continue;
            let s = 0, a = 0, b = 0;
            for (let j = 0; j < d; j++) { s += w[i * d + j]! * w[k * d + j]!; a += w[i * d + j]! ** 2; b += w[k * d + j]! ** 2; }
            best = Math.max(best, s / Math.sqrt(a * b));
          }
          expect(got[i]).toBeCloseTo(best, 9);
        }
      }),
      { numRuns: 30 },
    );
  });
  it('quantiles interpolate', () => {
    expect(quantiles([3, 1, 2, 4], [0, 0.5, 1])).toEqual([1, 2.5, 4]);
  });
});

describe('downstream helpers', () => {
  it('nextTokenCE and meanKL match hand computation', () => {
    E.setBackend('reference');
    E.tidy(() => {
      const logits = E.tensor([[[0, 1, 2], [2, 0, 0], [0, 0, 0]]]); // [1, 3, 3]
      const tokens = E.tensor([[0, 2, 1]], [1, 3], 'int32');
      const lse = (a: number[]) => Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
      const want = ((lse([0, 1, 2]) - 2) + (lse([2, 0, 0]) - 0)) / 2;
      expect(nextTokenCE(logits, tokens).item()).toBeCloseTo(want, 5);
      expect(meanKL(logits, logits).item()).toBeCloseTo(0, 6);
      const q = E.tensor([[[0, 0, 0], [0, 0, 0], [9, 9, 9]]]);
      const p1 = [0, 1, 2].map((v) => Math.exp(v - lse([0, 1, 2])));
      const p2 = [2, 0, 0].map((v) => Math.exp(v - lse([2, 0, 0])));
      const kl = (p: number[]) => p.reduce((s, pi) => s + pi * Math.log(pi / (1 / 3)), 0);
      expect(meanKL(logits, q).item()).toBeCloseTo((kl(p1) + kl(p2)) / 2, 5);
    });
  });
  it('meanCI: mean and 95% normal interval', () => {
    const r = meanCI([1, 2, 3, 4]);
    expect(r.mean).toBe(2.5);
    const sd = Math.sqrt(((1.5 ** 2) * 2 + (0.5 ** 2) * 2) / 3);
    expect(r.hi - r.mean).toBeCloseTo((1.96 * sd) / 2, 12);
  });
});
