/**
 * Synthetic data with a known sparse dictionary: each row is a non-negative combination of
 * `kTrue` of `mTrue` random unit directions plus a little noise. Gradients (for the g-SAE) are
 * Gaussian. Everything comes from one seed.
 */
import * as E from '../../engine/index.js';
import { ArraySource } from '../../sae/data.js';

export interface Synthetic {
  x: Float32Array;
  g: Float32Array;
  dict: Float32Array;
  d: number;
  n: number;
}

export function makeSynthetic(opts: { n: number; d: number; mTrue: number; kTrue: number; seed: number; noise?: number; offset?: number }): Synthetic {
  const { n, d, mTrue, kTrue, seed } = opts;
  const rng = new E.Rng(seed);
  const dict = new Float32Array(mTrue * d);
  for (let i = 0; i < mTrue; i++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += (dict[i * d + j] = rng.normal()) ** 2;
    for (let j = 0; j < d; j++) dict[i * d + j] = dict[i * d + j]! / Math.sqrt(ss);
  }
  const x = new Float32Array(n * d);
  const g = new Float32Array(n * d);
  const noise = opts.noise ?? 0.01;
  const offset = opts.offset ?? 0;
  for (let r = 0; r < n; r++) {
    const chosen = new Set<number>();
    while (chosen.size < kTrue) chosen.add(rng.int(mTrue));
    for (let j = 0; j < d; j++) x[r * d + j] = offset + noise * rng.normal();
    for (const i of chosen) {
      const a = 0.5 + rng.uniform() * 1.5;
      for (let j = 0; j < d; j++) x[r * d + j] = x[r * d + j]! + a * dict[i * d + j]!;
    }
    for (let j = 0; j < d; j++) g[r * d + j] = rng.normal();
  }
  return { x, g, dict, d, n };
}

export function syntheticSource(s: Synthetic, withGrad: boolean, seed = 0): ArraySource {
  return new ArraySource(s.x, s.d, withGrad ? s.g : null, { seed, name: 'synthetic' });
}
