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
import type { LossReduction } from '../models/gpt2/model.js';
import { tokenizeCorpus } from '../models/gpt2/data.js';
import { hookLayerOf } from '../sae/config.js';
import { disposeSae, loadSae } from '../sae/model.js';
import { SAE_WEIGHTS_FILENAME } from '../sae/saelens.js';
import { CHECKPOINT_FILE, SAE_DIR, SaeTrainer } from '../sae/trainer.js';
import { buildStore } from '../sae/store/build.js';
import { assertDisjoint } from '../sae/store/manifest.js';
import { StoreReader } from '../sae/store/reader.js';
import { StoreSource } from '../sae/store/source.js';
import { writeFileAtomic } from '../sae/store/shard.js';
import { gpt2EvalModel, saeEvalDictionary } from './adapters.js';
import { defaultModel, type LoadedModel } from './default_model.js';
import { downstreamBaseline, evaluate, type EvalContext, type EvalResult } from './eval/evaluate.js';
import { spliceReconstruction } from './eval/downstream.js';
import type { EvalModel } from './eval/interfaces.js';
import { getSuite, resolveHook, suitePreset, validateRuns, type PresetName, type RunSpec, type SuiteConfig } from './suites.js';
import { cleanCapture, resolveStoreOption, saeDigest, splicedCapture, storeSuffix, type ResolvedStoreOption } from './train_stores.js';
import { writeReport } from './report/report.js';
import { runAnalyses } from './analyses.js';
import type { Row } from './report/tables.js';

export interface RunnerOptions {
  suite: string;
  preset: PresetName;
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

import { sequenceBatches } from './eval/sequences.js';
export { sequenceBatches };

/**
 * Where a suite's store lives in the cache (also how `gsae explore` finds a run's held-out eval
 * store); `suffix` (train_stores.ts storeSuffix) names a store option other than the default.
 */
export function storeDirFor(cacheDir: string, modelId: string, hook: string, split: 'train' | 'val', seqLen: number, nTokens: number, suffix = ''): string {
  return join(cacheDir, 'stores', modelId, hook, `${split}-${seqLen}-${nTokens}${suffix}`);
}

/** A store other than the default (clean gradients of the summed loss): see train_stores.ts. */
export interface StoreVariant {
  gradReduction?: LossReduction;
  /** gradients with this SAE's reconstruction spliced in (it encodes with clean gradients of `encodeGradReduction`) */
  splice?: { sae: ReturnType<typeof loadSae>; dir: string; run: string; seed: number; sha256: string; encodeGradReduction: LossReduction };
}

export function storeFor(model: LoadedModel, o: Pick<RunnerOptions, 'cacheDir'>, cfg: Pick<SuiteConfig, 'hook' | 'seqLen'>, split: 'train' | 'val', tokens: Int32Array, nTokens: number, log: (s: string) => void, v: StoreVariant = {}): StoreReader {
  const opt: ResolvedStoreOption = { gradReduction: v.gradReduction ?? 'sum', gradSource: v.splice ? 'spliced' : 'clean', spliceRun: v.splice?.run ?? null };
  const dir = storeDirFor(o.cacheDir, model.id, cfg.hook, split, cfg.seqLen, nTokens, storeSuffix(opt, v.splice));
  const range: [number, number] = [0, Math.min(nTokens, tokens.length)];
  const total = Math.floor((range[1] - range[0]) / cfg.seqLen);
  const sp = v.splice;
  const dict = sp ? saeEvalDictionary(sp.sae) : null;
  const label = `${split}${storeSuffix(opt, sp ? { ...sp, sha256: '' } : undefined).replace(/-$/, '')}`;
  let last = Date.now();
  buildStore({
    dir, hook: cfg.hook, tokens, source: `${model.corpus}#${split}`, range, seqLen: cfg.seqLen, batchSeqs: 16,
    seqsPerShard: 256, withGrad: true, gradReduction: opt.gradReduction, modelId: model.id,
    ...(sp ? { gradSource: 'spliced' as const, splice: { sha256: sp.sha256, encodeGradReduction: sp.encodeGradReduction, sae: sp.dir, run: sp.run, seed: sp.seed } } : {}),
    capture: sp && dict
      ? splicedCapture(model.params, model.cfg, cfg.hook, opt.gradReduction, sp.encodeGradReduction, (x, g) => spliceReconstruction(dict, x, dict.needsGrad ? g : undefined))
      : cleanCapture(model.params, model.cfg, cfg.hook, opt.gradReduction),
    onShard: (done) => {
      if (Date.now() - last > 5000 || done === total) log(`  store ${label}: ${done}/${total} sequences`);
      last = Date.now();
    },
  });
  return new StoreReader(dir);
}

/**
 * The stores of a suite's runs beyond the default pair: a run's training store follows its
 * `store` option (one store per distinct option; per seed for spliced ones, whose SAE is the
 * `spliceRun` of the same seed, read from its run folder), and a run with the mean loss is
 * evaluated with gradients of the mean loss (its own held-out store and eval model); the gradient
 * source never changes evaluation, which always uses clean gradients.
 */
function runStores(model: LoadedModel, o: RunnerOptions, cfg: SuiteConfig, corpus: { train: Int32Array; val: Int32Array }, clean: { train: StoreReader; eval: StoreReader }, log: (s: string) => void) {
  const dirs: Record<string, string> = {};
  const built = new Set<string>();
  const evals = new Map<LossReduction, { store: StoreReader; model: EvalModel }>([['sum', { store: clean.eval, model: gpt2EvalModel(model.params, model.cfg) }]]);
  const reductionOf = (id: string) => resolveStoreOption(cfg.runs.find((r) => r.id === id)?.store).gradReduction;
  return {
    /** folder of each store other than the default pair, by label (results.json meta.stores.options) */
    dirs,
    /**
     * The folder of the run's training store, built first when `build` (else only named, for a
     * run done earlier; null when it cannot be named because its spliced SAE is gone).
     */
    train(spec: RunSpec, seed: number, build: boolean): string | null {
      const opt = resolveStoreOption(spec.store);
      if (opt.gradSource === 'clean' && opt.gradReduction === 'sum') return clean.train.dir;
      let splice: StoreVariant['splice'];
      if (opt.gradSource === 'spliced') {
        const run = opt.spliceRun!;
        const dir = join(o.out, 'runs', `${run}-s${seed}`, SAE_DIR);
        if (!existsSync(join(dir, SAE_WEIGHTS_FILENAME))) {
          if (!build) return null;
          throw new Error(`experiment: run '${spec.id}' trains on gradients with '${run}' (seed ${seed}) spliced in, but ${dir} holds no SAE; delete ${join(o.out, 'runs', `${run}-s${seed}`)} to retrain it`);
        }
        const sae = loadSae(dir);
        splice = { sae, dir, run, seed, sha256: saeDigest(dir, sae), encodeGradReduction: reductionOf(run) };
      }
      const label = `train${storeSuffix(opt, splice ? { ...splice, sha256: '' } : undefined).replace(/-$/, '')}`;
      try {
        const dir = storeDirFor(o.cacheDir, model.id, cfg.hook, 'train', cfg.seqLen, cfg.storeTrainTokens, storeSuffix(opt, splice));
        dirs[label] = dir;
        if (!build) return dir;
        if (!built.has(dir)) {
          log(`${spec.id} seed ${seed}: training store ${label}${splice ? ` (SAE ${splice.dir}, sha256 ${splice.sha256.slice(0, 12)})` : ''}`);
          const r = storeFor(model, o, cfg, 'train', corpus.train, cfg.storeTrainTokens, log, { gradReduction: opt.gradReduction, splice });
          assertDisjoint(r.manifest.tokens, clean.eval.manifest.tokens);
          built.add(dir);
        }
        return dir;
      } finally {
        if (splice) disposeSae(splice.sae);
      }
    },
    /** the held-out store and eval model of a run: gradients of the run's loss reduction, from the clean model */
    eval(spec: RunSpec): { store: StoreReader; model: EvalModel } {
      const red = resolveStoreOption(spec.store).gradReduction;
      let e = evals.get(red);
      if (!e) {
        const store = storeFor(model, o, cfg, 'val', corpus.val, cfg.evalTokens, log, { gradReduction: red });
        e = { store, model: gpt2EvalModel(model.params, model.cfg, red) };
        evals.set(red, e);
      }
      if (red !== 'sum') dirs[`val-${red}`] = e.store.dir;
      return e;
    },
    /** names (without building) the held-out store of a run done earlier */
    evalDir(spec: RunSpec): void {
      const red = resolveStoreOption(spec.store).gradReduction;
      if (red !== 'sum') dirs[`val-${red}`] = storeDirFor(o.cacheDir, model.id, cfg.hook, 'val', cfg.seqLen, cfg.evalTokens, storeSuffix({ gradReduction: red, gradSource: 'clean', spliceRun: null }));
    },
  };
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

function resultRow(spec: RunSpec, store: ResolvedStoreOption, seed: number, dSae: number, r: EvalResult, deadFraction: number, trainSeconds: number, cpu: number): Row {
  return {
    id: spec.id, group: spec.group, variant: spec.variant ?? '', seed, d_sae: dSae,
    k: spec.k ?? null, beta: spec.variant === 'gsae' ? spec.beta ?? null : null, l1_coefficient: spec.l1Coefficient ?? null,
    value_source: spec.valueSource ?? null, grad_norm: spec.variant === 'gsae' ? spec.gradNorm ?? 'none' : null,
    // the training store's gradients (train_stores.ts): clean or with `splice_run`'s SAE spliced in; summed or mean loss
    grad_source: store.gradSource, grad_reduction: store.gradReduction, splice_run: store.spliceRun,
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
  const preset: SuiteConfig = { ...(o.config ?? suitePreset(suite, o.preset)), ...(o.seeds ? { seeds: o.seeds } : {}) };
  if (preset.seeds.length === 0) throw new Error('experiment: no seeds to run (--seeds needs at least one)');
  validateRuns(preset.runs);
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

  const stores = runStores(model, o, cfg, corpus, { train: trainStore, eval: evalStore }, log);
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
        stores.train(spec, seed, false);
        stores.evalDir(spec);
        continue;
      }
      const source = new StoreSource(stores.train(spec, seed, true)!, cfg.batchSize, seed);
      const { id: _id, group: _g, store: _s, ...trainCfg } = spec;
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
      const ev = stores.eval(spec);
      const ctx: EvalContext = { model: ev.model, hook: cfg.hook, evalStore: ev.store, sequences, baseline, meanNorm: evalMoments.meanNorm, steering: cfg.steering, seed };
      const res = evaluate(ctx, saeEvalDictionary(sae));
      disposeSae(sae);
      const row = resultRow(spec, resolveStoreOption(spec.store), seed, dSae, res, deadFraction, (Date.now() - tStart) / 1000, cpuSeconds() - cpuStart);
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
    // (and `options`: the stores of runs with a store option, by label; train_stores.ts)
    stores: { train: trainStore.dir, eval: evalStore.dir, ...(Object.keys(stores.dirs).length ? { options: stores.dirs } : {}) },
    config: cfg, baseline, wall_seconds: (Date.now() - t0) / 1000, cpu_seconds: cpuSeconds(), setup_cpu_seconds: setupCpu, node: process.version,
  };
  await writeReport(o.out, meta, rows);
  if (cfg.analyses) {
    // the steering sweep and dictionary comparison read the results.json just written; the report is
    // written again with them (an interrupted sweep resumes per SAE on the next run)
    const ta = Date.now();
    log(`analyses over the trained SAEs (${o.out}/analyses.json)`);
    runAnalyses(o.out, cfg.analyses, model, log);
    await writeReport(o.out, { ...meta, analyses_seconds: (Date.now() - ta) / 1000, wall_seconds: (Date.now() - t0) / 1000, cpu_seconds: cpuSeconds() }, rows);
  }
  return { rows, outDir: o.out, config: cfg, model: { id: model.id, dir: model.dir } };
}
