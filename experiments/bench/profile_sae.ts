/**
 * `node dist/experiments/bench/profile_sae.js [--only REGEX] [--steps N] [--by-shape]`: where an SAE training
 * step's time goes on the wasm backend, by primitive (WasmBackend.startProfile: wall time of each
 * synchronous kernel launch), for the benchmark's SAE workloads (sae_step.ts). Prints, per
 * workload, ms per step by op (slowest first) with its share, and the wall time per step; the
 * difference is JavaScript outside the kernels (jit replay, the trainer's bookkeeping).
 * On a loaded machine the absolute numbers move; the shares are what the design notes use.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as E from '../../engine/index.js';
import type { WasmBackend } from '../../engine/backends/wasm/index.js';
import { allWorkloads } from './registry.js';
import './sae_step.js';

function parse(argv: readonly string[]): { only: RegExp; steps: number; byShape: boolean } {
  let only = /^sae\./, steps = 5, byShape = false;
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!, v = argv[i + 1];
    if (f === '--only' && v !== undefined) (only = new RegExp(v)), i++;
    else if (f === '--by-shape') byShape = true;
    else if (f === '--steps' && v !== undefined) {
      steps = Number(v);
      if (!Number.isInteger(steps) || steps < 1) throw new Error(`profile_sae: --steps must be a positive integer, got ${v}`);
      i++;
    } else throw new Error(`profile_sae: unknown or incomplete flag ${f} (known: --only REGEX --steps N --by-shape)`);
  }
  return { only, steps, byShape };
}

export function main(argv: readonly string[]): void {
  const { only, steps, byShape } = parse(argv);
  E.setBackend('wasm');
  const be = E.getBackend('wasm') as WasmBackend;
  for (const w of allWorkloads().filter((x) => only.test(x.name) && x.name.startsWith('sae.'))) {
    const { step, dispose } = w.setup();
    try {
      for (let i = 0; i < 3; i++) step(); // jit trace + optimised wasm code
      be.startProfile({ byShape });
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) step();
      const wall = (performance.now() - t0) / steps;
      const prof = be.stopProfile();
      const inKernels = prof.reduce((s, p) => s + p.ms, 0) / steps;
      const shape = Object.entries(w.shape).map(([a, b]) => `${a}${b}`).join(' ');
      console.log(`\n${w.name} ${shape}: ${wall.toFixed(1)} ms/step wall, ${inKernels.toFixed(1)} ms in kernels (${steps} steps, ${be.threads} thread(s))`);
      for (const p of prof.filter((q) => q.ms / steps >= 0.05)) {
        console.log(`  ${p.op.padEnd(byShape ? 48 : 22)} ${(p.ms / steps).toFixed(1).padStart(8)} ms  ${((100 * p.ms) / steps / wall).toFixed(1).padStart(5)}%  ${String(p.calls / steps).padStart(4)} calls${p.fallback ? '  (reference kernel)' : ''}`);
      }
    } finally {
      dispose();
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main(process.argv.slice(2));
