/**
 * The peers (PyTorch on the CPU, TensorFlow.js): found where installed, run as child processes in
 * the same invocation, their JSON lines parsed. Benchmarks only — never project dependencies.
 *   torch: `/usr/bin/python3 -c 'import torch'` works → ../shared/bench/peer_torch.py, through
 *          peer_torch_select.py so that only the selected workloads run (its two SAE peers each
 *          time: torch-cpu, the dense autograd port, and torch-sparse, sparsify's algorithm), with
 *          OpenBLAS's AVX-512 kernels selected on AVX-512 machines (see openblasCoreType)
 *   tfjs:  @tensorflow/tfjs and -backend-wasm resolvable from NODE_PATH or /tmp/peer-tfjs/node_modules
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface PeerLine {
  workload: string;
  peer: string;
  value: number;
  unit: string;
  [field: string]: unknown;
}

export interface PeerRun {
  peer: 'torch' | 'tfjs';
  available: boolean;
  /** why it did not run, when it did not */
  reason?: string;
  lines: PeerLine[];
  seconds: number;
}

/** The Python that has torch (Debian's here; GSAE_PEER_PYTHON elsewhere, e.g. a GPU image's). */
const PYTHON = process.env.GSAE_PEER_PYTHON || '/usr/bin/python3';

/**
 * Debian's OpenBLAS (DYNAMIC_ARCH 0.3.21) does not recognise this Sapphire Rapids VM and falls
 * back to its "Prescott" kernels: numpy/torch sgemm ~28 GFLOP/s instead of ~166 with the
 * AVX-512 kernels (measured here). So that the peer is measured at its best, an AVX-512 machine
 * gets OPENBLAS_CORETYPE=SkylakeX unless the variable is already set.
 */
function openblasCoreType(): Record<string, string> {
  if (process.env.OPENBLAS_CORETYPE) return {};
  try {
    return /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? { OPENBLAS_CORETYPE: 'SkylakeX' } : {};
  } catch {
    return {};
  }
}

function tfjsNodePath(): string | null {
  const dirs = [...(process.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean), '/tmp/peer-tfjs/node_modules'];
  for (const d of dirs) {
    if (existsSync(path.join(d, '@tensorflow/tfjs/package.json')) && existsSync(path.join(d, '@tensorflow/tfjs-backend-wasm/package.json'))) return d;
  }
  return null;
}

function parseLines(out: string): PeerLine[] {
  const lines: PeerLine[] = [];
  for (const l of out.split('\n')) {
    const t = l.trim();
    if (!t.startsWith('{')) continue;
    try {
      const o = JSON.parse(t) as PeerLine;
      if (typeof o.workload === 'string' && typeof o.value === 'number') lines.push(o);
    } catch {
      // peers print only JSON lines; anything else is a warning from their runtime
    }
  }
  return lines;
}

/** A workload the project measured, as the peers name it: {workload, ...shape fields}. */
export type PeerSelection = { workload: string } & Record<string, string | number>;

export interface PeerOptions {
  quick: boolean;
  threads: number;
  log: (s: string) => void;
  /** peer_torch_select.py (in the source tree: tsc does not copy it to dist/) */
  selectScript: string;
  /** only these workloads (the ones measured on our side); all when absent */
  select?: readonly PeerSelection[];
  /** the PyTorch peer's device (cuda: the GPU check, experiments/bench/gpu/) */
  device?: 'cpu' | 'cuda';
}

/** Workloads peer_tfjs.cjs has: the matmuls and sae.topk.step. */
const tfjsHas = (w: string): boolean => w.startsWith('matmul.') || w === 'sae.topk.step';

/** Runs the installed peers (bench scripts under `sharedBench`) and returns their lines. */
export function runPeers(sharedBench: string, opts: PeerOptions): PeerRun[] {
  const runs: PeerRun[] = [];
  const quick = opts.quick ? ['--quick'] : [];
  const torchScript = path.join(sharedBench, 'peer_torch.py');
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (!existsSync(torchScript)) runs.push({ peer: 'torch', available: false, reason: `${torchScript} not found`, lines: [], seconds: 0 });
  else if (probe.status !== 0) runs.push({ peer: 'torch', available: false, reason: `${PYTHON} cannot import torch`, lines: [], seconds: 0 });
  else if (!existsSync(opts.selectScript)) runs.push({ peer: 'torch', available: false, reason: `${opts.selectScript} not found`, lines: [], seconds: 0 });
  else if (opts.select && opts.select.length === 0) runs.push({ peer: 'torch', available: false, reason: 'no selected workload', lines: [], seconds: 0 });
  else {
    const env = { ...process.env, ...(opts.device === 'cuda' ? {} : openblasCoreType()) };
    const args = [opts.selectScript, '--script', torchScript, '--threads', String(opts.threads), '--device', opts.device ?? 'cpu', ...quick];
    if (opts.select) args.push('--select', JSON.stringify(opts.select));
    opts.log(`running PyTorch peer (${torchScript} via ${path.basename(opts.selectScript)}, ${opts.select ? `${opts.select.length} workload(s)` : 'all workloads'}, ${opts.device ?? 'cpu'}${env.OPENBLAS_CORETYPE ? `, OPENBLAS_CORETYPE=${env.OPENBLAS_CORETYPE}` : ''}) ...`);
    const t0 = performance.now();
    const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 24, env });
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) runs.push({ peer: 'torch', available: false, reason: `exited with ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-1)[0]}`, lines: parseLines(r.stdout ?? ''), seconds });
    else runs.push({ peer: 'torch', available: true, lines: parseLines(r.stdout), seconds });
  }
  const tfjsScript = path.join(sharedBench, 'peer_tfjs.cjs');
  const np = tfjsNodePath();
  if (opts.select && !opts.select.some((x) => tfjsHas(x.workload))) runs.push({ peer: 'tfjs', available: false, reason: 'it has none of the selected workloads', lines: [], seconds: 0 });
  else if (!existsSync(tfjsScript)) runs.push({ peer: 'tfjs', available: false, reason: `${tfjsScript} not found`, lines: [], seconds: 0 });
  else if (!np) runs.push({ peer: 'tfjs', available: false, reason: '@tensorflow/tfjs(-backend-wasm) not found on NODE_PATH or in /tmp/peer-tfjs/node_modules', lines: [], seconds: 0 });
  else {
    opts.log(`running TensorFlow.js peer (${tfjsScript}, NODE_PATH=${np}) ...`);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [tfjsScript, ...quick], { encoding: 'utf8', env: { ...process.env, NODE_PATH: np }, maxBuffer: 1 << 24 });
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) runs.push({ peer: 'tfjs', available: false, reason: `exited with ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-1)[0]}`, lines: parseLines(r.stdout ?? ''), seconds });
    else runs.push({ peer: 'tfjs', available: true, lines: parseLines(r.stdout), seconds });
  }
  return runs;
}
