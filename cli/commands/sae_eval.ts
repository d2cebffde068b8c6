/** `gsae sae eval`: every METHODS §3 metric (and steering) for one SAE on held-out tokens. */
import type { CommandModule } from 'yargs';
import * as E from '../../engine/index.js';
import { disposeSae } from '../../sae/model.js';
import { gpt2EvalModel, saeEvalDictionary } from '../../experiments/adapters.js';
import { downstreamBaseline, evaluate } from '../../experiments/eval/evaluate.js';
import { sequenceBatches, storeFor, storeMoments } from '../../experiments/runner.js';
import { openSaeContext } from './sae_context.js';

interface Args {
  sae: string;
  model?: string;
  hook?: string;
  tokens: number;
  'seq-len': number;
  'steer-latents': number;
  c: number;
  cache: string;
  seed: number;
  json: boolean;
}

export const saeEvalCommand: CommandModule<object, Args> = {
  command: 'eval',
  describe: 'Evaluate a SAELens-format SAE on held-out tokens (FVU, L0, CE spliced/zero/mean, KL, γ, steering)',
  builder: (y) =>
    y
      .option('sae', { type: 'string', demandOption: true, describe: 'SAE folder (cfg.json + sae_weights.safetensors)' })
      .option('model', { type: 'string', describe: 'HF GPT-2 directory (default: the default model)' })
      .option('hook', { type: 'string', describe: "hook to splice at (default: the SAE's hook_name)" })
      .option('tokens', { type: 'number', default: 8192, describe: 'held-out tokens (validation split)' })
      .option('seq-len', { type: 'number', default: 64 })
      .option('steer-latents', { type: 'number', default: 24, describe: 'latents sampled for steering (0: skip)' })
      .option('c', { type: 'number', default: 1, describe: 'steering strength in units of E||x||' })
      .option('cache', { type: 'string', default: '.cache' })
      .option('seed', { type: 'number', default: 0 })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
      .check((a) => {
        for (const k of ['tokens', 'seq-len'] as const) if (!Number.isInteger(a[k]) || a[k] < 2) throw new Error(`--${k} must be an integer >= 2, got ${a[k]}`);
        if (!Number.isInteger(a['steer-latents']) || a['steer-latents'] < 0) throw new Error(`--steer-latents must be an integer >= 0, got ${a['steer-latents']}`);
        if (!Number.isFinite(a.c)) throw new Error(`--c must be a finite number, got ${a.c}`);
        if (!Number.isSafeInteger(a.seed)) throw new Error(`--seed must be an integer, got ${a.seed}`);
        return true;
      }),
  handler: async (a) => {
    const log = (s: string) => process.stderr.write(`${s}\n`);
    const { model, sae, hook, corpus } = await openSaeContext(a, log);
    const cfg = { hook, seqLen: a['seq-len'] };
    const evalStore = storeFor(model, { cacheDir: a.cache }, cfg, 'val', corpus.val, a.tokens, log);
    const trainStore = storeFor(model, { cacheDir: a.cache }, cfg, 'train', corpus.train, a.tokens, log);
    const evalModel = gpt2EvalModel(model.params, model.cfg);
    const sequences = sequenceBatches(corpus.val, a['seq-len'], a.tokens, 16);
    const meanAct = E.keep(E.tensor(storeMoments(trainStore).mean));
    const res = evaluate(
      {
        model: evalModel, hook, evalStore, sequences, baseline: downstreamBaseline(evalModel, hook, sequences, meanAct),
        meanNorm: storeMoments(evalStore).meanNorm, steering: { latents: a['steer-latents'], c: a.c, topN: 10, contexts: 2 }, seed: a.seed,
      },
      saeEvalDictionary(sae),
    );
    disposeSae(sae);
    const flat = { ...res.reconstruction, ...res.downstream, decoder_max_cos: res.decoder_max_cos, steering: { mean: res.steering.mean, lo: res.steering.lo, hi: res.steering.hi, n: res.steering.n } };
    if (a.json) console.log(JSON.stringify(flat));
    else for (const [k, v] of Object.entries(flat)) console.log(`${k.padEnd(24)} ${typeof v === 'number' ? v.toPrecision(6) : JSON.stringify(v)}`);
  },
};
