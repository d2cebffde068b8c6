/**
 * Training: schedule, clipping, the compiled step, loss going down, atomic checkpoints and exact
 * resume (interrupted + resumed == uninterrupted, bit for bit), sampling.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { makeConfig } from '../../models/gpt2/config.js';
import { loadCheckpoint } from '../../models/gpt2/checkpoint.js';
import { tokensTensor } from '../../models/gpt2/model.js';
import { initParams, loadHfDir } from '../../models/gpt2/params.js';
import { generate, sampleFromLogits } from '../../models/gpt2/sample.js';
import { makeTrainStep, train } from '../../models/gpt2/train.js';
import type { TrainOptions } from '../../models/gpt2/train_options.js';
import { adamwInit, adamwScalars } from '../../models/optim/adamw.js';
import { clipByGlobalNorm, learningRate, type LrSchedule } from '../../models/optim/schedule.js';

const tmp = mkdtempSync(join(tmpdir(), 'gsae-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const corpus = join(tmp, 'corpus.txt');
writeFileSync(corpus, readFileSync('data/tinyshakespeare/input.txt', 'utf8').slice(0, 30000));

const tiny = (out: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
  data: corpus,
  out,
  trainFrac: 0.9,
  tokenizer: 'char',
  nLayer: 1,
  nHead: 2,
  nEmbd: 16,
  bias: true,
  activation: 'gelu_new',
  blockSize: 16,
  batchSize: 4,
  iters: 8,
  lr: 1e-2,
  minLr: 1e-3,
  warmupIters: 2,
  decayIters: 8,
  decay: 'cosine',
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 1.0,
  evalInterval: 4,
  evalIters: 2,
  seed: 5,
  checkpointInterval: 0,
  rng: 'gsae',
  dropout: 0,
  ...over,
});

describe('learning-rate schedule', () => {
  const s: LrSchedule = { lr: 1e-3, minLr: 1e-4, warmupIters: 100, decayIters: 2000, decay: 'cosine' };
  it('warms up linearly, then follows a cosine to minLr (nanoGPT get_lr)', () => {
    expect(learningRate(s, 0)).toBeCloseTo(1e-3 / 101, 15);
    expect(learningRate(s, 49)).toBeCloseTo((1e-3 * 50) / 101, 15);
    expect(learningRate(s, 100)).toBeCloseTo(1e-3, 15);
    expect(learningRate(s, 1050)).toBeCloseTo(5.5e-4, 15); // half-way: the mean of lr and minLr
    expect(learningRate(s, 2000)).toBeCloseTo(1e-4, 15);
    expect(learningRate(s, 5000)).toBe(1e-4);
    expect(learningRate({ ...s, decay: 'constant' }, 1500)).toBe(1e-3);
  });
});

describe('global-norm clipping', () => {
  it('scales by maxNorm / (norm + 1e-6) only when the norm is larger', () => {
    E.tidy(() => {
      const g = { a: E.tensor([3, 4]), b: E.tensor([[12]]) }; // norm 13
      const c = clipByGlobalNorm(g, 1.3);
      expect(c.norm.item()).toBeCloseTo(13, 5);
      const k = 1.3 / (13 + 1e-6);
      expect(Array.from(c.grads.a!.toArray())).toEqual([Math.fround(3 * Math.fround(k)), Math.fround(4 * Math.fround(k))].map((v) => expect.closeTo(v, 6)));
      const big = clipByGlobalNorm(g, 100);
      expect(Array.from(big.grads.b!.toArray())).toEqual([12]);
    });
  });
});

describe('compiled train step', () => {
  it('replays exactly what it traced', () => {
    E.tidy(() => {
      const cfg = makeConfig({ vocab_size: 13, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2 });
      const p = initParams(cfg, 9);
      const mom = adamwInit(p);
      const opt = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
      const step = makeTrainStep(cfg, opt, 1.0, false);
      const x = tokensTensor(cfg, [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 0, 1, 2, 3]]);
      const sc = adamwScalars(1, 1e-2, opt);
      const a = step(p, mom.m, mom.v, x, x, sc.decay, sc.stepSize, sc.bc2Sqrt, {});
      const b = step(p, mom.m, mom.v, x, x, sc.decay, sc.stepSize, sc.bc2Sqrt, {});
      expect(step.cacheSize()).toBe(1);
      expect(b.loss.item()).toBe(a.loss.item());
      for (const k of Object.keys(p)) expect(b.params[k]!.toArray()).toEqual(a.params[k]!.toArray());
      // and the update moved the parameters
      expect(a.params['wte.weight']!.toArray()).not.toEqual(p['wte.weight']!.toArray());
      step.dispose();
      // donating (the default) consumes params and moments and computes the same update
      const donating = makeTrainStep(cfg, opt, 1.0);
      const c = donating(p, mom.m, mom.v, x, x, sc.decay, sc.stepSize, sc.bc2Sqrt, {});
      expect(c.loss.item()).toBe(a.loss.item());
      for (const k of Object.keys(p)) expect(c.params[k]!.toArray()).toEqual(a.params[k]!.toArray());
      expect(Object.values(p).every((t) => t.disposed) && Object.values(mom.v).every((t) => t.disposed)).toBe(true);
      expect(x.disposed).toBe(false);
      donating.dispose();
    });
  });
});

describe('training runs', () => {
  it('lowers the loss and writes an HF checkpoint', async () => {
    const out = join(tmp, 'learn');
    const before = E.memory().tensors;
    const res = await train(tiny(out, { iters: 60, decayIters: 60, evalInterval: 30, evalIters: 4 }));
    expect(res.completed).toBe(true);
    const first = res.history[0]!;
    const last = res.history.at(-1)!;
    expect(first.step).toBe(0);
    expect(last.step).toBe(60);
    expect(Math.abs(first.valLoss - Math.log(res.cfg.vocab_size))).toBeLessThan(0.3); // near-uniform start
    expect(last.valLoss).toBeLessThan(first.valLoss - 0.6);
    const summary = JSON.parse(readFileSync(join(out, 'train_summary.json'), 'utf8'));
    expect(summary.val_loss).toBe(last.valLoss);
    expect(summary.tokens_per_second).toBeGreaterThan(0);
    const saved = loadHfDir(out);
    expect(saved.cfg.n_positions).toBe(16);
    expect(saved.cfg.resid_pdrop).toBe(0);
    expect(saved.params['wte.weight']!.toArray()).toEqual(res.params['wte.weight']!.toArray());
    E.dispose([res.params, saved.params]);
    expect(E.memory().tensors).toBe(before); // the loop frees every step's tensors
  });

  for (const rng of ['gsae', 'torch'] as const) it(`interrupted and resumed equals uninterrupted, bit for bit (rng ${rng})`, async () => {
    const a = join(tmp, `whole-${rng}`);
    const b = join(tmp, `pieces-${rng}`);
    const ra = await train(tiny(a, { rng }));
    const stopped = await train(tiny(b, { rng }), {}, { stopAfter: 3 });
    expect(stopped.completed).toBe(false);
    expect(loadCheckpoint(b).state.step).toBe(3);
    E.dispose(stopped.params);
    const rb = await train(tiny(b, { rng }), {}, { resume: true });
    expect(rb.completed).toBe(true);
    expect(rb.step).toBe(8);
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'config.json', 'gsae_vocab.json']) {
      expect(Buffer.compare(readFileSync(join(a, f)), readFileSync(join(b, f))), f).toBe(0);
    }
    expect(rb.history).toEqual(ra.history);
    expect(loadCheckpoint(b).state.dataRng).toEqual(loadCheckpoint(a).state.dataRng);
    // no temporary or old directories are left behind
    expect(readdirSync(tmp).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
    E.dispose([ra.params, rb.params]);
  });

  it('refuses to resume with different options, naming them', async () => {
    const d = join(tmp, 'mismatch');
    const r = await train(tiny(d), {}, { stopAfter: 2 });
    E.dispose(r.params);
    await expect(train(tiny(d, { lr: 5e-3, batchSize: 3 }), {}, { resume: true })).rejects.toThrow(/batchSize \(checkpoint 4, now 3\), lr \(checkpoint 0\.01, now 0\.005\)/);
    await expect(train(tiny(d, { rng: 'torch' }), {}, { resume: true })).rejects.toThrow(/rng \(checkpoint "gsae", now "torch"\)/);
    // Starting over on top of a checkpoint would silently destroy it.
    await expect(train(tiny(d))).rejects.toThrow(/already holds a training checkpoint; resume it/);
  });

  it('validates options', async () => {
    await expect(train(tiny(join(tmp, 'bad'), { nEmbd: 15, nHead: 2 }))).rejects.toThrow(/nEmbd \(15\) must be divisible by nHead \(2\)/);
    await expect(train(tiny(join(tmp, 'bad'), { data: join(tmp, 'none.txt') }))).rejects.toThrow(/corpus file .*none\.txt' does not exist/);
    expect(existsSync(join(tmp, 'bad'))).toBe(false);
  });
});

describe('sampling', () => {
  it('greedy and top-1 pick the argmax; frequencies follow the softmax', () => {
    const rng = new E.Rng(11);
    const logits = [0, Math.log(2), Math.log(4), -1];
    expect(sampleFromLogits(logits, 0, undefined, rng)).toBe(2);
    expect(sampleFromLogits(logits, 5, 1, rng)).toBe(2);
    const counts = [0, 0, 0, 0];
    const n = 14000;
    for (let i = 0; i < n; i++) counts[sampleFromLogits(logits, 1, 3, rng)]!++;
    expect(counts[3]).toBe(0); // outside the top 3
    const p = [1 / 7, 2 / 7, 4 / 7];
    for (let i = 0; i < 3; i++) expect(Math.abs(counts[i]! - n * p[i]!)).toBeLessThan(5 * Math.sqrt(n * p[i]! * (1 - p[i]!)));
    // temperature 0.5 squares the odds: 1 : 4 : 16
    const hot = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) hot[sampleFromLogits(logits, 0.5, 3, rng)]!++;
    expect(Math.abs(hot[2]! / n - 16 / 21)).toBeLessThan(0.02);
  });

  it('generates reproducibly from a prompt longer than the context', () => {
    E.tidy(() => {
      const { cfg, params } = loadHfDir('test/fixtures/gpt2-tiny-uor');
      const prompt = Array.from({ length: 20 }, (_, i) => i % cfg.vocab_size);
      const a = generate(params, cfg, prompt, { maxNewTokens: 6, temperature: 1, topK: 5, rng: new E.Rng(3) });
      const b = generate(params, cfg, prompt, { maxNewTokens: 6, temperature: 1, topK: 5, rng: new E.Rng(3) });
      expect(a).toEqual(b);
      expect(a.length).toBe(6);
      expect(a.every((t) => t >= 0 && t < cfg.vocab_size)).toBe(true);
      expect(() => generate(params, cfg, [24], { maxNewTokens: 1, rng: new E.Rng(1) })).toThrow(/sample prompt: token id 24/);
    });
  });
});
