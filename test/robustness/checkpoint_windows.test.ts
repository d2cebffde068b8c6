/**
 * The states a kill can leave *while a checkpoint is being written*, made on purpose (random
 * kills in kill_resume.test.ts rarely land inside a write of a small file): a half-written
 * temporary file next to a valid checkpoint, an lm checkpoint directory moved aside but its
 * replacement not yet renamed in, a store shard written but not yet in the manifest, and a
 * diverged run that must not overwrite its last good checkpoint. Each must resume to exactly
 * the result of an uninterrupted run and clean up what the killed writer left.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { train } from '../../models/gpt2/train.js';
import type { TrainOptions } from '../../models/gpt2/train_options.js';
import { findCheckpoint, loadCheckpoint, saveCheckpoint } from '../../models/gpt2/checkpoint.js';
import { loadTokenizer } from '../../models/gpt2/tokenizer.js';
import { buildStore, buildStoreInterruptible, type CaptureFn } from '../../sae/store/build.js';
import { readManifest, writeManifest } from '../../sae/store/manifest.js';
import { CHECKPOINT_FILE, SaeTrainer } from '../../sae/trainer.js';
import { readCheckpoint, writeCheckpoint } from '../../sae/checkpoint.js';
import { StoreSource } from '../../sae/store/source.js';

const tmp = mkdtempSync(join(tmpdir(), 'gsae-windows-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const files = (dir: string) => readdirSync(dir).sort();
const bytes = (p: string) => readFileSync(p);

// ---- the store

const D = 4;
const capture: CaptureFn = (tokens) => {
  const t = E.cast(tokens, 'float32');
  const acts = E.stack([t, E.mul(t, 0.5), E.exp(E.mul(t, -0.1)), E.add(t, -3)], -1);
  return { acts, grads: E.mul(acts, 0.25) };
};
const corpus = Int32Array.from({ length: 400 }, (_, i) => (i * 13) % 31);
const storeOpts = (dir: string) => ({
  dir, hook: 'blocks.0.hook_resid_pre', tokens: corpus, source: 'w', range: [0, 384] as [number, number], seqLen: 8, batchSeqs: 2,
  seqsPerShard: 4, withGrad: true, modelId: 'fake', capture,
});

describe('kill while a store is being built', () => {
  const ref = join(tmp, 'store-ref');
  buildStore(storeOpts(ref));

  it('a shard written but not yet in the manifest, and a half-written temporary file, resume exactly', () => {
    const dir = join(tmp, 'store-a');
    buildStore(storeOpts(dir));
    // roll the manifest back two shards: the state of a kill right after shard_00010.bin was renamed in
    const m = readManifest(dir);
    m.shards = m.shards.slice(0, -2);
    m.complete = false;
    writeManifest(dir, m);
    writeFileSync(join(dir, 'shard_00011.bin.tmp-99999'), bytes(join(ref, 'shard_00011.bin')).subarray(0, 50));
    writeFileSync(join(dir, 'manifest.json.tmp-99998'), '{"format": "gsae-st');
    buildStore(storeOpts(dir));
    expect(files(dir)).toEqual(files(ref));
    for (const f of files(ref)) expect(bytes(join(dir, f)).equals(bytes(join(ref, f))), f).toBe(true);
  });

  it('a requested stop ends after a whole shard; running again finishes it exactly', async () => {
    const dir = join(tmp, 'store-b');
    let asked = 0;
    const m = await buildStoreInterruptible(storeOpts(dir), () => ++asked >= 3);
    expect(m).toBeNull();
    expect(readManifest(dir).shards).toHaveLength(3);
    expect(readManifest(dir).complete).toBe(false);
    await buildStoreInterruptible(storeOpts(dir), () => false);
    for (const f of files(ref)) expect(bytes(join(dir, f)).equals(bytes(join(ref, f))), f).toBe(true);
  });
});

// ---- the SAE trainer

describe('kill while an SAE checkpoint is being written', () => {
  const store = join(tmp, 'sae-store');
  buildStore(storeOpts(store));
  const cfg = { variant: 'gsae' as const, dIn: D, dSae: 8, k: 2, batchSize: 16, totalSteps: 24, initSamples: 32, checkpointEvery: 4, logEvery: 4, seed: 1 };
  const src = () => new StoreSource(store, 16, 1);

  it('a half-written checkpoint.msgpack.tmp-<pid> next to the last checkpoint: resume is exact and cleans it up', () => {
    const a = SaeTrainer.create(cfg, src(), { outDir: join(tmp, 'sae-ref') });
    a.run();
    const dir = join(tmp, 'sae-a');
    const b = SaeTrainer.create(cfg, src(), { outDir: dir, stopAfterStep: 10 });
    b.run();
    b.dispose();
    // the kill struck while step 12's checkpoint was being written: the old one is intact
    const partial = readFileSync(join(dir, CHECKPOINT_FILE)).subarray(0, 100);
    writeFileSync(join(dir, `${CHECKPOINT_FILE}.tmp-99999`), partial);
    writeFileSync(join(dir, 'sae', 'sae_weights.safetensors.tmp-99999'), partial);
    const c = SaeTrainer.resume(join(dir, CHECKPOINT_FILE), src(), { outDir: dir });
    expect(c.step).toBe(10);
    c.run();
    expect(bytes(join(dir, 'sae', 'sae_weights.safetensors')).equals(bytes(join(tmp, 'sae-ref', 'sae', 'sae_weights.safetensors')))).toBe(true);
    expect(bytes(join(dir, CHECKPOINT_FILE)).equals(bytes(join(tmp, 'sae-ref', CHECKPOINT_FILE)))).toBe(true);
    expect(files(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(files(join(dir, 'sae')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    a.dispose();
    c.dispose();
  });

  it('a diverging run stops naming the step and the tensors, and keeps its last good checkpoint', () => {
    const dir = join(tmp, 'sae-nan');
    const t = SaeTrainer.create({ ...cfg, variant: 'topk', lr: 1e30, checkpointEvery: 1 }, src(), { outDir: dir });
    expect(() => t.run()).toThrow(/^step 2 produced NaN or Inf \(.*mse_loss NaN.*; non-finite parameters: .*W_enc.*; lr 1\.00e\+30\); the last good checkpoint \(step 1\) .* is kept; lower --lr$/);
    t.dispose();
    const ck = readCheckpoint(join(dir, CHECKPOINT_FILE));
    expect(ck.step).toBe(1);
    for (const p of Object.values(ck.params)) expect(p.data.every(Number.isFinite)).toBe(true);
    // and the writer itself refuses a non-finite state
    ck.params.W_enc!.data[3] = NaN;
    expect(() => writeCheckpoint(join(dir, CHECKPOINT_FILE), ck)).toThrow(/not written: tensor 'params\.W_enc' holds NaN or Inf at step 1/);
    expect(readCheckpoint(join(dir, CHECKPOINT_FILE)).params.W_enc!.data.every(Number.isFinite)).toBe(true);
  });
});

// ---- GPT-2 training

const lmCorpus = join(tmp, 'corpus.txt');
writeFileSync(lmCorpus, readFileSync('data/tinyshakespeare/input.txt', 'utf8').slice(0, 20000));
const tiny = (out: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
  data: lmCorpus, out, trainFrac: 0.9, tokenizer: 'char', nLayer: 1, nHead: 2, nEmbd: 16, bias: true, activation: 'gelu_new', dropout: 0, blockSize: 16,
  batchSize: 2, iters: 8, lr: 1e-2, minLr: 1e-3, warmupIters: 2, decayIters: 8, decay: 'cosine', beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1,
  gradClip: 1, evalInterval: 4, evalIters: 1, seed: 7, checkpointInterval: 2, rng: 'gsae', ...over,
});
const LM_FILES = ['model.safetensors', 'optimizer.safetensors', 'config.json'];

describe('kill while an lm checkpoint directory is being replaced', () => {
  it('between the two renames (only <dir>.old-<pid> and a half-built <dir>.tmp-<pid>): resume is exact and cleans up', async () => {
    const ref = join(tmp, 'lm-ref');
    const r = await train(tiny(ref));
    E.dispose(r.params);
    const dir = join(tmp, 'lm-a');
    E.dispose((await train(tiny(dir), {}, { stopAfter: 4 })).params);
    // the writer had moved the step-4 checkpoint aside and was building step 6's
    renameSync(dir, `${dir}.old-99999`);
    cpSync(`${dir}.old-99999`, `${dir}.tmp-99999`, { recursive: true });
    rmSync(join(`${dir}.tmp-99999`, 'trainer_state.msgpack'));
    expect(findCheckpoint(dir)).toBe(`${dir}.old-99999`);
    const res = await train(tiny(dir), {}, { resume: true });
    E.dispose(res.params);
    expect(res.completed).toBe(true);
    for (const f of LM_FILES) expect(bytes(join(dir, f)).equals(bytes(join(ref, f))), f).toBe(true);
    expect(readdirSync(tmp).filter((n) => n.startsWith('lm-a.'))).toEqual([]);
  });

  it('a diverging run names the step and parameters; no non-finite checkpoint replaces the last good one', async () => {
    const dir = join(tmp, 'lm-nan');
    await expect(train(tiny(dir, { lr: 1e6, gradClip: 0, warmupIters: 0, checkpointInterval: 1, iters: 20, decayIters: 20 }))).rejects.toThrow(
      /^train: diverged at step 3 \(loss [-\d.e+]+; gradient norm NaN; non-finite parameters after the update: h\.0\.attn\.c_attn\.bias, .* and \d+ more; lr 9\.76e\+5\); the last good checkpoint \(step 2\) in .*lm-nan is kept\. Lower --lr or enable --grad-clip$/,
    );
    const ck = loadCheckpoint(dir);
    expect(ck.state.step).toBe(2);
    for (const [k, t] of Object.entries(ck.params)) expect((t.toArray() as Float32Array).every(Number.isFinite), k).toBe(true);
    // the writer itself refuses a non-finite state and leaves the directory as it was
    const before = bytes(join(dir, 'model.safetensors'));
    const wte = ck.params['wte.weight']!;
    const bad = Float32Array.from(wte.toArray() as Float32Array);
    bad[5] = Infinity;
    ck.params['wte.weight'] = E.tensor(bad, [...wte.shape]);
    expect(() => saveCheckpoint(dir, ck, loadTokenizer(dir))).toThrow(/checkpoint .*lm-nan not written: parameter 'wte.weight' holds NaN or Inf at step 2/);
    expect(bytes(join(dir, 'model.safetensors')).equals(before)).toBe(true);
    E.dispose([ck.params, ck.moments, wte]);
  });
});
