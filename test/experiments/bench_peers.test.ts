/**
 * The benchmark's peer runner (experiments/bench/peers.ts): a peer that is not installed is
 * reported with the reason and the run goes on; the selection reaches the PyTorch wrapper, and
 * TensorFlow.js is skipped when it has none of the selected workloads.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPeers } from '../../experiments/bench/peers.js';

/** A stand-in for ../shared/bench/peer_torch.py with its functions' signatures: no torch needed. */
const FAKE_PEER = `
import json
class _Cuda:
    @staticmethod
    def is_available(): return False
class _Torch:
    __version__ = "fake"
    cuda = _Cuda
    def set_num_threads(self, n): pass
    def manual_seed(self, s): pass
torch = _Torch()
def timeit(fn, reps, warmup=2): return 1.0
def out(w, peer, **kw): print(json.dumps({"workload": w, "peer": peer, "value": 1, "unit": "u", **kw}))
def bench_matmul(sizes, reps): [out(f"matmul.{M}.{K}.{N}", "torch-cpu") for (M, K, N) in sizes]
def bench_gpt2(L, C, H, V, T, B, reps): out("gpt2.train_step", "torch-cpu", layers=L, n_embd=C)
def bench_sae(kind, d, m, k, batch, reps): out(f"sae.{kind}.step", "torch-cpu", d=d, m=m, k=k, batch=batch)
def bench_sae_sparse(kind, d, m, k, batch, reps): out(f"sae.{kind}.step", "torch-sparse", d=d, m=m, k=k, batch=batch)
`;
const PY = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'pass']).status === 0);

const log = () => {};
const select = [{ workload: 'sae.topk.step', d: 256, m: 4096, k: 32, batch: 1024 }];

describe('bench peers', () => {
  it('missing peer scripts: each peer says why and nothing throws', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'gsae-peers-'));
    const runs = runPeers(empty, { quick: true, threads: 1, log, selectScript: path.join(empty, 'peer_torch_select.py'), select });
    const torch = runs.find((r) => r.peer === 'torch')!;
    expect(torch.available).toBe(false);
    // either torch is absent here or the script is: both are reasons, not crashes
    expect(torch.reason).toMatch(/peer_torch\.py not found|cannot import torch/);
    const tfjs = runs.find((r) => r.peer === 'tfjs')!;
    expect(tfjs.available).toBe(false);
    expect(tfjs.reason).toBeTruthy();
  });

  it('TensorFlow.js is skipped when none of the selected workloads is one of its own', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gsae-peers-'));
    writeFileSync(path.join(dir, 'peer_tfjs.cjs'), '');
    const runs = runPeers(dir, { quick: true, threads: 1, log, selectScript: 'none', select: [{ workload: 'sae.gsae.step', d: 256 }] });
    expect(runs.find((r) => r.peer === 'tfjs')!.reason).toBe('it has none of the selected workloads');
  });

  it('an empty selection runs no PyTorch workload', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gsae-peers-'));
    writeFileSync(path.join(dir, 'peer_torch.py'), '');
    const sel = path.join(dir, 'peer_torch_select.py');
    writeFileSync(sel, '');
    const torch = runPeers(dir, { quick: true, threads: 1, log, selectScript: sel, select: [] }).find((r) => r.peer === 'torch')!;
    expect(torch.available).toBe(false);
    expect(torch.reason).toMatch(/no selected workload|cannot import torch/);
  });

  it.skipIf(!PY)('peer_torch_select.py runs exactly the selected workloads, both SAE peers for an SAE step', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gsae-peers-'));
    const fake = path.join(dir, 'peer_torch.py');
    writeFileSync(fake, FAKE_PEER);
    const run = (sel: unknown[] | null) => {
      const r = spawnSync(PY!, ['experiments/bench/peer_torch_select.py', '--script', fake, ...(sel ? ['--select', JSON.stringify(sel)] : [])], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return { lines: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), err: r.stderr };
    };
    const one = run([{ workload: 'sae.gsae.step', d: 768, m: 16384, k: 32, batch: 1024 }, { workload: 'matmul.256.256.256' }, { workload: 'sae.nope.step' }]);
    expect(one.lines.map((l) => `${String(l.workload)} ${String(l.peer)} ${String(l.d ?? '')}`)).toEqual([
      'matmul.256.256.256 torch-cpu ', 'sae.gsae.step torch-cpu 768', 'sae.gsae.step torch-sparse 768',
    ]);
    expect(one.err).toMatch(/the peer has no workload \{"workload": "sae.nope.step"\}/);
    // no selection: everything the peer's main() runs (4 matmuls, 2 GPT-2 steps, 2 kinds × 2 shapes × 2 peers)
    expect(run(null).lines).toHaveLength(4 + 2 + 8);
    // --device cuda without a GPU: a clear error, not a traceback
    const cuda = spawnSync(PY!, ['experiments/bench/peer_torch_select.py', '--script', fake, '--device', 'cuda'], { encoding: 'utf8' });
    expect(cuda.status).not.toBe(0);
    expect(cuda.stderr).toMatch(/--device cuda but torch.cuda.is_available\(\) is False/);
  });
});
