/**
 * The trainer: exact resume (bitwise), unit-norm decoder rows after every step, SAELens-named
 * JSONL logs, the folded export working on raw activations, neuron resampling, and each
 * variant's loss falling on synthetic data with a known sparse dictionary and L0 on target.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { SaeTrainer, CHECKPOINT_FILE } from '../../sae/trainer.js';
import { LOG_FILE, type LogRecord } from '../../sae/train_log.js';
import type { SaeTrainConfig, VariantName } from '../../sae/config.js';
import { disposeSae, forwardSae, loadSae } from '../../sae/model.js';
import { makeSynthetic, syntheticSource } from './synthetic.js';
import { rowNorms } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'gsae-trainer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const data = makeSynthetic({ n: 1024, d: 8, mTrue: 16, kTrue: 2, seed: 7, offset: 0.5 });
const small = (variant: VariantName, extra: Partial<SaeTrainConfig> = {}): Partial<SaeTrainConfig> & { variant: VariantName } => ({
  variant,
  dIn: 8,
  dSae: 24,
  k: 3,
  batchSize: 16,
  totalSteps: 30,
  logEvery: 5,
  lr: 5e-3,
  deadTokens: 64, // small so AuxK and resampling actually happen in a short run
  initSamples: 256,
  seed: 3,
  l1Coefficient: 0.5,
  initThreshold: 0.2,
  bandwidth: 0.1,
  ...extra,
});

function allState(tr: SaeTrainer): number[][] {
  const s = tr.state();
  return [s.params, s.adamM, s.adamV, s.buffers].flatMap((p) => Object.keys(p).sort().map((k) => Array.from(p[k]!.data)));
}

const strip = (r: LogRecord) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'details/elapsed_seconds'));

describe('exact resume', () => {
  const cases: [VariantName, Partial<SaeTrainConfig>][] = [
    ['topk', {}],
    ['gsae', { beta: 1.5, gradNorm: 'rms' }],
    ['batchtopk', {}],
    ['gated', {}],
    ['relu_l1', { april: true, resampleSteps: [8, 20], resampleSamples: 64, resampleWarmupSteps: 4, lrDecay: 'cosine' }],
    ['jumprelu', { normalizeActivations: 'none', bDecInit: 'mean' }],
  ];
  for (const [variant, extra] of cases) {
    it(`${variant}: interrupted and resumed ends bitwise equal to an uninterrupted run`, () => {
      const cfg = small(variant, extra);
      const logsA: LogRecord[] = [];
      const a = SaeTrainer.create(cfg, syntheticSource(data, variant === 'gsae', 11), { onLog: (r) => logsA.push(r) });
      a.run();
      const dir = join(tmp, `resume-${variant}`);
      const b1 = SaeTrainer.create(cfg, syntheticSource(data, variant === 'gsae', 11), { outDir: dir, stopAfterStep: 13 });
      const r1 = b1.run();
      expect(r1).toMatchObject({ step: 13, finished: false });
      b1.dispose();
      const b2 = SaeTrainer.resume(join(dir, CHECKPOINT_FILE), syntheticSource(data, variant === 'gsae', 11), { outDir: dir });
      expect(b2.step).toBe(13);
      expect(b2.run()).toMatchObject({ step: 30, finished: true });
      expect(allState(b2)).toEqual(allState(a));
      const logB = readFileSync(join(dir, LOG_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogRecord);
      expect(logB.map(strip)).toEqual(logsA.map(strip));
      a.dispose();
      b2.dispose();
    });
  }

  it('after a crash past the last checkpoint, resuming rewinds the log and data to the checkpoint', () => {
    const cfg = small('topk', { checkpointEvery: 10, logEvery: 1 });
    const a = SaeTrainer.create(cfg, syntheticSource(data, false, 5));
    a.run();
    const dir = join(tmp, 'crash');
    const saved = join(tmp, 'crash-step10.msgpack');
    const b = SaeTrainer.create(cfg, syntheticSource(data, false, 5), {
      outDir: dir,
      stopAfterStep: 17,
      // at step 11 the file on disk is step 10's checkpoint: keep it, as a crash at 17 would leave it
      onLog: (r) => {
        if (r.step === 11) copyFileSync(join(dir, CHECKPOINT_FILE), saved);
      },
    });
    b.run();
    b.dispose();
    copyFileSync(saved, join(dir, CHECKPOINT_FILE));
    const c = SaeTrainer.resume(join(dir, CHECKPOINT_FILE), syntheticSource(data, false, 5), { outDir: dir });
    expect(c.step).toBe(10);
    c.run();
    expect(allState(c)).toEqual(allState(a));
    const steps = readFileSync(join(dir, LOG_FILE), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as LogRecord).step);
    expect(steps).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    a.dispose();
    c.dispose();
  });

  it('refuses to resume on different data, and a truncated checkpoint with a clear error', () => {
    const dir = join(tmp, 'resume-topk');
    const other = makeSynthetic({ n: 512, d: 8, mTrue: 16, kTrue: 2, seed: 1 });
    expect(() => SaeTrainer.resume(join(dir, CHECKPOINT_FILE), syntheticSource(other, false))).toThrow(/the data differ from the checkpoint's/);
    const bytes = readFileSync(join(dir, CHECKPOINT_FILE));
    const bad = join(tmp, 'truncated.msgpack');
    writeFileSync(bad, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => SaeTrainer.resume(bad, syntheticSource(data, false))).toThrow(/checkpoint .*truncated/);
  });
});

describe('training', () => {
  it('keeps decoder rows at unit norm after every step (unit-norm variants), and not under April', () => {
    for (const variant of ['topk', 'gsae', 'batchtopk', 'gated', 'relu_l1', 'jumprelu'] as const) {
      const tr = SaeTrainer.create(small(variant, { totalSteps: 6 }), syntheticSource(data, variant === 'gsae'));
      for (let s = 0; s < 6; s++) {
        tr.trainStep();
        const W = tr.hostParams().W_dec!;
        for (const n of rowNorms(W.data, 24, 8)) expect(Math.abs(n - 1)).toBeLessThan(2e-6);
      }
      tr.dispose();
    }
    const april = SaeTrainer.create(small('relu_l1', { april: true, totalSteps: 3 }), syntheticSource(data, false));
    april.run();
    const norms = rowNorms(april.hostParams().W_dec!.data, 24, 8);
    expect(norms.some((n) => Math.abs(n - 0.1) > 1e-4 && Math.abs(n - 1) > 1e-4)).toBe(true);
    april.dispose();
  });

  it('logs SAELens metric names to JSONL and writes a folded SAELens export that works on raw activations', () => {
    const dir = join(tmp, 'export');
    const tr = SaeTrainer.create(small('topk', { totalSteps: 10 }), syntheticSource(data, false), { outDir: dir });
    tr.run();
    const rec = JSON.parse(readFileSync(join(dir, LOG_FILE), 'utf8').trim().split('\n').pop()!) as LogRecord;
    for (const k of ['losses/mse_loss', 'losses/overall_loss', 'metrics/l0', 'metrics/explained_variance', 'sparsity/dead_features', 'details/current_learning_rate', 'details/n_training_tokens']) {
      expect(rec).toHaveProperty([k]);
    }
    expect(tr.scale).not.toBe(1);
    // the export on raw x must equal the trained SAE on c·x, scaled back by 1/c
    const m = loadSae(join(dir, 'sae'));
    const p = tr.hostParams();
    E.tidy(() => {
      const x = E.tensor(data.x.subarray(0, 8 * 20), [20, 8]);
      const { f, xHat } = forwardSae(m, x);
      const xn = E.mul(x, tr.scale);
      const z = E.add(E.matmul(E.sub(xn, E.tensor(p.b_dec!.data, [8])), E.tensor(p.W_enc!.data, [8, 24])), E.tensor(p.b_enc!.data, [24]));
      const fn = E.keepTopk(z, 3, true);
      const xHatN = E.add(E.matmul(fn, E.tensor(p.W_dec!.data, [24, 8])), E.tensor(p.b_dec!.data, [8]));
      Array.from(f.toArray()).forEach((v, i) => expect(v).toBeCloseTo(fn.toArray()[i]!, 4));
      Array.from(xHat.toArray()).forEach((v, i) => expect(v * tr.scale).toBeCloseTo(xHatN.toArray()[i]!, 4));
    });
    disposeSae(m);
    tr.dispose();
  });

  it('neuron resampling re-initialises dead latents (relu_l1)', () => {
    // a large λ kills latents; at step 30 those dead get new encoder/decoder directions
    const tr = SaeTrainer.create(small('relu_l1', { l1Coefficient: 30, lr: 0.02, totalSteps: 30, resampleSteps: [30], resampleSamples: 128 }), syntheticSource(data, false));
    for (let s = 0; s < 29; s++) tr.trainStep();
    const before = tr.state();
    tr.trainStep();
    const after = tr.state();
    const dead = tr.lastResampled;
    expect(dead.length).toBeGreaterThan(0);
    // they were dead: no firing for deadTokens = 64 tokens (4 steps of 16) before step 30's update
    for (const i of dead) expect(before.buffers.since_fired!.data[i]).toBeGreaterThanOrEqual(64 - 16);
    for (const i of dead) expect(after.buffers.since_fired!.data[i]).toBe(0);
    const alive = Array.from({ length: 24 }, (_, i) => i).filter((i) => !dead.includes(i));
    const encNorm = (p: typeof after.params, i: number) => Math.hypot(...Array.from({ length: 8 }, (_, j) => p.W_enc!.data[j * 24 + i]!));
    const aliveEnc = alive.reduce((s, i) => s + encNorm(after.params, i), 0) / alive.length;
    for (const i of dead) {
      const dec = Array.from(after.params.W_dec!.data.subarray(i * 8, i * 8 + 8));
      expect(Math.hypot(...dec)).toBeCloseTo(1, 5);
      // encoder column ∥ decoder row, with norm 0.2 × the mean alive encoder norm
      expect(encNorm(after.params, i)).toBeGreaterThan(0.1 * aliveEnc);
      expect(encNorm(after.params, i)).toBeLessThan(0.3 * aliveEnc);
      const cos = dec.reduce((s, v, j) => s + v * after.params.W_enc!.data[j * 24 + i]!, 0) / encNorm(after.params, i);
      expect(cos).toBeCloseTo(1, 5);
      expect(after.params.b_enc!.data[i]).toBe(0);
      expect(after.adamM.b_enc!.data[i]).toBe(0);
      expect(after.adamV.W_dec!.data.subarray(i * 8, i * 8 + 8).every((v) => v === 0)).toBe(true);
    }
    tr.dispose();
  });
});

describe('each variant learns the synthetic dictionary', () => {
  const big = makeSynthetic({ n: 2048, d: 12, mTrue: 24, kTrue: 2, seed: 21, noise: 0.01 });
  const cases: [VariantName, Partial<SaeTrainConfig>, [number, number]][] = [
    ['topk', { k: 3 }, [2.5, 3]],
    ['gsae', { k: 3, beta: 1 }, [2.5, 3]],
    ['batchtopk', { k: 3 }, [2.5, 3]],
    ['relu_l1', { l1Coefficient: 1.5, lr: 0.01 }, [1, 8]],
    ['relu_l1', { l1Coefficient: 1.5, lr: 0.01, april: true }, [1, 8]],
    ['gated', { l1Coefficient: 4, lr: 0.01 }, [1, 8]],
    ['jumprelu', { l1Coefficient: 0.5, initThreshold: 0.3, bandwidth: 0.1 }, [1, 8]],
  ];
  for (const [variant, extra, [lo, hi]] of cases) {
    it(`${variant}${extra.april ? ' (April)' : ''}: loss falls, L0 in [${lo}, ${hi}]`, () => {
      const logs: LogRecord[] = [];
      const tr = SaeTrainer.create(
        { variant, dIn: 12, dSae: 48, batchSize: 64, totalSteps: 200, logEvery: 10, lr: 4e-3, deadTokens: 4096, initSamples: 512, seed: 1, ...extra },
        syntheticSource(big, variant === 'gsae', 2),
        { onLog: (r) => logs.push(r) },
      );
      tr.run();
      tr.dispose();
      const first = logs[0]!;
      const last = logs.slice(-3);
      const mse = (r: LogRecord) => r['losses/mse_loss']!;
      const mean = (f: (r: LogRecord) => number) => last.reduce((s, r) => s + f(r), 0) / last.length;
      expect(mean(mse)).toBeLessThan(0.5 * mse(first));
      expect(mean((r) => r['losses/overall_loss']!)).toBeLessThan(first['losses/overall_loss']!);
      // L1 penalties shrink activations, so their reconstructions are looser at this budget
      expect(mean((r) => r['metrics/explained_variance']!)).toBeGreaterThan(hi > 3 ? 0.7 : 0.8);
      const l0 = mean((r) => r['metrics/l0']!);
      expect(l0).toBeGreaterThanOrEqual(lo);
      expect(l0).toBeLessThanOrEqual(hi);
    });
  }
});

it('no tensors leak across a training run', () => {
  const before = E.memory().tensors;
  const tr = SaeTrainer.create(small('gsae', { totalSteps: 5 }), syntheticSource(data, true));
  tr.run();
  tr.dispose();
  expect(E.memory().tensors).toBe(before);
  expect(existsSync(tmp)).toBe(true);
});
