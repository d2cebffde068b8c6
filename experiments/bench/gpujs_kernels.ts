/**
 * Micro-benchmarks of the gpujs backend per mode, against the reference backend: matmul
 * throughput, elementwise bandwidth, per-op overhead, and one small TopK-SAE training step.
 * It lives in experiments/ (not next to the backend) because its GPT-2 step needs models/, which
 * the engine must not import.
 *
 *   npm run build && node dist/experiments/bench/gpujs_kernels.js [modes...]     (GL: under xvfb-run -a)
 *   node dist/experiments/bench/gpujs_kernels.js --fusion [modes...]             (jit plans fused vs unfused,
 *                                                  and gpu.js createPipeline; GSAE_BENCH_ONLY=fusion|gpt2|pipeline)
 *
 * Prints one JSON line per measurement. Timings exclude kernel compilation (a warm-up run first)
 * and include the readback of the result, which an engine step pays once per loss.
 */
import * as E from '../../engine/index.js';
import { probeGpujs, registerGpujsMode, type GpujsMode } from '../../engine/backends/gpujs/index.js';
import { loadGpuJs } from '../../engine/backends/gpujs/gpujs_module.js';
import { makeConfig } from '../../models/gpt2/config.js';
import { initParams } from '../../models/gpt2/params.js';
import { makeTrainStep } from '../../models/gpt2/train.js';
import { adamwInit, adamwScalars } from '../../models/optim/adamw.js';

interface Row {
  backend: string;
  bench: string;
  ms: number;
  gflops?: number;
  gbps?: number;
  minMs?: number;
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

/**
 * jit plans with elementwise fusion on and off, per mode (the result's first element is read back,
 * so GL work is finished but the readback itself is negligible):
 *  - a layerNorm-affine + GELU chain on [1024, 1024]: (x - mu) · rstd · g + b, gelu (5 launches → 1);
 *  - an Adam update of 2^20 parameters written elementwise (m', v', p' all returned: 12 launches → 3);
 *  - an MLP training step (matmuls, layerNorm, gelu, MSE, valueAndGrad, SGD) at B 64, d 256.
 */
function benchFusion(mode: GpujsMode, reps: number): Row[] {
  const rows: Row[] = [];
  const R = 1024;
  const C = 1024;
  const cases: { bench: string; make: () => { f: (...a: E.Tensor[]) => unknown; args: E.Tensor[] } }[] = [
    {
      bench: `layerNorm-affine + gelu chain [${R}, ${C}]`,
      make: () => ({
        f: (x, mu, rstd, g, b) => E.gelu(E.add(E.mul(E.mul(E.sub(x!, mu!), rstd!), g!), b!)),
        args: [E.tensor(seeded(R * C, 1), [R, C]), E.tensor(seeded(R, 2), [R, 1]), E.tensor(seeded(R, 3).map((v) => v + 1), [R, 1]), E.tensor(seeded(C, 4), [C]), E.tensor(seeded(C, 5), [C])],
      }),
    },
    {
      bench: `Adam update (elementwise) of ${R * C} params`,
      make: () => ({
        f: (p, g, m, v) => {
          const m2 = E.add(E.mul(m!, 0.9), E.mul(g!, 0.1));
          const v2 = E.add(E.mul(v!, 0.999), E.mul(E.mul(g!, g!), 0.001));
          const p2 = E.sub(p!, E.mul(E.div(m2, E.add(E.sqrt(v2), 1e-8)), 1e-3));
          return [p2, m2, v2];
        },
        args: [E.tensor(seeded(R * C, 6), [R, C]), E.tensor(seeded(R * C, 7), [R, C]), E.tensor(seeded(R * C, 8), [R, C]), E.tensor(seeded(R * C, 9).map(Math.abs), [R, C])],
      }),
    },
    {
      bench: 'MLP train step B=64 d=256 h=1024 (layerNorm, gelu, MSE, SGD)',
      make: () => {
        const loss = (w1: E.Tensor, w2: E.Tensor, x: E.Tensor, y: E.Tensor) => {
          const h = E.gelu(E.layerNorm(E.matmul(x, w1), null, null));
          const d = E.sub(E.matmul(h, w2), y);
          return E.mean(E.mul(d, d));
        };
        return {
          f: (w1, w2, x, y) => {
            const [l, [g1, g2]] = E.valueAndGrad(loss, { argnums: [0, 1] })(w1!, w2!, x!, y!) as [E.Tensor, E.Tensor[]];
            return [l, E.sub(w1!, E.mul(g1!, 0.01)), E.sub(w2!, E.mul(g2!, 0.01))];
          },
          args: [
            E.tensor(seeded(256 * 1024, 10).map((v) => v * 0.1), [256, 1024]),
            E.tensor(seeded(1024 * 256, 11).map((v) => v * 0.1), [1024, 256]),
            E.tensor(seeded(64 * 256, 12), [64, 256]),
            E.tensor(seeded(64 * 256, 13), [64, 256]),
          ],
        };
      },
    },
  ];
  // fused and unfused runs alternate, so load from other processes hits both alike; min and median
  const names = [false, true].map((fuse) => registerGpujsMode(mode, { name: `gpujs-${mode}-${fuse ? 'fused' : 'unfused'}`, fuse }));
  const prev = E.backend().name;
  try {
    for (const c of cases) {
      const setups = names.map((name) => {
        E.setBackend(name);
        const { f, args } = c.make();
        for (const a of args) E.keep(a);
        return { name, step: E.jit(f), args };
      });
      const once = (i: number): number => {
        const { name, step, args } = setups[i]!;
        E.setBackend(name);
        const t0 = performance.now();
        E.tidy(() => {
          const out = step(...args) as E.Tensor | E.Tensor[];
          const first = Array.isArray(out) ? out[0]! : out;
          void E.slice(E.reshape(first, [first.size]), [0], [1]).toArray();
        });
        return performance.now() - t0;
      };
      const times: number[][] = [[], []];
      for (let r = -1; r < reps; r++) {
        for (const i of r % 2 ? [0, 1] : [1, 0]) {
          const t = once(i); // r = -1: warm-up (compiles)
          if (r >= 0) times[i]!.push(t);
        }
      }
      setups.forEach(({ name, step, args }, i) => {
        const ts = times[i]!.sort((a, b) => a - b);
        rows.push({ backend: name, bench: c.bench, ms: ts[ts.length >> 1]!, minMs: ts[0]! });
        E.setBackend(name);
        step.dispose();
        E.dispose(args);
      });
    }
  } finally {
    E.setBackend(prev);
  }
  return rows;
}

/**
 * A small GPT-2 AdamW train step (the compiled step `gsae lm train` uses, params and moments
 * donated) with fusion off and on, alternating.
 */
function benchGpt2(mode: GpujsMode, reps: number): Row[] {
  const s = { layers: 2, n_embd: 64, heads: 2, vocab: 256, ctx: 32, batch: 4 };
  const bench = `GPT-2 train step L${s.layers} C${s.n_embd} H${s.heads} V${s.vocab} T${s.ctx} B${s.batch}`;
  const opt = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const cfg = makeConfig({ n_layer: s.layers, n_embd: s.n_embd, n_head: s.heads, vocab_size: s.vocab, n_positions: s.ctx });
  const names = [false, true].map((fuse) => registerGpujsMode(mode, { name: `gpujs-${mode}-${fuse ? 'fused' : 'unfused'}`, fuse }));
  const prev = E.backend().name;
  const n = s.batch * s.ctx;
  const ids = (k: number) => Int32Array.from({ length: n }, (_, i) => (i * 7 + k * 13 + (i >> 3)) % s.vocab);
  try {
    const runs = names.map((name) => {
      E.setBackend(name);
      const st = {
        p: E.keep(initParams(cfg, 0)) as Record<string, E.Tensor>,
        mom: E.keep(adamwInit(initParams(cfg, 0))),
        x: E.keep(E.tensor(ids(0), [s.batch, s.ctx], 'int32')),
        y: E.keep(E.tensor(ids(1), [s.batch, s.ctx], 'int32')),
        step: makeTrainStep(cfg, opt, 1.0),
        t: 0,
      };
      return { name, st, times: [] as number[] };
    });
    for (let r = -1; r < reps; r++) {
      for (const i of r % 2 ? [0, 1] : [1, 0]) {
        const { name, st, times } = runs[i]!;
        E.setBackend(name);
        const t0 = performance.now();
        st.t++;
        const sc = adamwScalars(st.t, 1e-3, opt);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const out = E.tidy(() => (st.step as any)(st.p, st.mom.m, st.mom.v, st.x, st.y, sc.decay, sc.stepSize, sc.bc2Sqrt, {})) as {
          loss: E.Tensor; norm: E.Tensor; params: Record<string, E.Tensor>; m: Record<string, E.Tensor>; v: Record<string, E.Tensor>;
        };
        out.loss.item();
        E.dispose([sc, out.loss, out.norm]);
        st.p = E.keep(out.params);
        st.mom = E.keep({ m: out.m, v: out.v });
        if (r >= 0) times.push(performance.now() - t0);
      }
    }
    return runs.map(({ name, st, times }) => {
      E.setBackend(name);
      E.dispose([st.p, st.mom, st.x, st.y]);
      (st.step as unknown as { dispose(): void }).dispose();
      const ts = times.sort((a, b) => a - b);
      return { backend: name, bench, ms: ts[ts.length >> 1]!, minMs: ts[0]! };
    });
  } finally {
    E.setBackend(prev);
  }
}

/**
 * gpu.js's own `createPipeline` against calling the same kernels one by one (the engine's way), and
 * against one fused kernel, for the layerNorm-affine + gelu chain on [1024, 1024] with the
 * backend's kernel settings (pipeline, immutable). createPipeline always answers a Promise.
 */
async function benchGpuPipeline(mode: GpujsMode, reps: number): Promise<Row[]> {
  const { GPU, input } = loadGpuJs();
  const gpu = new GPU({ mode });
  const R = 1024;
  const C = 1024;
  const opts = { output: [C, R], precision: 'single', pipeline: true, immutable: true, tactic: 'precision' } as const;
  const gelu = 'const u = 0.7978845608028654 * (v + 0.044715 * v * v * v); return v / (1 + Math.exp(-2 * u));';
  const at = 'this.thread.y][this.thread.x]';
  // each kernel takes full [R, C] operands here (broadcasts written out), as plain chain steps
  const sub = gpu.createKernel(`function(a, b) { return a[${at} - b[${at}; }`, opts);
  const mul = gpu.createKernel(`function(a, b) { return a[${at} * b[${at}; }`, opts);
  const add = gpu.createKernel(`function(a, b) { return a[${at} + b[${at}; }`, opts);
  const gl = gpu.createKernel(`function(a) { const v = a[${at}; ${gelu} }`, opts);
  const fused = gpu.createKernel(`function(x, mu, r, g, b) { const v = ((x[${at} - mu[${at}) * r[${at} * g[${at}) + b[${at}; ${gelu} }`, opts);
  const args = [1, 2, 3, 4, 5].map((s) => input(seeded(R * C, s), [C, R]));
  type K = (...a: unknown[]) => unknown;
  const chain = (x: unknown, mu: unknown, r: unknown, g: unknown, b: unknown) =>
    (gl as unknown as K)((add as unknown as K)((mul as unknown as K)((mul as unknown as K)((sub as unknown as K)(x, mu), r), g), b));
  const read = (t: unknown) => {
    const tx = t as { toArray?: () => unknown; delete?: () => void };
    const v = tx.toArray ? tx.toArray() : t;
    tx.delete?.();
    return v;
  };
  const bench = 'layerNorm-affine + gelu chain [1024, 1024], raw gpu.js';
  const pipe = (gpu as unknown as { createPipeline(fn: unknown): ((...a: unknown[]) => Promise<unknown>) & { executorKind?: string } }).createPipeline(
    (x: unknown, mu: unknown, r: unknown, g: unknown, b: unknown) => chain(x, mu, r, g, b),
  );
  const variants: [string, () => Promise<void>][] = [
    ['5 kernels called in turn', async () => void read(chain(...(args as [unknown, unknown, unknown, unknown, unknown])))],
    ['1 fused kernel', async () => void read((fused as unknown as K)(...args))],
    ['createPipeline', async () => void read(await pipe(...args))],
  ];
  const times: number[][] = variants.map(() => []);
  for (let r = -1; r < reps; r++) {
    for (let i = 0; i < variants.length; i++) {
      const t0 = performance.now();
      await variants[i]![1]();
      if (r >= 0) times[i]!.push(performance.now() - t0);
    }
  }
  const rows: Row[] = variants.map(([label], i) => {
    const ts = times[i]!.sort((a, b) => a - b);
    const what = label === 'createPipeline' ? `createPipeline (${pipe.executorKind ?? '?'} executor, async)` : label;
    return { backend: `gpujs-${mode}`, bench: `${bench}: ${what}`, ms: ts[ts.length >> 1]!, minMs: ts[0]! };
  });
  await gpu.destroy();
  return rows;
}

export async function mainFusion(argv: string[]): Promise<void> {
  const probe = probeGpujs();
  const want = (argv.length ? argv : ['webasm', 'cpu', 'headlessgl']) as GpujsMode[];
  const reps = Number(process.env.GSAE_BENCH_REPS ?? 5);
  for (const w of want) {
    const st = probe.modes.find((s) => s.mode === w);
    if (!st?.usable) {
      console.log(JSON.stringify({ backend: `gpujs-${w}`, skipped: st?.reason ?? 'unknown mode' }));
      continue;
    }
    const only = process.env.GSAE_BENCH_ONLY;
    const rows = [
      ...(!only || only === 'fusion' ? benchFusion(w, reps) : []),
      ...(!only || only === 'gpt2' ? benchGpt2(w, reps) : []),
      ...(!only || only === 'pipeline' ? await benchGpuPipeline(w, reps) : []),
    ];
    for (const r of rows) console.log(JSON.stringify({ ...r, ms: +r.ms.toFixed(1), ...(r.minMs !== undefined ? { minMs: +r.minMs.toFixed(1) } : {}) }));
  }
}

export function main(argv: string[]): void {
  if (argv[0] === '--fusion') {
    void mainFusion(argv.slice(1));
    return;
  }
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

if (process.argv[1] && /gpujs_kernels\.js$/.test(process.argv[1])) main(process.argv.slice(2));
