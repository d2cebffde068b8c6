/** Steered sampling (`gsae lm sample --steer`, experiments/features/steer_hook.ts). */
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { runCli } from '../cli_helpers.js';
import { lmCommand } from '../../cli/commands/lm.js';
import { TINY_MODEL } from '../../experiments/default_model.js';
import { generate } from '../../models/gpt2/sample.js';
import { forward } from '../../models/gpt2/model.js';
import { logitEffects } from '../../experiments/features/logit_effects.js';
import { steeringDeltas, steeringHooks } from '../../experiments/features/steer_hook.js';
import { parseSteerFlag, resolveSteers, steeredSample } from '../../experiments/features/steer_sample.js';
import { gpt2EvalModel } from '../../experiments/adapters.js';
import { HOOK, randomSae, tinyModel, tmp } from './helpers.js';

const dir = tmp();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const saeDir = randomSae(join(dir, 'sae'), { kind: 'topk', dIn: 128, dSae: 16, k: 2, seed: 4 });

describe('steered sampling', () => {
  const { model } = tinyModel();
  const prompt = model.tokenizer.encode('ROMEO:\nWhat light');

  it('coefficient 0 is plain sampling bit for bit (ids and logits), with the hook in place', () => {
    const { steers, dispose } = resolveSteers([{ saeDir, latent: 3, coef: 0 }], model.params, model.cfg, prompt);
    const r = steeredSample(model.params, model.cfg, prompt, steers, { maxNewTokens: 12, temperature: 1, topK: 50, seed: 7 });
    expect(r.steered).toEqual(r.plain);
    expect(r.plain).toEqual(generate(model.params, model.cfg, prompt, { maxNewTokens: 12, temperature: 1, topK: 50, rng: new E.Rng(7) }));
    for (const t of r.change.clean) expect(t.steered).toBe(t.clean);
    E.tidy(() => {
      const toks = E.tensor(Int32Array.from(prompt), [1, prompt.length], 'int32');
      const hooks = steeringHooks(steeringDeltas(steers));
      expect(Array.from(forward(model.params, model.cfg, toks, { hooks }).toArray())).toEqual(Array.from(forward(model.params, model.cfg, toks).toArray()));
    });
    dispose();
  });

  it("a large coefficient raises the latent's promoted tokens' probability, and changes the continuation", () => {
    const { steers, dispose } = resolveSteers([{ saeDir, latent: 5, coef: 20 }], model.params, model.cfg, prompt);
    expect(steers[0]!.normSource).toBe('prompt');
    const promoted = E.tidy(() => Array.from(logitEffects(steers[0]!.decoderRows, gpt2EvalModel(model.params, model.cfg).unembedWithGain(), 10).promoted[5]!.ids));
    // Σ_{t∈T_i} p(t) at the last prompt position, over the whole distribution
    const mass = (hooked: boolean) =>
      E.tidy(() => {
        const toks = E.tensor(Int32Array.from(prompt), [1, prompt.length], 'int32');
        const hooks = hooked ? steeringHooks(steeringDeltas(steers)) : undefined;
        const p = E.softmax(forward(model.params, model.cfg, toks, { hooks })).toArray();
        const V = model.cfg.vocab_size;
        return promoted.reduce((s, t) => s + p[(prompt.length - 1) * V + t]!, 0);
      });
    const r = steeredSample(model.params, model.cfg, prompt, steers, { maxNewTokens: 12, temperature: 1, seed: 7 });
    const [steered, clean] = [mass(true), mass(false)];
    dispose();
    // a random direction two layers before the unembedding: the later blocks dilute it, but the
    // promoted tokens' mass still grows many times over (measured: ×85 at c = 20)
    expect(steered).toBeGreaterThan(10 * clean);
    expect(steered - clean).toBeGreaterThan(1e-3);
    expect(r.steered).not.toEqual(r.plain);
  });

  it('gsae lm sample --steer prints both continuations from the same seed and the next-token change', async () => {
    const out = await runCli(lmCommand, ['lm', 'sample', '--model', TINY_MODEL, '--prompt', 'ROMEO:', '--max-new-tokens', '6', '--seed', '3', '--steer', `${saeDir}:2:0`, '--json']);
    const j = JSON.parse(out.join('')) as { plain: { ids: number[] }; steered: { ids: number[] }; steers: { latent: number; meanNormFrom: string }[]; next_token: { clean: unknown[] } };
    expect(j.steered.ids).toEqual(j.plain.ids);
    expect(j.plain.ids).toHaveLength(6);
    expect(j.steers).toMatchObject([{ latent: 2, meanNormFrom: 'prompt' }]);
    expect(j.next_token.clean).toHaveLength(10);
    const text = (await runCli(lmCommand, ['lm', 'sample', '--model', TINY_MODEL, '--prompt', 'ROMEO:', '--max-new-tokens', '4', '--steer', `${saeDir}:2:8`, '--steer', `${saeDir}:3:-2`])).join('\n');
    expect(text).toMatch(/--- plain \(seed 1337\)/);
    expect(text).toMatch(/--- steered \(seed 1337\)/);
    expect(text).toMatch(/latent 3 at blocks\.2\.hook_resid_pre: c = -2/);
    expect(text).toMatch(/--- next token after the prompt, top 10 clean/);
  });

  it('bad --steer values are one clear error each', async () => {
    expect(() => parseSteerFlag('runs/x')).toThrow(/expected <sae-dir>:<latent>:<coef>/);
    expect(() => parseSteerFlag('runs/x:a:1')).toThrow(/latent "a" is not a non-negative integer/);
    expect(() => parseSteerFlag('runs/x:1:')).toThrow(/coefficient "" is not a number/);
    expect(parseSteerFlag('C:/dir:with:colons:12:-0.5')).toEqual({ saeDir: 'C:/dir:with:colons', latent: 12, coef: -0.5 });
    await expect(runCli(lmCommand, ['lm', 'sample', '--model', TINY_MODEL, '--max-new-tokens', '2', '--steer', `${saeDir}:99:1`])).rejects.toThrow(/latent 99 is not a latent of .* \(d_sae = 16\)/);
    await expect(runCli(lmCommand, ['lm', 'sample', '--model', TINY_MODEL, '--max-new-tokens', '2', '--steer', `${join(dir, 'none')}:1:1`])).rejects.toThrow(/SAE directory .* does not exist/);
    expect(HOOK).toBe('blocks.2.hook_resid_pre');
  });
});
