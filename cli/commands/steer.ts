/** `gsae steer`: steer with chosen latents of an SAE and measure probability addition (METHODS §4). */
import type { CommandModule } from 'yargs';
import * as E from '../../engine/index.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { loadSae, disposeSae } from '../../sae/model.js';
import { CORPUS, defaultModel } from '../../experiments/default_model.js';
import { gpt2EvalModel, saeEvalDictionary } from '../../experiments/adapters.js';
import { meanCI, steer } from '../../experiments/eval/steering.js';
import { sequenceBatches, storeFor, storeMoments } from '../../experiments/runner.js';

interface Args {
  sae: string;
  latents: number[];
  model?: string;
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
      .option('c', { type: 'number', default: 1, describe: 'α = c·E||x||' })
      .option('top-n', { type: 'number', default: 10, describe: 'associated tokens per latent' })
      .option('tokens', { type: 'number', default: 2048, describe: 'held-out context tokens' })
      .option('seq-len', { type: 'number', default: 64 })
      .option('cache', { type: 'string', default: '.cache' })
      .option('json', { type: 'boolean', default: false }),
  handler: async (a) => {
    const model = await defaultModel({ model: a.model, cacheDir: a.cache, log: (s) => process.stderr.write(`${s}\n`) });
    const sae = loadSae(a.sae);
    for (const l of a.latents) if (!Number.isInteger(l) || l < 0 || l >= sae.spec.dSae) throw new Error(`--latents: ${l} is not a latent of ${a.sae} (d_sae = ${sae.spec.dSae})`);
    if (sae.spec.dIn !== model.cfg.n_embd) throw new Error(`SAE d_in ${sae.spec.dIn} does not match the model's d_model ${model.cfg.n_embd}`);
    const hook = sae.spec.hookName;
    const corpus = tokenizeCorpus(CORPUS, 'gpt2-restricted', 0.9, model.tokenizer);
    const evalStore = storeFor(model, { cacheDir: a.cache }, { hook, seqLen: a['seq-len'] }, 'val', corpus.val, a.tokens, (s) => process.stderr.write(`${s}\n`));
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
