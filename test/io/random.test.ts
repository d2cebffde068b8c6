import { describe, it, expect } from 'vitest';
import * as E from '../../engine/index.js';

// float64 checks run on the reference backend (the oracle; the wasm default is float32 only)
E.setBackend('reference');

const draw = (r: E.Rng, n: number, f: (r: E.Rng) => number = (x) => x.nextUint32()): number[] => Array.from({ length: n }, () => f(r));

describe('Rng core', () => {
  it('matches the reference C xoshiro128** (prng.di.unimi.it) from a given state', () => {
    // Printed by the reference C code compiled with gcc, state s = {1, 2, 3, 4}.
    const r = new E.Rng(0);
    r.setState([1, 2, 3, 4, 0, 0]);
    expect(draw(r, 8)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
    // Same program: state {0x9e3779b9, 0xdeadbeef, 0x12345678, 0xcafebabe}, skip 1000, next 4.
    r.setState([0x9e3779b9, 0xdeadbeef, 0x12345678, 0xcafebabe, 0, 0]);
    draw(r, 1000);
    expect(draw(r, 4)).toEqual([1063874299, 1974558382, 4036404422, 1467111325]);
  });

  it('is deterministic from the seed; different seeds give different streams', () => {
    for (const seed of [0, 1, 42, -1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1)]) {
      expect(draw(new E.Rng(seed), 50)).toEqual(draw(new E.Rng(seed), 50));
    }
    const streams = [0, 1, 2, -1, 2 ** 32, 2 ** 32 + 1].map((s) => draw(new E.Rng(s), 4).join(','));
    expect(new Set(streams).size).toBe(streams.length);
  });

  it('rejects non-integer seeds', () => {
    expect(() => new E.Rng(1.5)).toThrow(/seed must be a safe integer, got 1.5/);
    expect(() => new E.Rng(NaN)).toThrow(E.RngError);
    expect(() => new E.Rng(2 ** 60)).toThrow(/safe integer/);
  });

  it('getState/setState resumes the exact stream, including a pending normal, through JSON', () => {
    const r = new E.Rng(7);
    draw(r, 13);
    r.normal(); // leaves the second value of the pair pending
    const saved = JSON.parse(JSON.stringify(r.getState())) as number[];
    const mixed = (x: E.Rng) => [x.normal(), x.uniform(), x.int(1000), x.normal(), x.normal(), ...x.permutation(6)];
    const expected = [...mixed(r), ...draw(r, 5)];
    const other = new E.Rng(999);
    other.setState(saved);
    expect([...mixed(other), ...draw(other, 5)]).toEqual(expected);
    r.setState(saved);
    expect([...mixed(r), ...draw(r, 5)]).toEqual(expected);
  });

  it('setState rejects malformed states', () => {
    const r = new E.Rng(1);
    expect(() => r.setState([1, 2, 3])).toThrow(/Rng.setState: expected/);
    expect(() => r.setState([0, 0, 0, 0, 0, 0])).toThrow(/not all 0/);
    expect(() => r.setState([1, 2, 3, 2 ** 32, 0, 0])).toThrow(E.RngError);
    expect(() => r.setState([1, 2, 3, 4, 2, 0])).toThrow(E.RngError);
  });

  it('every output bit is balanced', () => {
    const r = new E.Rng(3);
    const n = 40000;
    const ones = new Array<number>(32).fill(0);
    for (let i = 0; i < n; i++) {
      const x = r.nextUint32();
      for (let b = 0; b < 32; b++) ones[b]! += (x >>> b) & 1;
    }
    const tol = 5 * Math.sqrt(0.25 / n); // 5 sigma
    for (const c of ones) expect(Math.abs(c / n - 0.5)).toBeLessThan(tol);
  });
});

describe('distributions', () => {
  const N = 200000;

  it('uniform is in [0, 1) with mean 1/2, variance 1/12 and a flat histogram', () => {
    const r = new E.Rng(11);
    const xs = draw(r, N, (x) => x.uniform());
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((a, b) => a + b, 0) / N;
    const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / N;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(v - 1 / 12)).toBeLessThan(5 * Math.sqrt(1 / 180 / N)); // var of (U-1/2)^2 is 1/180
    // Chi-square over 20 bins (19 dof): p = 1e-6 critical value is about 56.
    const bins = new Array<number>(20).fill(0);
    for (const x of xs) bins[Math.floor(x * 20)]!++;
    const chi2 = bins.reduce((a, c) => a + (c - N / 20) ** 2 / (N / 20), 0);
    expect(chi2).toBeLessThan(56);
  });

  it('normal has mean 0, variance 1, skewness 0, kurtosis 3 and the right tail mass', () => {
    const r = new E.Rng(12);
    const xs = draw(r, N, (x) => x.normal());
    const m = (k: number) => xs.reduce((a, b) => a + b ** k, 0) / N;
    expect(Math.abs(m(1))).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(m(2) - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(Math.abs(m(3))).toBeLessThan(5 * Math.sqrt(15 / N));
    expect(Math.abs(m(4) - 3)).toBeLessThan(5 * Math.sqrt(96 / N));
    // P(|Z| > 1.96) = 0.05
    const tail = xs.filter((x) => Math.abs(x) > 1.959964).length / N;
    expect(Math.abs(tail - 0.05)).toBeLessThan(5 * Math.sqrt(0.05 * 0.95 / N));
    // Consecutive values (the two halves of a pair included) are uncorrelated.
    let c = 0;
    for (let i = 0; i + 1 < N; i++) c += xs[i]! * xs[i + 1]!;
    expect(Math.abs(c / (N - 1))).toBeLessThan(5 / Math.sqrt(N));
  });

  it('int(n) stays in [0, n) and is uniform for small n', () => {
    const r = new E.Rng(13);
    for (const n of [1, 2, 3, 7, 1000, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53]) {
      for (let i = 0; i < 200; i++) {
        const x = r.int(n);
        expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
      }
    }
    const counts = [0, 0, 0, 0, 0, 0, 0];
    const M = 70000;
    for (let i = 0; i < M; i++) counts[r.int(7)]!++;
    const chi2 = counts.reduce((a, c) => a + (c - M / 7) ** 2 / (M / 7), 0);
    expect(chi2).toBeLessThan(36); // 6 dof, p = 1e-6
  });

  it.each([[3 * 2 ** 30, 2 ** 30], [3 * 2 ** 51, 2 ** 51]])('int(%d) shows no modulo bias', (n, third) => {
    // With x % n on raw bits, values below `third` would come up half the time instead of a third.
    const r = new E.Rng(14);
    const M = 30000;
    let low = 0;
    for (let i = 0; i < M; i++) if (r.int(n) < third) low++;
    expect(Math.abs(low / M - 1 / 3)).toBeLessThan(5 * Math.sqrt((2 / 9) / M));
  });

  it('int rejects bad n', () => {
    const r = new E.Rng(1);
    for (const n of [0, -3, 2.5, NaN, 2 ** 54]) expect(() => r.int(n), String(n)).toThrow(/Rng.int: n must be a positive integer/);
  });

  it('permutation is a permutation, and all orderings of 3 are equally likely', () => {
    const r = new E.Rng(15);
    for (const n of [0, 1, 2, 10, 1000]) {
      const p = r.permutation(n);
      expect(p).toBeInstanceOf(Int32Array);
      expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    const counts = new Map<string, number>();
    const M = 60000;
    for (let i = 0; i < M; i++) {
      const k = r.permutation(3).join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    const chi2 = [...counts.values()].reduce((a, c) => a + (c - M / 6) ** 2 / (M / 6), 0);
    expect(chi2).toBeLessThan(35); // 5 dof, p = 1e-6
    expect(() => r.permutation(-1)).toThrow(/Rng.permutation: n must be an integer/);
  });

  it('shuffle permutes in place and returns the same array', () => {
    const r = new E.Rng(16);
    const a = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const out = r.shuffle(a);
    expect(out).toBe(a);
    expect([...a].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    const b = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    new E.Rng(16).shuffle(b);
    expect(b).toEqual(a);
  });
});

describe('fork', () => {
  it('is deterministic, leaves the parent untouched, and gives streams that differ from the parent and each other', () => {
    const parent = new E.Rng(21);
    const before = parent.getState();
    const a1 = draw(parent.fork('init'), 64);
    const a2 = draw(parent.fork('init'), 64);
    expect(a1).toEqual(a2);
    expect(parent.getState()).toEqual(before);
    const others = [parent.fork('data'), parent.fork(0), parent.fork(1), parent.fork('1'), parent.fork('init').fork('init')].map((r) => draw(r, 64));
    const self = draw(new E.Rng(21), 64);
    const all = [a1, ...others, self].map((s) => s.join(','));
    expect(new Set(all).size).toBe(all.length);
    // Different parent states give different children for the same label.
    parent.nextUint32();
    expect(draw(parent.fork('init'), 64)).not.toEqual(a1);
  });

  it('sibling streams are uncorrelated', () => {
    const p = new E.Rng(22);
    const a = p.fork('a');
    const b = p.fork('b');
    const N = 50000;
    let s = 0;
    for (let i = 0; i < N; i++) s += a.normal() * b.normal();
    expect(Math.abs(s / N)).toBeLessThan(5 / Math.sqrt(N));
  });

  it('rejects non-finite labels', () => {
    expect(() => new E.Rng(1).fork(NaN)).toThrow(/Rng.fork: label/);
  });
});

describe('tensor samplers', () => {
  it('randn: shape, dtype, std and determinism', () => {
    const t = E.randn([100, 50], new E.Rng(31), 0.02);
    expect(t.shape).toEqual([100, 50]);
    expect(t.dtype).toBe('float32');
    const v = Array.from(t.toArray());
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    expect(Math.abs(sd - 0.02)).toBeLessThan(0.02 * 5 / Math.sqrt(2 * v.length));
    expect(Array.from(E.randn([100, 50], new E.Rng(31), 0.02).toArray())).toEqual(v);
    const d = E.randn([3], new E.Rng(31), 1, 'float64');
    expect(d.dtype).toBe('float64');
    expect(() => E.randn([2], new E.Rng(1), 1, 'int32')).toThrow(/randn: dtype must be float32 or float64, got int32/);
    expect(() => E.randn([2], new E.Rng(1), -1)).toThrow(/randn: std/);
    expect(() => E.randn([-2], new E.Rng(1))).toThrow(/randn: invalid shape/);
    E.dispose([t, d]);
  });

  it('randu: values in [lo, hi), float32 rounding onto hi is redrawn', () => {
    const t = E.randu([1000], new E.Rng(32), -3, 5);
    const v = Array.from(t.toArray());
    expect(v.every((x) => x >= -3 && x < 5)).toBe(true);
    expect(Math.min(...v)).toBeLessThan(-2.9);
    expect(Math.max(...v)).toBeGreaterThan(4.9);
    // A stand-in generator whose first draw rounds to 1 in float32.
    const seq = [1 - 2 ** -53, 0.25];
    const fake = { uniform: () => seq.shift()! } as unknown as E.Rng;
    expect(Array.from(E.randu([1], fake).toArray())).toEqual([0.25]);
    expect(() => E.randu([1], new E.Rng(1), 2, 1)).toThrow(/randu: need finite lo <= hi/);
    E.dispose(t);
  });

  it('randint: int32 values in [0, n), every value reached', () => {
    const t = E.randint([4, 500], new E.Rng(33), 10);
    expect(t.dtype).toBe('int32');
    expect(t.shape).toEqual([4, 500]);
    const v = Array.from(t.toArray());
    expect(new Set(v)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(() => E.randint([2], new E.Rng(1), 0)).toThrow(/randint: n must be an integer/);
    E.dispose(t);
  });
});
