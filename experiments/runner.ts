/**
 * `gsae experiment <suite>`: end to end on one model. Loads (or trains) the model, builds the
 * train and evaluation activation-and-gradient stores from disjoint token ranges (train split
 * vs validation split), trains every SAE of the suite for every seed, evaluates each on held-out
 * data, and writes results.json, results.csv, SVG plots and report.md into the output folder.
 * Every SAE run checkpoints; a re-run skips finished SAEs and resumes unfinished ones.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { activationsAndGrads } from '../models/gpt2/model.js';
import { tokenizeCorpus } from '../models/gpt2/data.js';
import { hookLayerOf } from '../sae/config.js';
import { disposeSae } from '../sae/model.js';
import { CHECKPOINT_FILE, SaeTrainer } from '../sae/trainer.js';
import { buildStore } from '../sae/store/build.js';
import { assertDisjoint } from '../sae/store/manifest.js';
import { StoreReader } from '../sae/store/reader.js';
import { StoreSource } from '../sae/store/source.js';
import { writeFileAtomic } from '../sae/store/shard.js';
import { gpt2EvalModel, saeEvalDictionary } from './adapters.js';
import { defaultModel, type LoadedModel } from './default_model.js';
import { downstreamBaseline, evaluate, type EvalContext, type EvalResult } from './eval/evaluate.js';
import { getSuite, resolveHook, type RunSpec, type SuiteConfig } from './suites.js';
import { writeReport } from './report/report.js';
import type { Row } from './report/tables.js';

export interface RunnerOptions {
  suite: string;
  preset: 'quick' | 'full';
  out: string;
  cacheDir: string;
  model?: string;
  seeds?: number[];
  /** replaces the preset's configuration (tests, custom sweeps) */
  config?: SuiteConfig;
  log?: (s: string) => void;
}

export interface ExperimentOutput {
  rows: Row[];
  outDir: string;
  config: SuiteConfig;
  model: { id: string; dir: string };
}

/** Splits a token array into [n, T] int32 batches of `per` sequences. */
export function sequenceBatches(tokens: Int32Array, T: number, nTokens: number, per: number): E.Tensor[] {
  const nSeq = Math.floor(Math.min(nTokens, tokens.length) / T);
  const out: E.Tensor[] = [];
  for (let s = 0; s < nSeq; s += per) {
    const n = Math.min(per, nSeq - s);
    out.push(E.keep(E.tensor(tokens.slice(s * T, (s + n) * T), [n, T], 'int32')));
  }
  return out;
}

/** Where a suite's store lives in the cache (also how `gsae explore` finds a run's held-out eval store). */
export function storeDirFor(cacheDir: string, modelId: string, hook: string, split: 'train' | 'val', seqLen: number, nTokens: number): string {
  return join(cacheDir, 'stores', modelId, hook, `${split}-${seqLen}-${nTokens}`);
}

export function storeFor(model: LoadedModel, o: Pick<RunnerOptions, 'cacheDir'>, cfg: Pick<SuiteConfig, 'hook' | 'seqLen'>, split: 'train' | 'val', tokens: Int32Array, nTokens: number, log: (s: string) => void): StoreReader {
  const dir = storeDirFor(o.cacheDir, model.id, cfg.hook, split, cfg.seqLen, nTokens);
  const range: [number, number] = [0, Math.min(nTokens, tokens.length)];
  const total = Math.floor((range[1] - range[0]) / cfg.seqLen);
  let last = Date.now();
  buildStore({
    dir, hook: cfg.hook, tokens, source: `${model.corpus}#${split}`, range, seqLen: cfg.seqLen, batchSeqs: 16,
    seqsPerShard: 256, withGrad: true, gradReduction: 'sum', modelId: model.id,
    capture: (toks) => {
      const r = activationsAndGrads(model.params, model.cfg, toks, [cfg.hook], { reduction: 'sum', checkTokens: false });
      return { acts: r.acts[cfg.hook]!, grads: r.grads[cfg.hook]! };
    },
    onShard: (done) => {
      if (Date.now() - last > 5000 || done === total) log(`  store ${split}: ${done}/${total} sequences`);
      last = Date.now();
    },
  });
  return new StoreReader(dir);
}

/** Mean activation and mean norm of a store's rows. */
export function storeMoments(r: StoreReader): { mean: Float32Array; meanNorm: number } {
  const d = r.d;
  const sum = new Float64Array(d);
  let norm = 0;
  let n = 0;
  for (const b of r.sequential(4096)) {
    for (let i = 0; i < b.rows; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const v = b.x[i * d + j]!;
        sum[j]! += v;
        s += v * v;
      }
      norm += Math.sqrt(s);
    }
    n += b.rows;
  }
  return { mean: Float32Array.from(sum, (v) => v / n), meanNorm: norm / n };
}

/** CPU-seconds of this process (all threads): what a run costs, nearly independent of machine load. */
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function resultRow(spec: RunSpec, seed: number, dSae: number, r: EvalResult, deadFraction: number, trainSeconds: number, cpu: number): Row {
  return {
    id: spec.id, group: spec.group, variant: spec.variant ?? '', seed, d_sae: dSae,
    k: spec.k ?? null, beta: spec.variant === 'gsae' ? spec.beta ?? null : null, l1_coefficient: spec.l1Coefficient ?? null,
    value_source: spec.valueSource ?? null, grad_norm: spec.variant === 'gsae' ? spec.gradNorm ?? 'none' : null,
    ...r.reconstruction,
    dead_fraction: deadFraction,
    ...r.downstream,
    dec_maxcos_median: r.decoder_max_cos.median, dec_maxcos_p90: r.decoder_max_cos.p90,
    steer_mean: r.steering.mean, steer_lo: r.steering.lo, steer_hi: r.steering.hi, steer_n: r.steering.n,
    train_seconds: trainSeconds,
    cpu_seconds: cpu,
  };
}

export async function runExperiment(o: RunnerOptions): Promise<ExperimentOutput> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const suite = getSuite(o.suite);
  const preset: SuiteConfig = { ...(o.config ?? suite.presets[o.preset]), ...(o.seeds ? { seeds: o.seeds } : {}) };
  if (preset.seeds.length === 0) throw new Error('experiment: no seeds to run (--seeds needs at least one)');
  mkdirSync(o.out, { recursive: true });
  const t0 = Date.now();
  log(`experiment ${suite.name} (${o.preset}) on backend '${E.backend().name}' → ${o.out}`);

  const model = await defaultModel({ model: o.model, cacheDir: o.cacheDir, log });
  const cfg: SuiteConfig = { ...preset, hook: resolveHook(preset.hook, model.cfg.n_layer) };
  log(`model ${model.dir} (${model.id}): ${model.cfg.n_layer} layers, d_model ${model.cfg.n_embd}, vocab ${model.cfg.vocab_size}; hook ${cfg.hook}; seeds ${cfg.seeds.join(', ')}`);
  const corpus = tokenizeCorpus(model.corpus, 'gpt2-restricted', 0.9, model.tokenizer);
  const trainStore = storeFor(model, o, cfg, 'train', corpus.train, cfg.storeTrainTokens, log);
  const evalStore = storeFor(model, o, cfg, 'val', corpus.val, cfg.evalTokens, log);
  assertDisjoint(trainStore.manifest.tokens, evalStore.manifest.tokens);
  const d = trainStore.d;
  const dSae = cfg.expansion * d;

  const evalModel = gpt2EvalModel(model.params, model.cfg);
  const sequences = sequenceBatches(corpus.val, cfg.seqLen, cfg.evalTokens, 16);
  const trainMoments = storeMoments(trainStore);
  const evalMoments = storeMoments(evalStore);
  const meanAct = E.keep(E.tensor(trainMoments.mean));
  const baseline = downstreamBaseline(evalModel, cfg.hook, sequences, meanAct);
  log(`held-out CE: clean ${baseline.ce_clean.toFixed(4)}, zero-ablated ${baseline.ce_zero.toFixed(4)}, mean-ablated ${baseline.ce_mean.toFixed(4)}`);

  const setupCpu = cpuSeconds();
  log(`setup (model, stores, baseline): ${((Date.now() - t0) / 1000).toFixed(0)} s wall, ${setupCpu.toFixed(0)} CPU-s`);
  const rows: Row[] = [];
  const steps = Math.ceil(cfg.trainTokens / cfg.batchSize);
  for (const seed of cfg.seeds) {
    for (const spec of cfg.runs) {
      const runDir = join(o.out, 'runs', `${spec.id}-s${seed}`);
      const doneFile = join(runDir, 'eval.json');
      if (existsSync(doneFile)) {
        rows.push(JSON.parse(readFileSync(doneFile, 'utf8')) as Row);
        log(`${spec.id} seed ${seed}: done earlier, reusing ${doneFile}`);
        continue;
      }
      const source = new StoreSource(trainStore.dir, cfg.batchSize, seed);
      const { id: _id, group: _g, ...trainCfg } = spec;
      const ckpt = join(runDir, CHECKPOINT_FILE);
      const tStart = Date.now();
      const cpuStart = cpuSeconds();
      const trainer = existsSync(ckpt)
        ? SaeTrainer.resume(ckpt, source, { outDir: runDir, progress: true })
        : SaeTrainer.create(
            {
              ...trainCfg, dIn: d, dSae, seed, batchSize: cfg.batchSize, totalSteps: steps, logEvery: 10,
              checkpointEvery: 50, hookName: cfg.hook, hookLayer: hookLayerOf(cfg.hook), contextSize: cfg.seqLen,
              modelName: model.id, datasetPath: model.corpus, initSamples: 4096,
            },
            source,
            { outDir: runDir, progress: true },
          );
      const fit = trainer.run();
      const deadFraction = (fit.lastLog?.['sparsity/dead_features'] ?? NaN) / dSae;
      const sae = trainer.model();
      trainer.dispose();
      const ctx: EvalContext = { model: evalModel, hook: cfg.hook, evalStore, sequences, baseline, meanNorm: evalMoments.meanNorm, steering: cfg.steering, seed };
      const res = evaluate(ctx, saeEvalDictionary(sae));
      disposeSae(sae);
      const row = resultRow(spec, seed, dSae, res, deadFraction, (Date.now() - tStart) / 1000, cpuSeconds() - cpuStart);
      writeFileAtomic(doneFile, JSON.stringify(row, null, 2));
      writeFileAtomic(join(runDir, 'steering.json'), JSON.stringify(res.steering.per_latent, null, 1));
      rows.push(row);
      log(`${spec.id} seed ${seed}: FVU ${(row.fvu as number).toFixed(4)}, L0 ${(row.l0 as number).toFixed(2)}, loss added ${(row.loss_added as number).toFixed(4)}, dead ${(deadFraction * 100).toFixed(1)}% (${(row.train_seconds as number).toFixed(0)} s, ${(row.cpu_seconds as number).toFixed(0)} CPU-s)`);
    }
  }
  E.dispose([meanAct, sequences]);
  const meta = {
    suite: suite.name, preset: o.preset, question: cfg.question, backend: E.backend().name,
    model: { id: model.id, dir: model.dir, n_layer: model.cfg.n_layer, n_embd: model.cfg.n_embd, vocab_size: model.cfg.vocab_size },
    // the stores' folders: `gsae explore <run>` computes missing features over the eval store
    stores: { train: trainStore.dir, eval: evalStore.dir },
    config: cfg, baseline, wall_seconds: (Date.now() - t0) / 1000, cpu_seconds: cpuSeconds(), setup_cpu_seconds: setupCpu, node: process.version,
  };
  await writeReport(o.out, meta, rows);
  return { rows, outDir: o.out, config: cfg, model: { id: model.id, dir: model.dir } };
}
