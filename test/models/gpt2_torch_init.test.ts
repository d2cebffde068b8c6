/**
 * nanoGPT's initial weights: initParamsTorch after TorchGenerator(1337) against the state dict
 * nanoGPT's GPT class produced after torch.manual_seed(1337) (test/fixtures/torch-rng), with and
 * without biases, and the generator left where PyTorch's was (the next randint draws agree).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { makeConfig } from '../../models/gpt2/config.js';
import { initParamsTorch } from '../../models/gpt2/init_torch.js';

const fx = JSON.parse(readFileSync('test/fixtures/torch-rng/torch_rng.json', 'utf8'));

/** nanoGPT state-dict name and value → our name and layout (Linear [out, in] → Conv1D [in, out]). */
function ours(name: string, v: number[] | number[][]): [string, number[]] {
  const n = name.replace(/^transformer\./, '');
  if (n === 'lm_head.weight') return ['', []];
  const linear = /(c_attn|c_proj|c_fc)\.weight$/.test(n);
  if (!linear) return [n, (v as number[][]).flat ? (v as number[][]).flat() : (v as number[])];
  const w = v as number[][];
  const out: number[] = [];
  for (let i = 0; i < w[0]!.length; i++) for (let o = 0; o < w.length; o++) out.push(w[o]![i]!);
  return [n, out];
}

describe('initParamsTorch reproduces nanoGPT after torch.manual_seed', () => {
  for (const m of fx.nanogpt_init) {
    it(`bias ${m.config.bias}: every tensor, and the generator's position after`, () => {
      const cfg = makeConfig({
        vocab_size: m.config.vocab_size, n_positions: m.config.block_size, n_layer: m.config.n_layer,
        n_head: m.config.n_head, n_embd: m.config.n_embd, bias: m.config.bias, activation_function: 'gelu',
      });
      const gen = new E.TorchGenerator(m.seed);
      const params = initParamsTorch(cfg, gen);
      const want = new Map(Object.entries(m.state_dict).map(([k, v]) => ours(k, v as number[][])).filter(([k]) => k));
      expect(new Set(Object.keys(params))).toEqual(new Set(want.keys()));
      for (const [name, t] of Object.entries(params)) {
        const got = Array.from(t.toArray() as Float32Array);
        const w = want.get(name)!;
        expect(got.length, name).toBe(w.length);
        let worst = 0;
        for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(got[i]! - w[i]!));
        // Values of size ~0.02 agree to a few float32 ulps (PyTorch's float log/sin/cos against
        // ours in double; measured ≤ 2.5e-8); a draw out of place would differ by ~0.02.
        expect(worst, name).toBeLessThan(1e-7);
      }
      expect(gen.randint(3, 0, 1000)).toEqual(m.next_randint);
      E.dispose(params);
    });
  }
});
