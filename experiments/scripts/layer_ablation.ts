/**
 * What each layer of a model carries: held-out next-token CE of the clean model and with the
 * residual stream entering block l (`blocks.l.hook_resid_pre`, the suites' hook family) replaced
 * by zero or by its training-split mean, for every l. CE_zero − CE_clean and CE_mean − CE_clean
 * are the ablation costs an SAE at that hook is measured against (loss recovered, METHODS §3).
 *
 *   npm run build
 *   node dist/experiments/scripts/layer_ablation.js [--model DIR] [--tokens 16384] [--seq-len 64] [--out FILE.json]
 *
 * Without --model it measures the default model (experiments/default_model.ts).
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as E from '../../engine/index.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { runWithCache } from '../../models/gpt2/model.js';
import { gpt2EvalModel } from '../adapters.js';
import { defaultModel } from '../default_model.js';
import { downstreamBaseline } from '../eval/evaluate.js';
import { sequenceBatches } from '../runner.js';

export interface LayerAblation { hook: string; ce_clean: number; ce_zero: number; ce_mean: number; zero_cost: number; mean_cost: number }

async function main(argv: string[]): Promise<void> {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (flag: string, d: number) => {
    const v = get(flag);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} expects a positive integer, got '${v}'`);
    return n;
  };
  const nTokens = num('--tokens', 16_384);
  const T = num('--seq-len', 64);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const model = await defaultModel({ model: get('--model'), cacheDir: '.cache', log });
  const corpus = tokenizeCorpus(model.corpus, 'gpt2-restricted', 0.9, model.tokenizer);
  const hooks = Array.from({ length: model.cfg.n_layer }, (_, l) => `blocks.${l}.hook_resid_pre`);
  // training-split means at every hook, over the same number of training tokens
  const sums = hooks.map(() => new Float64Array(model.cfg.n_embd));
  let rows = 0;
  for (const toks of sequenceBatches(corpus.train, T, nTokens, 16)) {
    E.tidy(() => {
      const r = runWithCache(model.params, model.cfg, toks, hooks, { checkTokens: false });
      hooks.forEach((h, i) => {
        const a = r.acts[h]!.toArray() as Float32Array;
        for (let j = 0; j < a.length; j++) sums[i]![j % model.cfg.n_embd]! += a[j]!;
      });
    });
    rows += toks.shape[0]! * T;
    E.dispose(toks);
  }
  const evalModel = gpt2EvalModel(model.params, model.cfg);
  const sequences = sequenceBatches(corpus.val, T, nTokens, 16);
  const out: LayerAblation[] = hooks.map((hook, i) => {
    const mean = E.keep(E.tensor(Float32Array.from(sums[i]!, (v) => v / rows)));
    const b = downstreamBaseline(evalModel, hook, sequences, mean);
    E.dispose(mean);
    const r = { hook, ...b, zero_cost: b.ce_zero - b.ce_clean, mean_cost: b.ce_mean - b.ce_clean };
    log(`${hook}: clean ${r.ce_clean.toFixed(4)}, zero-ablated +${r.zero_cost.toFixed(4)}, mean-ablated +${r.mean_cost.toFixed(4)}`);
    return r;
  });
  E.dispose(sequences);
  const res = { model: model.id, dir: model.dir, corpus: model.corpus, eval_tokens: Math.min(nTokens, corpus.val.length), seq_len: T, layers: out };
  const file = get('--out');
  if (file) writeFileSync(file, JSON.stringify(res, null, 2) + '\n');
  console.log(`| hook | CE clean | zero-ablation cost | mean-ablation cost |\n|---|---|---|---|`);
  for (const r of out) console.log(`| ${r.hook} | ${r.ce_clean.toFixed(4)} | ${r.zero_cost.toFixed(4)} | ${r.mean_cost.toFixed(4)} |`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
