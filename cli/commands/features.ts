/** `gsae features <sae-dir> --store <held-out store>`: what each latent means (experiments/features). */
import type { CommandModule } from 'yargs';
import { defaultModel } from '../../experiments/default_model.js';
import { FEATURE_DEFAULTS, runFeatures } from '../../experiments/features/run.js';
import { InterruptedError, watchInterrupt } from '../interrupt.js';

interface Args {
  sae: string;
  store: string;
  model?: string;
  cache: string;
  'top-contexts': number;
  'context-window': number;
  'quantile-sections': number;
  'contexts-per-quantile': number;
  'logit-tokens': number;
  neighbours: number;
  'block-size': number;
  'batch-seqs': number;
  'checkpoint-every': number;
  'steering-contexts': number;
  'steering-len': number;
  'steering-c': number;
  seed: number;
  progress: boolean;
}

export const featuresCommand: CommandModule<object, Args> = {
  command: 'features <sae>',
  describe: 'Latent dashboards of one SAE from a held-out store: densities, histograms, top and interval contexts, logit effects, neighbours, steering (resumable)',
  builder: (y) =>
    y
      .positional('sae', { type: 'string', demandOption: true, describe: 'SAE folder (cfg.json + sae_weights.safetensors); output goes to <sae>/features/' })
      .option('store', { type: 'string', demandOption: true, describe: "held-out activation store (gsae cache), disjoint from the SAE's training tokens" })
      .option('model', { type: 'string', describe: 'HF GPT-2 directory the store was captured from (default: the default model)' })
      .option('cache', { type: 'string', default: '.cache', describe: 'where a default model is cached' })
      .option('top-contexts', { type: 'number', default: FEATURE_DEFAULTS.topContexts, describe: 'top-activating contexts per latent' })
      .option('context-window', { type: 'number', default: FEATURE_DEFAULTS.contextWindow, describe: 'N: tokens shown either side of a context position (±N)' })
      .option('quantile-sections', { type: 'number', default: FEATURE_DEFAULTS.quantileSections, describe: 'equal-width activation intervals per latent (a power of two)' })
      .option('contexts-per-quantile', { type: 'number', default: FEATURE_DEFAULTS.contextsPerQuantile, describe: 'contexts sampled per interval' })
      .option('logit-tokens', { type: 'number', default: FEATURE_DEFAULTS.logitTokens, describe: 'promoted and suppressed tokens per latent' })
      .option('neighbours', { type: 'number', default: FEATURE_DEFAULTS.neighbours, describe: 'decoder nearest neighbours per latent' })
      .option('block-size', { type: 'number', default: FEATURE_DEFAULTS.blockSize, describe: 'latents per output file' })
      .option('batch-seqs', { type: 'number', default: FEATURE_DEFAULTS.batchSeqs, describe: 'store sequences per encode batch' })
      .option('checkpoint-every', { type: 'number', default: FEATURE_DEFAULTS.checkpointEvery, describe: 'sequences between checkpoints' })
      .option('steering-contexts', { type: 'number', default: FEATURE_DEFAULTS.steeringContexts, describe: 'held-out sequences for the per-latent steering effect (0: skip)' })
      .option('steering-len', { type: 'number', default: FEATURE_DEFAULTS.steeringLen, describe: 'tokens per steering context' })
      .option('steering-c', { type: 'number', default: FEATURE_DEFAULTS.steeringC, describe: 'steering strength c (α = c·E||x||)' })
      .option('seed', { type: 'number', default: FEATURE_DEFAULTS.seed, describe: 'seed of the interval samples and the steering contexts' })
      .option('progress', { type: 'boolean', default: true, describe: 'progress bar on stderr' }),
  handler: async (a) => {
    const log = (s: string) => process.stderr.write(`${s}\n`);
    const model = await defaultModel({ model: a.model, cacheDir: a.cache, log });
    const interrupt = watchInterrupt(log, 'stopping after this batch and writing the checkpoint');
    let index;
    try {
      index = await runFeatures({
      saeDir: a.sae, storeDir: a.store, model, topContexts: a['top-contexts'], contextWindow: a['context-window'],
      quantileSections: a['quantile-sections'], contextsPerQuantile: a['contexts-per-quantile'], logitTokens: a['logit-tokens'],
      neighbours: a.neighbours, blockSize: a['block-size'], batchSeqs: a['batch-seqs'], checkpointEvery: a['checkpoint-every'],
      steeringContexts: a['steering-contexts'], steeringLen: a['steering-len'], steeringC: a['steering-c'], seed: a.seed, progress: a.progress, log,
      shouldStop: interrupt.requested,
      });
    } finally {
      interrupt.dispose();
    }
    if (!index) throw new InterruptedError(`interrupted; the pass state is in ${a.sae}/features/state.msgpack: run the same command to resume`);
    console.log(
      `features of ${index.sae.dSae} latents over ${index.tokens} held-out tokens in ${index.timing.seconds.toFixed(1)} s ` +
        `(${Math.round(index.timing.tokensPerSecond)} tokens/s; ${index.deadLatents} never fired) → ${a.sae}/features/`,
    );
  },
};
