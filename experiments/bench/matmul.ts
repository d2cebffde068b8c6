/** matmul workloads on the peers' shapes: C = A @ B, float32, random normal inputs, GFLOP/s. */
import * as E from '../../engine/index.js';
import { registerWorkload } from './registry.js';

const SHAPES: [number, number, number, boolean][] = [
  [256, 256, 256, true],
  [1024, 1024, 1024, true],
  [1024, 256, 4096, true],
  [1024, 768, 16384, false],
];

/** Deterministic normal-ish values (one seed per operand) without touching any global RNG. */
function randomData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

for (const [M, K, N, quick] of SHAPES) {
  registerWorkload({
    name: `matmul.${M}.${K}.${N}`,
    unit: 'GFLOP/s',
    shape: {},
    workPerStep: 2 * M * K * N,
    flopPerStep: 2 * M * K * N,
    quick,
    setup() {
      const a = E.keep(E.tensor(randomData(M * K, 1), [M, K]));
      const b = E.keep(E.tensor(randomData(K * N, 2), [K, N]));
      return {
        step: () => E.matmul(a, b).dispose(),
        dispose: () => E.dispose([a, b]),
      };
    },
  });
}
