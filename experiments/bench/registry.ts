/**
 * The benchmark workload registry. A workload is one named measurement on the peers' shapes
 * (`../shared/bench/peer_torch.py`): it sets itself up on the engine's current backend, then
 * `step()` is timed like the peers time theirs (2 warm-up calls, then the mean of `reps`).
 *
 * To add a workload (e.g. `gpt2.train_step`, `sae.topk.step`): write a module that calls
 * `registerWorkload({...})` and import it from main.ts.
 */
import * as E from '../../engine/index.js';

export interface Workload {
  /** the peers' workload name, e.g. "matmul.1024.1024.1024" or "sae.topk.step" */
  name: string;
  unit: 'GFLOP/s' | 'tokens/s';
  /** the peers' shape fields (used to match their lines), e.g. { d: 256, m: 4096, k: 32, batch: 1024 } */
  shape: Record<string, number>;
  /** work per step in `unit`'s numerator (FLOP for GFLOP/s, tokens for tokens/s) */
  workPerStep: number;
  /** rough FLOP per step, to skip the reference backend where one step would take too long */
  flopPerStep: number;
  /** builds inputs/state on the current backend; returns the step and a cleanup */
  setup(): { step: () => void; dispose: () => void };
  /** part of the --quick set */
  quick: boolean;
}

const workloads: Workload[] = [];

export function registerWorkload(w: Workload): void {
  if (workloads.some((x) => x.name === w.name && JSON.stringify(x.shape) === JSON.stringify(w.shape))) {
    throw new Error(`bench: workload ${w.name} ${JSON.stringify(w.shape)} registered twice`);
  }
  workloads.push(w);
}

export function allWorkloads(): readonly Workload[] {
  return workloads;
}

export interface Measurement {
  workload: string;
  /** gsae-wasm, gsae-wasm-1t, gsae-reference, ... (the peers' "peer" field) */
  peer: string;
  value: number;
  unit: string;
  shape: Record<string, number>;
  /** seconds per step */
  seconds: number;
  reps: number;
  /** high-water mark of live tensor bytes during the measurement (backend's own accounting) */
  peak_bytes?: number;
  /** size of the backend's heap after the measurement (wasm memory) */
  heap_bytes?: number;
  extra: Record<string, string | number | boolean>;
}

/**
 * Runs one workload on backend `backendName` (already registered), timing like the peers: the
 * mean of `reps` steps after warm-up. Warm-up is at least `warmup` steps and at least
 * `warmupSeconds`: V8 runs new WebAssembly code in its baseline compiler first and swaps in the
 * optimised code only after it has run hot and compiled in the background, so a fixed count of
 * 2 steps would time baseline code for short steps (measured: ~3× slower at 256³).
 */
export function measure(w: Workload, backendName: string, peer: string, reps: number, warmup: number, extra: Measurement['extra'] = {}, warmupSeconds = 0): Measurement {
  E.setBackend(backendName);
  const be = E.getBackend(backendName) as E.Backend & { resetPeakMemory?: () => void };
  be.resetPeakMemory?.();
  const { step, dispose } = w.setup();
  try {
    const w0 = performance.now();
    for (let i = 0; i < warmup || performance.now() - w0 < warmupSeconds * 1000; i++) step();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) step();
    const seconds = (performance.now() - t0) / 1000 / reps;
    const mem = be.memory() as E.MemoryInfo & { peakBytes?: number; heapBytes?: number };
    const value = w.unit === 'GFLOP/s' ? w.workPerStep / seconds / 1e9 : w.workPerStep / seconds;
    return {
      workload: w.name, peer, value, unit: w.unit, shape: w.shape, seconds, reps,
      ...(mem.peakBytes !== undefined ? { peak_bytes: mem.peakBytes } : {}),
      ...(mem.heapBytes !== undefined ? { heap_bytes: mem.heapBytes } : {}),
      extra,
    };
  } finally {
    dispose();
  }
}
