/**
 * Dropout: the masks (rate, inverted scaling, one stream per site), each site against an
 * independent formulation through hooks (forward and gradients), and training with dropout
 * (resumes bit for bit, evaluation runs without it, the config records it).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { makeConfig } from '../../models/gpt2/config.js';
import { dropoutMask, dropoutSites, makeDropoutMasks } from '../../models/gpt2/dropout.js';
import type { Hooks } from '../../models/gpt2/hooks.js';
import { forward, lossFn, tokensTensor } from '../../models/gpt2/model.js';
import { initParams, type Gpt2Params } from '../../models/gpt2/params.js';
import { train } from '../../models/gpt2/train.js';
import { NANOGPT_CHAR_PRESET } from '../../models/gpt2/presets.js';
import type { TrainOptions } from '../../models/gpt2/train_options.js';

const tmp = mkdtempSync(join(tmpdir(), 'gsae-dropout-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('dropout masks', () => {
  it('drop a fraction p and scale the rest by 1/(1-p)', () => {
    const p = 0.3;
    const m = dropoutMask([200, 500], p, new E.Rng(1)).toArray() as Float32Array;
    const zeros = m.filter((v) => v === 0).length / m.length;
    expect(Math.abs(zeros - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / m.length)); // 4 sigma
    expect(new Set(m)).toEqual(new Set([0, Math.fround(1 / (1 - p))]));
    expect(Array.from(dropoutMask([7], 0, new E.Rng(1)).toArray())).toEqual(new Array(7).fill(1));
    expect(() => dropoutMask([2], 1, new E.Rng(1))).toThrow(/\[0, 1\)/);
  });

  it('one mask per site with a non-zero probability, each from its own stream', () => {
    const cfg = makeConfig({ vocab_size: 11, n_positions: 4, n_embd: 8, n_layer: 2, n_head: 2, resid_pdrop: 0.1, embd_pdrop: 0, attn_pdrop: 0.2 });
    expect(dropoutSites(cfg, 3, 4).map((s) => `${s.name}:${s.shape.join('x')}:${s.p}`)).toEqual([
      'h.0.attn:3x2x4x4:0.2', 'h.0.resid_attn:12x8:0.1', 'h.0.resid_mlp:12x8:0.1',
      'h.1.attn:3x2x4x4:0.2', 'h.1.resid_attn:12x8:0.1', 'h.1.resid_mlp:12x8:0.1',
    ]);
    const a = makeDropoutMasks(cfg, 3, 4, new E.Rng(5));
    const b = makeDropoutMasks(cfg, 3, 4, new E.Rng(5));
    expect(a['h.1.resid_mlp']!.toArray()).toEqual(b['h.1.resid_mlp']!.toArray());
    expect(a['h.0.resid_mlp']!.toArray()).not.toEqual(a['h.0.resid_attn']!.toArray());
    E.dispose([a, b]);
  });
});

describe('dropout in the forward pass equals the same multiply through hooks', () => {
  const cfg = makeConfig({ vocab_size: 13, n_positions: 6, n_embd: 8, n_layer: 2, n_head: 2, bias: false, resid_pdrop: 0.5, embd_pdrop: 0.5, attn_pdrop: 0.5 });
  const params = initParams(cfg, 3);
  const toks = () => tokensTensor(cfg, [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]);
  const B = 2;
  const T = 6;
  const mask = (seed: number) => dropoutMask([B * T, cfg.n_embd], 0.5, new E.Rng(seed));
  const times = (m: E.Tensor) => (x: E.Tensor) => E.mul(x, E.reshape(m, [B, T, cfg.n_embd]));

  const cases: [string, string, (m: E.Tensor) => Hooks][] = [
    ['embd', 'the embeddings (what blocks.0.hook_resid_pre sees)', (m) => ({ 'blocks.0.hook_resid_pre': times(m) })],
    ['h.1.resid_attn', 'the attention output', (m) => ({ 'blocks.1.hook_attn_out': times(m) })],
    ['h.0.resid_mlp', 'the MLP output', (m) => ({ 'blocks.0.hook_mlp_out': times(m) })],
  ];
  for (const [site, what, hooks] of cases) {
    it(`${site}: ${what}, logits and parameter gradients`, () => {
      E.tidy(() => {
        const m = mask(site.length);
        const viaDropout = forward(params, cfg, toks(), { dropout: { [site]: m } });
        const viaHook = forward(params, cfg, toks(), { hooks: hooks(m) });
        expect(viaDropout.toArray()).toEqual(viaHook.toArray());
        const g1 = E.grad((p: Gpt2Params) => lossFn(p, cfg, toks(), undefined, { dropout: { [site]: m } }))(params) as Gpt2Params;
        const g2 = E.grad((p: Gpt2Params) => lossFn(p, cfg, toks(), undefined, { hooks: hooks(m) }))(params) as Gpt2Params;
        for (const k of Object.keys(g1)) expect(g1[k]!.toArray(), k).toEqual(g2[k]!.toArray());
      });
    });
  }

  it('h.0.attn: dropping every attention probability zeroes the attention output (no biases)', () => {
    E.tidy(() => {
      const zero = E.zeros([B, cfg.n_head, T, T]);
      const viaDropout = forward(params, cfg, toks(), { dropout: { 'h.0.attn': zero } });
      const viaHook = forward(params, cfg, toks(), { hooks: { 'blocks.0.hook_attn_out': (x) => E.zerosLike(x) } });
      expect(viaDropout.toArray()).toEqual(viaHook.toArray());
      // and an all-ones mask changes nothing
      const ones = forward(params, cfg, toks(), { dropout: { 'h.0.attn': E.ones([B, cfg.n_head, T, T]) } });
      expect(ones.toArray()).toEqual(forward(params, cfg, toks()).toArray());
    });
  });

  it('a mask of the wrong shape is named', () => {
    E.tidy(() => {
      expect(() => forward(params, cfg, toks(), { dropout: { embd: E.ones([3, 8]) } })).toThrow(/mask 'embd' is \[3, 8\], the activation \[12, 8\]/);
    });
  });
});

describe('training with dropout', () => {
  const corpus = join(tmp, 'corpus.txt');
  writeFileSync(corpus, readFileSync('data/tinyshakespeare/input.txt', 'utf8').slice(0, 20000));
  const opts = (out: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
    ...NANOGPT_CHAR_PRESET, data: corpus, out, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16, batchSize: 4,
    iters: 6, decayIters: 6, warmupIters: 1, evalInterval: 3, evalIters: 2, checkpointInterval: 0, rng: 'gsae', dropout: 0.2, ...over,
  });

  it('records the probability, resumes bit for bit, and changes training but not evaluation', async () => {
    const whole = await train(opts(join(tmp, 'whole')));
    const cfg = JSON.parse(readFileSync(join(tmp, 'whole', 'config.json'), 'utf8'));
    expect([cfg.resid_pdrop, cfg.embd_pdrop, cfg.attn_pdrop]).toEqual([0.2, 0.2, 0.2]);
    const first = await train(opts(join(tmp, 'pieces')), {}, { stopAfter: 4 });
    E.dispose(first.params);
    const rest = await train(opts(join(tmp, 'pieces')), {}, { resume: true });
    expect(rest.history).toEqual(whole.history);
    for (const k of Object.keys(whole.params)) expect(rest.params[k]!.toArray(), k).toEqual(whole.params[k]!.toArray());
    // Same seed without dropout: same initial weights and batches, so the step-0 estimates (before
    // any update) agree — evaluation runs without dropout — and the trained weights do not.
    const none = await train(opts(join(tmp, 'none'), { dropout: 0 }));
    expect(none.history[0]).toEqual(whole.history[0]);
    expect(none.params['wte.weight']!.toArray()).not.toEqual(whole.params['wte.weight']!.toArray());
    E.dispose([whole.params, rest.params, none.params]);
  });

  it('refuses what it cannot do', async () => {
    await expect(train(opts(join(tmp, 'bad'), { rng: 'torch' }))).rejects.toThrow(/dropout with rng 'torch'/);
    await expect(train(opts(join(tmp, 'bad'), { dropout: 1 }))).rejects.toThrow(/dropout must be in \[0, 1\)/);
  });
});
