/**
 * TorchGenerator against PyTorch's own draws (test/fixtures/torch-rng/torch_rng.json, written by
 * make_fixture.py with torch.manual_seed): integers exactly, float32 uniforms exactly, normals to
 * within a few float32 ulps (PyTorch's float log/sin/cos vs ours in double, then rounded).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TorchGenerator } from '../../engine/index.js';

const fx = JSON.parse(readFileSync('test/fixtures/torch-rng/torch_rng.json', 'utf8'));

/** Largest difference in units of float32 ulps at the expected value's magnitude. */
function maxUlps(got: ArrayLike<number>, want: number[]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const ulp = 2 ** (Math.floor(Math.log2(Math.max(Math.abs(w), 2 ** -126))) - 23);
    worst = Math.max(worst, Math.abs(got[i]! - w) / ulp);
  }
  return worst;
}

describe('TorchGenerator reproduces torch.manual_seed streams', () => {
  it('randint below 2^32 (random() mod range) and above (random64())', () => {
    const g = new TorchGenerator(fx.randint_small.seed);
    expect(g.randint(12, 0, fx.randint_small.high)).toEqual(fx.randint_small.values);
    // the same generator continues: PyTorch drew these right after
    expect(g.randint(4, 0, fx.randint_large.high)).toEqual(fx.randint_large.values);
  });

  it('float32 uniform_(from, to) bit for bit', () => {
    const g = new TorchGenerator(fx.uniform.seed);
    expect(Array.from(g.uniform(20, fx.uniform.from, fx.uniform.to))).toEqual(fx.uniform.values);
  });

  it('float32 normal_ (Box–Muller over blocks of 16; the tail block recomputed)', () => {
    const g = new TorchGenerator(fx.normal.seed);
    fx.normal.sizes.forEach((n: number, i: number) => {
      expect(maxUlps(g.normal(n, fx.normal.mean, fx.normal.std), fx.normal.values[i])).toBeLessThanOrEqual(4);
    });
  });

  it('state round-trips: a restored generator continues identically', () => {
    const g = new TorchGenerator(3);
    g.randint(700, 0, 1000); // crosses a twist
    const s = g.getState();
    const a = g.randint(5, 0, 1000);
    const h = new TorchGenerator(0);
    h.setState(s);
    expect(h.randint(5, 0, 1000)).toEqual(a);
    expect(() => h.setState([1, 2, 3])).toThrow(/624 uint32 words/);
  });

  it('rejects what it does not reproduce', () => {
    expect(() => new TorchGenerator(-1)).toThrow(/non-negative/);
    expect(() => new TorchGenerator(0).normal(15)).toThrow(/fewer than 16/);
    expect(() => new TorchGenerator(0).randint(1, 5, 5)).toThrow(/low < high/);
  });
});
