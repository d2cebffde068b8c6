/**
 * `gsae features` benchmarks.
 *
 * 1. Workload `features.pass` (registry, --quick set): the streamed pass's per-batch work — SAE
 *    encode of 16 sequences × 64 tokens on the engine, read back, and the host accumulators (density,
 *    doubling histograms, top-K contexts, interval reservoirs) — for a TopK SAE d 128, m 1024, k 32
 *    on random activations. Tokens/s of the pass alone (no model forward: the store holds x).
 *
 * 2. The measurement, run as a script on a real SAE (the quick preset's d_sae 1024 ones):
 *      node dist/experiments/bench/features.js --sae runs/gsae-vs-topk-quick/runs/topk-k32-s0/sae [--tokens 102400]
 *    builds (once) a held-out store of the train split's tokens [120000, 120000 + tokens) — after
 *    the 120k tokens the quick preset trains on, so disjoint from them — at the SAE's hook with
 *    gradients, times one plain forward of the model over the same tokens (batches of 16 × 64,
 *    logits only), then runs `gsae features` on it (defaults; fresh output) and prints one JSON line
 *    with both times and their ratio (target ≤ 2).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { registerWorkload } from './registry.js';
import { FeatureAccumulators } from '../features/accumulators.js';
import { encodeSae, makeSae, disposeSae } from '../../sae/model.js';
import type { SaeSpec } from '../../sae/saelens.js';

const W = { d: 128, m: 1024, k: 32, seqs: 16, seqLen: 64 };

registerWorkload({
  name: 'features.pass',
  unit: 'tokens/s',
  shape: { d: W.d, m: W.m, k: W.k, batch: W.seqs * W.seqLen },
  workPerStep: W.seqs * W.seqLen,
  flopPerStep: 2 * W.seqs * W.seqLen * W.d * W.m,
  quick: true,
  setup() {
    const rng = new E.Rng(0);
    const rows = W.seqs * W.seqLen;
    const rnd = (n: number, s = 1) => Float32Array.from({ length: n }, () => rng.normal() * s);
    const spec: SaeSpec = {
      kind: 'topk', architecture: 'topk', dIn: W.d, dSae: W.m, k: W.k, applyBDecToInput: true, normalizeActivations: 'none', modelName: 'bench',
      hookName: 'bench', hookLayer: 0, hookHeadIndex: null, contextSize: W.seqLen, datasetPath: '', prependBos: true,
    };
    const sae = makeSae(spec, {
      W_enc: { shape: [W.d, W.m], data: rnd(W.d * W.m, 1 / Math.sqrt(W.d)) }, b_enc: { shape: [W.m], data: new Float32Array(W.m) },
      W_dec: { shape: [W.m, W.d], data: rnd(W.m * W.d, 1 / Math.sqrt(W.d)) }, b_dec: { shape: [W.d], data: new Float32Array(W.d) },
    });
    const x = rnd(rows * W.d);
    const acc = new FeatureAccumulators({ latents: W.m, topContexts: 20, contextWindow: 8, intervals: 16, contextsPerInterval: 5, withAttr: false, firedThreshold: 0, seed: 0 });
    let firstSeq = 0;
    return {
      step: () => {
        const f = E.tidy(() => encodeSae(sae, E.tensor(x, [rows, W.d])).toArray() as Float32Array);
        acc.addBatch({ firstSeq, seqLen: W.seqLen, m: W.m, f, attr: null }, x, W.d);
        firstSeq += W.seqs;
      },
      dispose: () => disposeSae(sae),
    };
  },
});

async function measureCommand(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const saeDir = arg('sae');
  if (!saeDir) throw new Error('usage: node dist/experiments/bench/features.js --sae <sae-dir> [--tokens 102400] [--start 120000] [--store DIR]');
  const nTokens = Number(arg('tokens') ?? 102_400);
  const start = Number(arg('start') ?? 120_000);
  const { defaultModel, CORPUS } = await import('../default_model.js');
  const { tokenizeCorpus } = await import('../../models/gpt2/data.js');
  const { activationsAndGrads, forward } = await import('../../models/gpt2/model.js');
  const { buildStore } = await import('../../sae/store/build.js');
  const { readSaelens } = await import('../../sae/saelens.js');
  const { runFeatures } = await import('../features/run.js');
  const { FEATURES_DIR } = await import('../features/schema.js');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const model = await defaultModel({ cacheDir: '.cache', log });
  const hook = readSaelens(saeDir).spec.hookName;
  const seqLen = 64;
  const corpus = tokenizeCorpus(CORPUS, 'gpt2-restricted', 0.9, model.tokenizer);
  const store = arg('store') ?? join('.cache', 'stores', model.id, hook, `train-${seqLen}-heldout-${start}-${start + nTokens}`);
  if (!existsSync(join(store, 'manifest.json'))) {
    log(`building the held-out store ${store} (train split tokens [${start}, ${start + nTokens}))`);
    buildStore({
      dir: store, hook, tokens: corpus.train, source: `${CORPUS}#train`, range: [start, start + nTokens], seqLen, batchSeqs: 16, seqsPerShard: 256,
      withGrad: true, gradReduction: 'sum', modelId: model.id,
      capture: (toks) => {
        const r = activationsAndGrads(model.params, model.cfg, toks, [hook], { reduction: 'sum', checkTokens: false });
        return { acts: r.acts[hook]!, grads: r.grads[hook]! };
      },
    });
  }
  const tokens = corpus.train.slice(start, start + Math.floor(nTokens / seqLen) * seqLen);
  const t0 = performance.now();
  for (let s = 0; s < tokens.length / seqLen; s += 16) {
    const n = Math.min(16, tokens.length / seqLen - s);
    E.tidy(() => void forward(model.params, model.cfg, E.tensor(tokens.slice(s * seqLen, (s + n) * seqLen), [n, seqLen], 'int32'), { checkTokens: false }).toArray());
  }
  const forwardSeconds = (performance.now() - t0) / 1000;
  log(`plain forward over ${tokens.length} tokens: ${forwardSeconds.toFixed(1)} s`);
  rmSync(join(saeDir, FEATURES_DIR), { recursive: true, force: true });
  const t1 = performance.now();
  const index = (await runFeatures({ saeDir, storeDir: store, model, progress: true, log }))!;
  const featuresSeconds = (performance.now() - t1) / 1000;
  console.log(JSON.stringify({
    sae: saeDir, store, backend: E.backend().name, tokens: index.tokens, d_sae: index.sae.dSae,
    features_seconds: featuresSeconds, features_tokens_per_second: index.tokens / featuresSeconds, pass_seconds: index.timing.passSeconds,
    forward_seconds: forwardSeconds, forward_tokens_per_second: tokens.length / forwardSeconds, ratio: featuresSeconds / forwardSeconds,
    steering_contexts: index.steeringOptions?.contexts.length ?? 0,
  }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  measureCommand(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`features bench: ${(e as Error).message}\n`);
    process.exit(2);
  });
}
