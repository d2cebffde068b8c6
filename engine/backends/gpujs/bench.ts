/**
 * Micro-benchmarks of the gpujs backend per mode, against the reference backend: matmul
 * throughput, elementwise bandwidth, per-op overhead, and one small TopK-SAE training step.
 *
 *   npm run build && node dist/engine/backends/gpujs/bench.js [modes...]     (GL: under xvfb-run -a)
 *
 * Prints one JSON line per measurement. Timings exclude kernel compilation (a warm-up run first)
 * and include the readback of the result, which an engine step pays once per loss.
 */
import * as E from '../../index.js';
import { probeGpujs, registerGpujsMode, type GpujsMode } from './index.js';

interface Row {
  backend: string;
  bench: string;
  ms: number;
  gflops?: number;
  gbps?: number;
}

function time(fn: () => void, minMs = 300, maxReps = 50): number {
  fn(); // warm-up: compiles kernels
  const t0 = performance.now();
  let reps = 0;
  while (reps < maxReps && (reps === 0 || performance.now() - t0 < minMs)) {
    fn();
    reps++;
  }
  return (performance.now() - t0) / reps;
}

function seeded(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function benchBackend(name: string, sizes: { mm: number[] }): Row[] {
  const rows: Row[] = [];
  const prev = E.backend().name;
  E.setBackend(name);
  try {
    for (const n of sizes.mm) {
      const a = E.keep(E.tensor(seeded(n * n, 1), [n, n]));
      const b = E.keep(E.tensor(seeded(n * n, 2), [n, n]));
      const ms = time(() => E.tidy(() => void E.matmul(a, b).toArray()), 500, 5);
      rows.push({ backend: name, bench: `matmul ${n}³`, ms, gflops: (2 * n ** 3) / ms / 1e6 });
      E.dispose([a, b]);
    }
    {
      const n = 1 << 20;
      const a = E.keep(E.tensor(seeded(n, 3), [n]));
      const b = E.keep(E.tensor(seeded(n, 4), [n]));
      // a chain of 8 resident ops, one readback: bandwidth of kernels that stay on the device
      const ms = time(() =>
        E.tidy(() => {
          let y = a;
          for (let i = 0; i < 8; i++) y = E.add(E.mul(y, b), a);
          void y.toArray();
        }),
      );
      rows.push({ backend: name, bench: '16 elementwise ops on 2^20 floats', ms, gbps: (16 * 3 * 4 * n) / ms / 1e6 });
      E.dispose([a, b]);
    }
    {
      const a = E.keep(E.tensor([1, 2, 3, 4], [4]));
      const ms = time(() =>
        E.tidy(() => {
          let y = a;
          for (let i = 0; i < 100; i++) y = E.add(y, a);
          void y.toArray();
        }),
      );
      rows.push({ backend: name, bench: 'per-op overhead (100 tiny adds)', ms: ms / 100 });
      a.dispose();
    }
    {
      // a TopK SAE step: encode, keep the top k, decode, MSE, gradients of both weights
      const B = 128;
      const d = 64;
      const m = 512;
      const k = 16;
      const x = E.keep(E.tensor(seeded(B * d, 5), [B, d]));
      const We = E.keep(E.tensor(seeded(d * m, 6).map((v) => v * 0.1), [d, m]));
      const Wd = E.keep(E.tensor(seeded(m * d, 7).map((v) => v * 0.1), [m, d]));
      const loss = (we: E.Tensor, wd: E.Tensor) => {
        const z = E.keepTopk(E.matmul(x, we), k, true);
        const r = E.sub(E.matmul(z, wd), x);
        return E.mean(E.mul(r, r));
      };
      const ms = time(() => E.tidy(() => void (E.valueAndGrad(loss, { argnums: [0, 1] })(We, Wd)[0] as E.Tensor).item()), 500, 10);
      rows.push({ backend: name, bench: `TopK SAE step B=${B} d=${d} m=${m} k=${k}`, ms });
      E.dispose([x, We, Wd]);
    }
  } finally {
    E.setBackend(prev);
  }
  return rows;
}

export function main(argv: string[]): void {
  const probe = probeGpujs();
  const want = (argv.length ? argv : ['reference', 'webasm', 'cpu', 'headlessgl']) as string[];
  const out: Row[] = [];
  for (const w of want) {
    if (w === 'reference') {
      out.push(...benchBackend('reference', { mm: [128, 256] }));
      continue;
    }
    const st = probe.modes.find((s) => s.mode === w);
    if (!st?.usable) {
      console.log(JSON.stringify({ backend: `gpujs-${w}`, skipped: st?.reason ?? 'unknown mode' }));
      continue;
    }
    const name = registerGpujsMode(w as GpujsMode);
    out.push(...benchBackend(name, { mm: w === 'cpu' ? [128, 256] : [128, 256, 512] }));
  }
  for (const r of out) console.log(JSON.stringify({ ...r, ms: +r.ms.toFixed(3), ...(r.gflops ? { gflops: +r.gflops.toFixed(3) } : {}), ...(r.gbps ? { gbps: +r.gbps.toFixed(3) } : {}) }));
}

if (process.argv[1] && /bench\.js$/.test(process.argv[1])) main(process.argv.slice(2));
