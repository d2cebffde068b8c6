/**
 * `gsae features` end to end: open and check the inputs, one streamed pass over the held-out
 * store (SAE encode only — the store already holds x and g, so the model never runs in the pass),
 * checkpointing the accumulators every `checkpointEvery` sequences, then the per-latent parts
 * that need no data (logit effects, decoder neighbours), the optional steering effect on a seeded
 * sample of contexts, and the files of schema.ts under <sae-dir>/features/.
 *
 * Batches are fixed groups of `batchSeqs` sequences inside each shard (a function of the store
 * alone) and checkpoints fall between batches, so a resumed pass sees the very same batches and
 * ends with the uninterrupted pass's state exactly. The steering phase is not checkpointed: an
 * interruption there repeats only the steering after the (saved) pass.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as E from '../../engine/index.js';
import { Progress } from '../../engine/io/progress.js';
import { preActs } from '../../sae/common.js';
import { encodeSae } from '../../sae/model.js';
import { readShard } from '../../sae/store/shard.js';
import { SAE_CFG_FILENAME, SAE_WEIGHTS_FILENAME } from '../../sae/saelens.js';
import { gpt2EvalModel, saeEvalDictionary } from '../adapters.js';
import type { LoadedModel } from '../default_model.js';
import { FeatureAccumulators } from './accumulators.js';
import { densityHistogram } from './histogram.js';
import { openFeatureInputs, type FeatureInputs } from './inputs.js';
import { logitEffects } from './logit_effects.js';
import { decoderNeighbours } from './neighbours.js';
import { FEATURES_DIR, FEATURES_FORMAT, FEATURES_VERSION, type FeaturesIndex } from './schema.js';
import { loadState, saveState, STATE_FILE } from './state.js';
import { steeringEffects } from './steering_effect.js';
import { writeFeatures } from './writer.js';

export interface FeaturesOptions {
  saeDir: string;
  storeDir: string;
  model: LoadedModel;
  topContexts?: number;
  contextWindow?: number;
  quantileSections?: number;
  contextsPerQuantile?: number;
  logitTokens?: number;
  neighbours?: number;
  blockSize?: number;
  /** sequences per SAE-encode batch (default 16) */
  batchSeqs?: number;
  /** sequences between checkpoints (default 256) */
  checkpointEvery?: number;
  seed?: number;
  /** held-out sequences for the steering effect (0: skip, steering null) */
  steeringContexts?: number;
  /** tokens per steering context (default 32, cut from the start of each sampled sequence) */
  steeringLen?: number;
  steeringC?: number;
  steeringTopN?: number;
  /** test hook: stop (after a checkpoint) once this many sequences are done, as an interruption would */
  stopAfterSeqs?: number;
  /** polled after every batch (the pass yields to the event loop there, so a SIGINT handler can set it): true stops after a checkpoint */
  shouldStop?: () => boolean;
  progress?: boolean;
  log?: (s: string) => void;
}

export const FEATURE_DEFAULTS = {
  topContexts: 20, contextWindow: 8, quantileSections: 16, contextsPerQuantile: 5, logitTokens: 10, neighbours: 10,
  blockSize: 128, batchSeqs: 16, checkpointEvery: 256, seed: 0, steeringContexts: 2, steeringLen: 32, steeringC: 1, steeringTopN: 10,
} as const;

const SUMMARY_TOKENS = 5;

function digest(saeDir: string): string {
  const h = createHash('sha256');
  for (const f of [SAE_CFG_FILENAME, SAE_WEIGHTS_FILENAME]) h.update(readFileSync(join(saeDir, f)));
  return h.digest('hex').slice(0, 16);
}

/** Runs (or resumes) the pass; returns the index, or null when stopped early (stopAfterSeqs, shouldStop). */
export async function runFeatures(opts: FeaturesOptions): Promise<FeaturesIndex | null> {
  const o = { ...FEATURE_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<Omit<FeaturesOptions, 'stopAfterSeqs' | 'shouldStop' | 'log'>> & FeaturesOptions;
  const log = opts.log ?? (() => {});
  for (const k of ['topContexts', 'contextWindow', 'contextsPerQuantile', 'logitTokens', 'neighbours', 'steeringContexts'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 0) throw new Error(`features: ${k} must be a non-negative integer, got ${o[k]}`);
  }
  for (const k of ['blockSize', 'batchSeqs', 'checkpointEvery', 'steeringLen', 'steeringTopN'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`features: ${k} must be a positive integer, got ${o[k]}`);
  }
  const t0 = Date.now();
  const inputs = openFeatureInputs(opts.saeDir, opts.storeDir, opts.model);
  try {
    log(`features: ${inputs.heldOut.checked ? 'held-out check passed' : 'held-out check not possible'}: ${inputs.heldOut.note}`);
    return await pass(o, inputs, t0, log);
  } finally {
    E.dispose(inputs.sae.params);
  }
}

async function pass(o: Required<Omit<FeaturesOptions, 'stopAfterSeqs' | 'shouldStop' | 'log'>> & FeaturesOptions, inp: FeatureInputs, t0: number, log: (s: string) => void): Promise<FeaturesIndex | null> {
  const { sae, manifest: man } = inp;
  const { spec } = sae;
  const dict = saeEvalDictionary(sae);
  const m = spec.dSae;
  const T = man.seqLen;
  const outDir = join(o.saeDir, FEATURES_DIR);
  mkdirSync(outDir, { recursive: true });
  const statePath = join(outDir, STATE_FILE);
  const passOptions = {
    topContexts: o.topContexts, contextWindow: o.contextWindow, quantileSections: o.quantileSections, contextsPerQuantile: o.contextsPerQuantile,
    batchSeqs: o.batchSeqs, seed: o.seed,
  };
  const key = JSON.stringify({ sae: digest(o.saeDir), store: resolve(inp.storeDir), tokens: man.tokens, seqs: man.totalSeqs, model: o.model.id, passOptions });
  const acc = new FeatureAccumulators({
    latents: m, topContexts: o.topContexts, contextWindow: o.contextWindow, intervals: o.quantileSections, contextsPerInterval: o.contextsPerQuantile,
    withAttr: dict.needsGrad, firedThreshold: dict.firedThreshold, seed: o.seed,
  });
  if (loadState(statePath, acc, key)) log(`features: resuming at sequence ${acc.seqsDone}/${man.totalSeqs} from ${statePath}`);
  const totalSeqs = man.shards.reduce((s, sh) => s + sh.seqs, 0);
  const bar = o.progress ? new Progress({ total: totalSeqs, label: `features ${spec.hookName || ''}`.trim(), start: acc.seqsDone }) : null;
  let lastCkpt = acc.seqsDone;
  const d = man.d;
  for (const sh of man.shards) {
    if (sh.firstSeq + sh.seqs <= acc.seqsDone) continue;
    const shard = readShard(join(inp.storeDir, sh.file));
    if (shard.rows !== sh.seqs * T || shard.d !== d) throw new Error(`${join(inp.storeDir, sh.file)}: shard holds ${shard.rows}×${shard.d}, manifest says ${sh.seqs * T}×${d}`);
    for (let s = 0; s < sh.seqs; s += o.batchSeqs) {
      const firstSeq = sh.firstSeq + s;
      if (firstSeq < acc.seqsDone) continue;
      const n = Math.min(o.batchSeqs, sh.seqs - s);
      const x = shard.x.subarray(s * T * d, (s + n) * T * d);
      const g = shard.g ? shard.g.subarray(s * T * d, (s + n) * T * d) : null;
      const { f, attr } = E.tidy(() => {
        const xt = E.tensor(x.slice(), [n * T, d]);
        const gt = dict.needsGrad ? E.tensor(g!.slice(), [n * T, d]) : undefined;
        const ft = encodeSae(sae, xt, gt);
        // attribution z_i·a_i: pre-activation times a = W_decᵀ g (raw gradient, no RMS scaling)
        const at = gt ? E.mul(preActs(sae.params, xt, spec.applyBDecToInput), E.matmul(gt, sae.params['W_dec']!, false, true)) : null;
        return { f: ft.toArray() as Float32Array, attr: at ? (at.toArray() as Float32Array) : null };
      });
      acc.addBatch({ firstSeq, seqLen: T, m, f, attr }, x, d);
      const done = acc.seqsDone;
      bar?.update({ done, tokensPerItem: T });
      // let signal handlers run between batches (a synchronous loop would hold SIGINT until the end)
      if (o.shouldStop) await new Promise((r) => setImmediate(r));
      const stop = (o.stopAfterSeqs !== undefined && done >= o.stopAfterSeqs) || (o.shouldStop?.() ?? false);
      if (done - lastCkpt >= o.checkpointEvery || stop) {
        saveState(statePath, acc, key);
        lastCkpt = done;
      }
      if (stop && done < totalSeqs) {
        bar?.finish(`stopped at ${done}/${totalSeqs} sequences (state in ${statePath})`);
        return null;
      }
    }
  }
  if (acc.seqsDone > lastCkpt) saveState(statePath, acc, key);
  bar?.finish(`${acc.tokens} tokens`);
  const passSeconds = (Date.now() - t0) / 1000;

  const evalModel = gpt2EvalModel(o.model.params, o.model.cfg);
  const unembed = E.keep(evalModel.unembedWithGain());
  const logits = logitEffects(dict.decoderRows(), unembed, Math.max(o.logitTokens, o.steeringTopN, SUMMARY_TOKENS));
  E.dispose(unembed);
  const cut = (l: { ids: Int32Array; values: Float32Array }) => ({ ids: l.ids.slice(0, o.logitTokens), values: l.values.slice(0, o.logitTokens) });
  const shown = { promoted: logits.promoted.map(cut), suppressed: logits.suppressed.map(cut) };
  const neighbours = decoderNeighbours(dict.decoderRows(), o.neighbours);
  const meanNorm = acc.sumNorm / acc.tokens;

  let steering: (number | null)[] = new Array<number | null>(m).fill(null);
  let steeringInfo: FeaturesIndex['steeringOptions'] = null;
  if (o.steeringContexts > 0) {
    const N = Math.min(o.steeringContexts, totalSeqs);
    const L = Math.min(o.steeringLen, T);
    const pick = Array.from(new E.Rng(o.seed).fork('feature-steering').permutation(totalSeqs).subarray(0, N)).sort((a, b) => a - b);
    const ids = new Int32Array(N * L);
    pick.forEach((s, r) => ids.set(inp.tokens.subarray(s * T, s * T + L), r * L));
    const ctx = E.keep(E.tensor(ids, [N, L], 'int32'));
    const sbar = o.progress ? new Progress({ total: m, label: 'steering' }) : null;
    try {
      steering = steeringEffects(evalModel, dict, ctx, {
        hook: man.hook, c: o.steeringC, meanNorm, tokenSets: logits.promoted.map((l) => l.ids.subarray(0, o.steeringTopN)),
        onProgress: (done) => sbar?.update({ done, tokensPerItem: N * L }),
      });
    } finally {
      E.dispose(ctx);
    }
    sbar?.finish(`steering on ${N} contexts × ${L} tokens`);
    steeringInfo = { contexts: pick, tokensPerContext: L, c: o.steeringC, topN: o.steeringTopN, alpha: o.steeringC * meanNorm };
  }

  const seconds = (Date.now() - t0) / 1000;
  const density = Array.from(acc.fired, (c) => c / acc.tokens);
  const dh = densityHistogram(density);
  const decode = (id: number) => o.model.tokenizer.decode([id]);
  const index = writeFeatures(outDir, {
    acc, logits: { promoted: shown.promoted, suppressed: shown.suppressed }, neighbours, steering, tokens: inp.tokens, seqLen: T, decode,
    summaryTokens: SUMMARY_TOKENS, blockSize: o.blockSize,
    neuronpedia: { modelId: o.model.id, layer: spec.hookName },
    index: {
      format: FEATURES_FORMAT, version: FEATURES_VERSION, createdAt: new Date().toISOString(),
      sae: { dir: o.saeDir, architecture: spec.variant ?? spec.kind, dIn: spec.dIn, dSae: m, k: spec.k ?? null, hook: spec.hookName, needsGrad: dict.needsGrad },
      model: { dir: o.model.dir, vocabSize: o.model.cfg.vocab_size, nLayer: o.model.cfg.n_layer, nEmbd: o.model.cfg.n_embd },
      store: { dir: inp.storeDir, tokens: man.tokens, seqLen: T },
      options: {
        topContexts: o.topContexts, contextWindow: o.contextWindow, quantileSections: o.quantileSections, contextsPerQuantile: o.contextsPerQuantile,
        logitTokens: o.logitTokens, neighbours: o.neighbours, blockSize: o.blockSize,
      },
      timing: { seconds, tokensPerSecond: acc.tokens / seconds, passSeconds },
      complete: true,
      meanNorm, heldOut: inp.heldOut, steeringOptions: steeringInfo, seed: o.seed,
    },
  }, dh.hist, dh.dead);
  if (existsSync(statePath)) rmSync(statePath);
  return index;
}
