/** `gsae steer`: steer with chosen latents of an SAE and measure probability addition (METHODS §4). */
import type { CommandModule } from 'yargs';
import * as E from '../../engine/index.js';
import { disposeSae } from '../../sae/model.js';
import { gpt2EvalModel, saeEvalDictionary } from '../../experiments/adapters.js';
import { meanCI, steer } from '../../experiments/eval/steering.js';
import { sequenceBatches, storeFor, storeMoments } from '../../experiments/runner.js';
import { openSaeContext } from './sae_context.js';

interface Args {
  sae: string;
  latents: number[];
  model?: string;
  hook?: string;
  c: number;
  'top-n': number;
  tokens: number;
  'seq-len': number;
  cache: string;
  json: boolean;
}

export const steerCommand: CommandModule<object, Args> = {
  command: 'steer',
  describe: "Add α·d_i at the SAE's hook for chosen latents; report their tokens and probability addition",
  builder: (y) =>
    y
      .option('sae', { type: 'string', demandOption: true, describe: 'SAE folder' })
      .option('latents', { type: 'number', array: true, demandOption: true, describe: 'latent indices' })
      .option('model', { type: 'string', describe: 'HF GPT-2 directory (default: the default model)' })
      .option('hook', { type: 'string', describe: "hook to steer at (default: the SAE's hook_name)" })
      .option('c', { type: 'number', default: 1, describe: 'α = c·E||x||' })
      .option('top-n', { type: 'number', default: 10, describe: 'associated tokens per latent' })
      .option('tokens', { type: 'number', default: 2048, describe: 'held-out context tokens' })
      .option('seq-len', { type: 'number', default: 64 })
      .option('cache', { type: 'string', default: '.cache' })
      .option('json', { type: 'boolean', default: false })
      .check((a) => {
        for (const k of ['tokens', 'seq-len'] as const) if (!Number.isInteger(a[k]) || a[k] < 2) throw new Error(`--${k} must be an integer >= 2, got ${a[k]}`);
        if (!Number.isInteger(a['top-n']) || a['top-n'] < 1) throw new Error(`--top-n must be an integer >= 1, got ${a['top-n']}`);
        if (!Number.isFinite(a.c)) throw new Error(`--c must be a finite number, got ${a.c}`);
        return true;
      }),
  handler: async (a) => {
    const log = (s: string) => process.stderr.write(`${s}\n`);
    const { model, sae, hook, corpus } = await openSaeContext(a, log);
    for (const l of a.latents) {
      if (!Number.isInteger(l) || l < 0 || l >= sae.spec.dSae) {
        disposeSae(sae);
        throw new Error(`--latents: ${l} is not a latent of ${a.sae} (d_sae = ${sae.spec.dSae})`);
      }
    }
    const evalStore = storeFor(model, { cacheDir: a.cache }, { hook, seqLen: a['seq-len'] }, 'val', corpus.val, a.tokens, log);
    const contexts = sequenceBatches(corpus.val, a['seq-len'], a.tokens, 16);
    const res = steer(gpt2EvalModel(model.params, model.cfg), saeEvalDictionary(sae), hook, contexts, a.latents, { c: a.c, topN: a['top-n'], meanNorm: storeMoments(evalStore).meanNorm });
    E.dispose(contexts);
    disposeSae(sae);
    const ci = meanCI(res.map((r) => r.probability_addition));
    if (a.json) {
      console.log(JSON.stringify({ latents: res.map((r) => ({ ...r, text: r.tokens.map((t) => model.tokenizer.decode([t])) })), mean: ci.mean, lo: ci.lo, hi: ci.hi }));
      return;
    }
    for (const r of res) console.log(`latent ${r.latent}: +${r.probability_addition.toPrecision(4)}  tokens ${r.tokens.map((t) => JSON.stringify(model.tokenizer.decode([t]))).join(' ')}`);
    console.log(`mean probability addition ${ci.mean.toPrecision(4)} (95% CI ${ci.lo.toPrecision(4)} .. ${ci.hi.toPrecision(4)}, n = ${ci.n})`);
  },
};
