/** `gsae cache`: build (or resume building) an activation-and-gradient store for one hook. */
import { existsSync, statSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { activationsAndGrads } from '../../models/gpt2/model.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { buildStoreInterruptible } from '../../sae/store/build.js';
import { InterruptedError, watchInterrupt } from '../interrupt.js';
import { checkTokenizer } from './sae_context.js';
import { CORPUS, defaultModel } from '../../experiments/default_model.js';
import { Progress } from '../../engine/io/progress.js';

interface Args {
  out: string;
  hook: string;
  model?: string;
  data: string;
  split: 'train' | 'val';
  tokens: number;
  'seq-len': number;
  'batch-seqs': number;
  'seqs-per-shard': number;
  grad: boolean;
  reduction: 'sum' | 'mean';
  cache: string;
}

export const cacheCommand: CommandModule<object, Args> = {
  command: 'cache',
  describe: 'Capture activations and loss gradients at a hook into a sharded on-disk store (resumable)',
  builder: (y) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'store directory' })
      .option('hook', { type: 'string', default: 'blocks.2.hook_resid_pre', describe: 'TransformerLens hook name' })
      .option('model', { type: 'string', describe: 'HF GPT-2 directory (default: the default model)' })
      .option('data', { type: 'string', default: CORPUS, describe: 'UTF-8 corpus' })
      .option('split', { type: 'string', choices: ['train', 'val'] as const, default: 'train' as const, describe: 'first 90% (train) or last 10% (val) of the corpus' })
      .option('tokens', { type: 'number', default: 100_000, describe: 'tokens to capture from the start of the split' })
      .option('seq-len', { type: 'number', default: 64, describe: 'sequence length' })
      .option('batch-seqs', { type: 'number', default: 16, describe: 'sequences per model batch' })
      .option('seqs-per-shard', { type: 'number', default: 256, describe: 'sequences per shard file' })
      .option('grad', { type: 'boolean', default: true, describe: 'also store dL/dx (needed by g-SAEs)' })
      .option('reduction', { type: 'string', choices: ['sum', 'mean'] as const, default: 'sum' as const, describe: 'L: sum (METHODS default) or mean of next-token CE' })
      .option('cache', { type: 'string', default: '.cache', describe: 'where a default model is trained/cached if none is given' })
      .check((a) => {
        for (const k of ['tokens', 'seq-len', 'batch-seqs', 'seqs-per-shard'] as const) {
          if (!Number.isInteger(a[k]) || a[k] < 1) throw new Error(`--${k} must be a positive integer, got ${a[k]}`);
        }
        return true;
      }),
  handler: async (a) => {
    if (existsSync(a.out) && !statSync(a.out).isDirectory()) throw new Error(`--out ${a.out} is a file; give a folder for the store`);
    const model = checkTokenizer(await defaultModel({ model: a.model, cacheDir: a.cache, log: (s) => process.stderr.write(`${s}\n`) }));
    const corpus = tokenizeCorpus(a.data, 'gpt2-restricted', 0.9, model.tokenizer);
    const tokens = a.split === 'train' ? corpus.train : corpus.val;
    const total = Math.floor(Math.min(a.tokens, tokens.length) / a['seq-len']);
    const bar = new Progress({ total, label: `cache ${a.hook}` });
    const interrupt = watchInterrupt((s) => bar.log(s), 'stopping after this shard');
    const m = await buildStoreInterruptible({
      dir: a.out, hook: a.hook, tokens, source: `${a.data}#${a.split}`, range: [0, Math.min(a.tokens, tokens.length)],
      seqLen: a['seq-len'], batchSeqs: a['batch-seqs'], seqsPerShard: a['seqs-per-shard'], withGrad: a.grad, gradReduction: a.reduction,
      modelId: model.id,
      capture: (toks) => {
        const r = activationsAndGrads(model.params, model.cfg, toks, [a.hook], { reduction: a.reduction, checkTokens: false });
        return { acts: r.acts[a.hook]!, grads: a.grad ? r.grads[a.hook]! : undefined };
      },
      onShard: (done) => bar.update({ done, tokensPerItem: a['seq-len'] }),
    }, interrupt.requested).finally(() => interrupt.dispose());
    if (!m) throw new InterruptedError(`interrupted; every finished shard is in ${a.out}/manifest.json: run the same command again to continue`);
    bar.finish(`${m.shards.length} shards, ${m.shards.reduce((s, x) => s + x.rows, 0)} rows × ${m.d} in ${a.out}`);
  },
};
