/**
 * Hook points: reading, replacing and adding to activations, and gradients with respect to them
 * (checked against central finite differences in float64).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { makeConfig } from '../../models/gpt2/config.js';
import { hookNames } from '../../models/gpt2/hooks.js';
import { activationsAndGrads, forward, lmLoss, runWithCache, tokensTensor } from '../../models/gpt2/model.js';
import { initParams, loadHfDir, type Gpt2Params } from '../../models/gpt2/params.js';

const { cfg, params } = loadHfDir('test/fixtures/gpt2-tiny-uor');
const toks = () => tokensTensor(cfg, [[5, 12, 3, 8, 1], [7, 7, 2, 0, 23]]);

function maxDiff(a: E.Tensor, b: E.Tensor): number {
  const x = a.toArray();
  const y = b.toArray();
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

describe('hook points', () => {
  it('names follow TransformerLens and every one is reached, in order, with [B,T,C]', () => {
    E.tidy(() => {
      const seen: string[] = [];
      const hooks = Object.fromEntries(
        hookNames(cfg).map((n) => [n, (x: E.Tensor, name: string) => {
          expect(x.shape).toEqual([2, 5, cfg.n_embd]);
          seen.push(name);
        }]),
      );
      forward(params, cfg, toks(), { hooks });
      expect(seen).toEqual(hookNames(cfg));
      expect(seen).toContain('blocks.1.hook_resid_mid');
      expect(seen.length).toBe(2 + 5 * cfg.n_layer + 1);
    });
  });

  it('reading hooks do not change the output; the residual identities hold', () => {
    E.tidy(() => {
      const plain = forward(params, cfg, toks());
      const { logits, acts } = runWithCache(params, cfg, toks(), hookNames(cfg));
      expect(maxDiff(plain, logits)).toBe(0);
      for (let l = 0; l < cfg.n_layer; l++) {
        const b = `blocks.${l}.`;
        expect(maxDiff(E.add(acts[`${b}hook_resid_pre`]!, acts[`${b}hook_attn_out`]!), acts[`${b}hook_resid_mid`]!)).toBe(0);
        expect(maxDiff(E.add(acts[`${b}hook_resid_mid`]!, acts[`${b}hook_mlp_out`]!), acts[`${b}hook_resid_post`]!)).toBe(0);
        if (l > 0) expect(maxDiff(acts[`blocks.${l - 1}.hook_resid_post`]!, acts[`${b}hook_resid_pre`]!)).toBe(0);
      }
      expect(maxDiff(E.add(acts.hook_embed!, acts.hook_pos_embed!), acts['blocks.0.hook_resid_pre']!)).toBe(0);
      // pos embeddings are the same for every row of the batch
      const pe = acts.hook_pos_embed!;
      expect(maxDiff(E.slice(pe, [0], [1]), E.slice(pe, [1], [1]))).toBe(0);
    });
  });

  it('a replacement splices in (zeroing the final stream gives logits = ln_f bias · wteᵀ)', () => {
    E.tidy(() => {
      const zero = (x: E.Tensor) => E.zerosLike(x);
      const lg = forward(params, cfg, toks(), { hooks: { [`blocks.${cfg.n_layer - 1}.hook_resid_post`]: zero } });
      // LayerNorm of a zero row is its bias; the tied head maps it through wte.
      const expected = E.matmul(E.reshape(params['ln_f.bias']!, [1, cfg.n_embd]), params['wte.weight']!, false, true);
      const row = E.slice(lg, [1, 3, 0], [1, 1, cfg.vocab_size]);
      expect(maxDiff(E.reshape(row, [1, cfg.vocab_size]), expected)).toBeLessThan(1e-6);
    });
  });

  it('adding a steering vector at one hook equals adding it at the equivalent one', () => {
    E.tidy(() => {
      const v = E.randn([cfg.n_embd], new E.Rng(1), 0.5);
      const add = (x: E.Tensor) => E.add(x, v);
      const a = forward(params, cfg, toks(), { hooks: { 'blocks.0.hook_resid_post': add } });
      const b = forward(params, cfg, toks(), { hooks: { 'blocks.1.hook_resid_pre': add } });
      expect(maxDiff(a, b)).toBe(0);
      expect(maxDiff(a, forward(params, cfg, toks()))).toBeGreaterThan(1e-3);
    });
  });

  it('gives clear errors for unknown hooks, bad replacements and bad tokens', () => {
    E.tidy(() => {
      expect(() => forward(params, cfg, toks(), { hooks: { 'blocks.2.hook_resid_pre': () => {} } })).toThrow(/unknown hook 'blocks.2.hook_resid_pre' for a 2-layer model/);
      expect(() => forward(params, cfg, toks(), { hooks: { hook_embed: (x) => E.slice(x, [0], [1]) } })).toThrow(/hook 'hook_embed' returned float32 \[1, 5, 32\]; a replacement must be float32 \[2, 5, 32\]/);
      expect(() => tokensTensor(cfg, [1, 24])).toThrow(/token id 24 at position 1 is out of the vocabulary \[0, 24\)/);
      expect(() => forward(params, cfg, E.tensor([[1, -1]], [1, 2], 'int32'))).toThrow(/token id -1/);
      expect(() => forward(params, cfg, E.tensor([[1, 2]], [1, 2], 'float32'))).toThrow(/tokens must be int32 \[batch, pos\], got float32/);
      expect(() => forward(params, cfg, tokensTensor(cfg, new Array(17).fill(1)))).toThrow(/sequence length 17 exceeds the model's context n_positions = 16/);
      expect(() => activationsAndGrads(params, cfg, toks(), ['hook_embedding'])).toThrow(/unknown hook 'hook_embedding'/);
    });
  });
});

describe('activationsAndGrads', () => {
  // float64 copies of the parameters make central differences precise enough to check 1e-6;
  // float64 lives on the reference backend (the oracle), whatever the default backend is.
  const previous = E.backend().name;
  let p64: Gpt2Params = {};
  beforeAll(() => {
    E.setBackend('reference');
    const loaded = loadHfDir('test/fixtures/gpt2-tiny-uor').params;
    p64 = Object.fromEntries(Object.entries(loaded).map(([k, v]) => [k, E.keep(E.cast(v, 'float64'))]));
    E.dispose(loaded);
  });
  afterAll(() => {
    E.dispose(p64);
    E.setBackend(previous);
  });
  const names = ['hook_embed', 'blocks.0.hook_attn_out', 'blocks.0.hook_resid_mid', 'blocks.1.hook_mlp_out', 'ln_final.hook_normalized'];

  it('matches central finite differences of the summed next-token loss', () => {
    E.tidy(() => {
      const tokens = toks();
      const { loss, acts, grads } = activationsAndGrads(p64, cfg, tokens, names);
      const clean = lmLoss(forward(p64, cfg, tokens), tokens, undefined, 'sum').item();
      expect(Math.abs(loss.item() - clean)).toBeLessThan(1e-12);
      const rng = new E.Rng(7);
      for (const n of names) {
        expect(acts[n]!.shape).toEqual([2, 5, cfg.n_embd]);
        const d = E.randn([2, 5, cfg.n_embd], rng, 1, 'float64');
        const h = 1e-5;
        const at = (s: number) => lmLoss(forward(p64, cfg, tokens, { hooks: { [n]: (x) => E.add(x, E.mul(d, s)) } }), tokens, undefined, 'sum').item();
        const fd = (at(h) - at(-h)) / (2 * h);
        const analytic = E.sum(E.mul(grads[n]!, d)).item();
        expect(Math.abs(fd - analytic), `${n}: fd ${fd} vs ${analytic}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
      }
    });
  });

  it('the next-token loss equals a plain host computation (sum and mean)', () => {
    E.tidy(() => {
      const rows = [[5, 12, 3, 8, 1], [7, 7, 2, 0, 23]];
      const tokens = tokensTensor(cfg, rows);
      const lg = forward(p64, cfg, tokens).toArray();
      let sum = 0;
      for (let b = 0; b < 2; b++) {
        for (let t = 0; t < 4; t++) {
          const row = Array.from(lg.slice((b * 5 + t) * 24, (b * 5 + t + 1) * 24));
          const m = Math.max(...row);
          const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
          sum += lse - row[rows[b]![t + 1]!]!;
        }
      }
      const { loss } = activationsAndGrads(p64, cfg, tokens, ['hook_embed']);
      expect(Math.abs(loss.item() - sum)).toBeLessThan(1e-4);
      const mean = activationsAndGrads(p64, cfg, tokens, ['hook_embed'], { reduction: 'mean' }).loss.item();
      expect(Math.abs(mean - sum / 8)).toBeLessThan(1e-5);
      expect(Math.abs(lmLoss(forward(p64, cfg, tokens), tokens, undefined, 'mean').item() - sum / 8)).toBeLessThan(1e-5);
    });
  });

  it('the last position gets no gradient from the next-token loss, earlier ones do', () => {
    E.tidy(() => {
      const { grads } = activationsAndGrads(p64, cfg, toks(), ['ln_final.hook_normalized']);
      const g = grads['ln_final.hook_normalized']!;
      const last = E.sum(E.abs(E.slice(g, [0, 4, 0], [2, 1, cfg.n_embd]))).item();
      const first = E.sum(E.abs(E.slice(g, [0, 0, 0], [2, 1, cfg.n_embd]))).item();
      expect(last).toBe(0);
      expect(first).toBeGreaterThan(0);
    });
  });

  it('works for a freshly initialised model and does not leak tensors', () => {
    const cfg2 = makeConfig({ vocab_size: 11, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2 });
    const p = initParams(cfg2, 3);
    const tokens = tokensTensor(cfg2, [[1, 2, 3, 4]]);
    const before = E.memory().tensors;
    const out = activationsAndGrads(p, cfg2, tokens, ['blocks.0.hook_resid_post']);
    expect(E.memory().tensors).toBe(before + 3); // loss, one activation, one gradient
    E.dispose(out);
    expect(E.memory().tensors).toBe(before);
  });
});
