/**
 * The steering investigation on the SAEs an experiment already trained (issue 12, item 3), as a
 * library: for each g-SAE vs TopK pair at equal k and each seed, probability addition over a
 * sweep of the scale c × the latent sample × the associated-token rule, the g-SAE/TopK ratio per
 * seed with its t interval over seeds and the seed-paired difference, plus per-SAE diagnostics
 * that help explain the ratio. experiments/scripts/steering_sweep.ts is the command line over it.
 *
 * Protocol (unchanged from the first sweep, experiments/results/tiny-model/gsae-vs-topk-quick/steering_sweep.md):
 * - held-out batches: the run's held-out sequences (`sequenceBatches(val, seqLen, evalTokens, 16)`,
 *   the runner's); E‖x‖ at the hook over all of them; steering adds c·E‖x‖·d_i at every position.
 * - alive latents: those that fire (f > 0) on the first 4 held-out batches ("probe" tokens).
 * - samples, per seed: "alive" = the first `latents` of a seeded shuffle of the alive latents
 *   (fork 'sweep:alive'), "random" = the first `latents` of a seeded shuffle of all latents, dead
 *   ones included (fork 'sweep:random'). Larger `latents` extends the same samples.
 * - rules (eval/steering_sweep.ts): "wu" = METHODS §4's top-n of W_U·d_i; "measured" = the n tokens
 *   steering raised most on held-out batch 0; both scored on batch 1.
 * - a row's `mean` is the mean over the sample's latents of the probability addition.
 * - pair table: for each (pair, sample, c, rule), the per-seed ratio g-SAE/TopK with its 95% t
 *   interval over seeds (non-finite ratios dropped), the ratio of the seed means, and the
 *   seed-paired t interval of g-SAE − TopK.
 *
 * Diagnostics (cheap: one encode pass over the probe tokens and one W_dec·W_Uᵀ product per SAE):
 * per latent, whether it is alive, its firing rate and mean activation when firing on the probe
 * tokens, mean |d_i·g| over probe tokens (g = ∂L/∂x, the quantity the g-SAE's selection weighs),
 * ‖d_i‖, ‖W_U·d_i‖₂ (the direct logit effect's norm over the vocabulary, final LN gain folded in)
 * and its peak z = (mean of the top-n entries − mean entry) / sd of entries (how concentrated on
 * few tokens the direct effect is); per steered cell, the overlap |T_wu ∩ T_measured|/n and the
 * total variation steering causes in the mean next-token distribution. Reported as means over
 * each sample's latents ('alive', 'random', and 'all-alive' = every alive latent, no steering),
 * paired between g-SAE and TopK like the scores.
 *
 * Resumable: each SAE's latent statistics and cells are cached in `runs/<id>-s<seed>/steering_sweep.json`,
 * keyed by everything that changes a value (model, hook, held-out batches, top-n, the SAE weights'
 * digest); cells are keyed by (latent, c), written after every latent, so a re-run — or one with
 * more c values or latents — computes only what is missing, and a fully cached call loads no model.
 * Every engine tensor it creates is freed before it returns (a loaded model's too).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { writeFileAtomic } from '../../engine/io/atomic.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { disposeSae, loadSae, type SaeModel } from '../../sae/model.js';
import { SAE_WEIGHTS_FILENAME } from '../../sae/saelens.js';
import { gpt2EvalModel, saeEvalDictionary } from '../adapters.js';
import { loadModelDir, type LoadedModel } from '../default_model.js';
import { sequenceBatches } from './sequences.js';
import type { EvalModel } from './interfaces.js';
import { defaultPairs, pairSeeds, readRun, saeDirOf, type RunInfo, type RunPair, type RunRow } from './run_dir.js';
import { pairedInterval, tInterval, type TInterval } from './statistics.js';
import { cleanProbs, steeringSweep, type CleanProbs, type SweepCell } from './steering_sweep.js';

export type Sample = 'alive' | 'random';
export type Rule = 'wu' | 'measured';
export const SAMPLES: readonly Sample[] = ['alive', 'random'];
export const RULES: readonly Rule[] = ['wu', 'measured'];

export interface SteeringInvestigationOptions {
  /** pairs to compare (default: every g-SAE with the TopK of the same k, so k = 8 is included) */
  pairs?: RunPair[];
  /** keep only these run ids when building the default pairs */
  ids?: string[];
  /** seeds (default: every seed both members of a pair have) */
  seeds?: number[];
  /** steering scales (default [0.5, 1, 2, 4, 8]) */
  cs?: number[];
  /** latents per sample (default 32) */
  latents?: number;
  /** associated tokens per latent (default 10) */
  topN?: number;
  /** sequences per held-out batch (default 16, the runner's) */
  batchSeqs?: number;
  /** held-out batches whose tokens decide which latents are alive (default 4) */
  probeBatches?: number;
  /** the model to use (default: results.json's meta.model.dir, loaded only if something is missing; freed after) */
  model?: LoadedModel;
  /** read and write the per-SAE caches (default true) */
  cache?: boolean;
  log?: (s: string) => void;
}

export interface InvestigationRow {
  id: string;
  variant: string;
  k: number;
  seed: number;
  sample: Sample;
  c: number;
  rule: Rule;
  /** mean probability addition over the sample's latents */
  mean: number;
  /** sd over latents (NaN for n < 2) */
  sd: number;
  n: number;
}

export type DiagnosticSample = Sample | 'all-alive';

export interface DiagnosticRow {
  id: string;
  variant: string;
  k: number;
  seed: number;
  sample: DiagnosticSample;
  /** see DIAGNOSTICS */
  metric: string;
  /** for the per-cell diagnostics (overlap, tv) */
  c?: number;
  value: number;
}

/** What each diagnostic metric is (means over the sample's latents). */
export const DIAGNOSTICS: Record<string, string> = {
  alive_fraction: 'fraction of latents alive on the probe tokens (all-alive: of the whole dictionary)',
  fire_rate: 'fraction of probe tokens on which the latent fires',
  act_when_firing: 'mean activation when firing (latents that never fire left out)',
  grad_proj: 'mean |d_i · g| over probe tokens (g = ∂L/∂x, summed-CE loss)',
  decoder_norm: '‖d_i‖ (steering adds c·E‖x‖·d_i as stored)',
  logit_norm: '‖W_U·d_i‖₂ over the vocabulary (final LN gain folded in)',
  logit_peak_z: '(mean of the top-n entries of W_U·d_i − mean entry) / sd of entries',
  overlap: '|T_wu ∩ T_measured| / n at this c',
  tv: 'total variation between steered and clean mean next-token distributions at this c',
};

export interface PairCell {
  gsae: string;
  topk: string;
  sample: string;
  c?: number;
  /** rule for scores, metric for diagnostics */
  what: string;
  seeds: number[];
  /** seed means */
  topkMean: number;
  gsaeMean: number;
  /** per-seed g/TopK, t interval over seeds */
  ratio: TInterval;
  /** mean g over mean TopK */
  ratioOfMeans: number;
  /** seed-paired g − TopK */
  diff: TInterval;
}

export interface SteeringInvestigationResult {
  dir: string;
  hook: string;
  meanNorm: number;
  cs: number[];
  latents: number;
  topN: number;
  batchSeqs: number;
  seqLen: number;
  probeTokens: number;
  pairs: RunPair[];
  rows: InvestigationRow[];
  diagnostics: DiagnosticRow[];
  table: PairCell[];
  diagnosticTable: PairCell[];
  /** alive latents of each SAE, by `${id}-s${seed}` (for feature splitting's `alive`) */
  alive: Record<string, number[]>;
  /** what this call computed: whether it set up the model, SAEs touched, latents steered */
  computed: { setup: boolean; saes: number; latents: number };
}

/** Per-latent statistics of one SAE (arrays of d_sae; NaN where undefined). */
interface LatentStats {
  dSae: number;
  probeTokens: number;
  meanNorm: number;
  alive: number[];
  fireRate: number[];
  actWhenFiring: number[];
  gradProj: number[];
  decoderNorm: number[];
  logitNorm: number[];
  logitPeakZ: number[];
}

type CachedCell = Omit<SweepCell, 'c' | 'latent'>;

interface CacheEntry {
  stats: LatentStats;
  /** `${latent}@${c}` → cell */
  cells: Record<string, CachedCell>;
}

interface CacheFile {
  format: 'gsae-steering-sweep';
  version: 1;
  entries: Record<string, CacheEntry>;
}

export const CACHE_FILE = 'steering_sweep.json';
const saeOfKey = (key: string): string | undefined => {
  try {
    return (JSON.parse(key) as { sae?: string }).sae;
  } catch {
    return undefined;
  }
};
const cellKey = (latent: number, c: number) => `${latent}@${c}`;
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
const sd = (xs: readonly number[]) => {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
};
const finite = (xs: readonly number[]) => xs.filter((x) => Number.isFinite(x));

function readCache(file: string, log: (s: string) => void): CacheFile {
  const empty: CacheFile = { format: 'gsae-steering-sweep', version: 1, entries: {} };
  if (!existsSync(file)) return empty;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8'), (_k, v: unknown) => (v === null ? NaN : v)) as CacheFile;
    if (c.format !== 'gsae-steering-sweep' || c.version !== 1 || typeof c.entries !== 'object') throw new Error('not a steering sweep cache');
    return c;
  } catch (e) {
    log(`${file}: unreadable cache (${(e as Error).message}); recomputing`);
    return empty;
  }
}

function writeCache(file: string, c: CacheFile): void {
  writeFileAtomic(file, JSON.stringify(c, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n');
}

/** The seeded latent samples of the protocol (module comment). */
export function latentSamples(seed: number, dSae: number, alive: readonly number[], L: number): Record<Sample, number[]> {
  return {
    alive: new E.Rng(seed).fork('sweep:alive').shuffle(alive.slice()).slice(0, L),
    random: new E.Rng(seed).fork('sweep:random').shuffle(Array.from({ length: dSae }, (_, i) => i)).slice(0, L),
  };
}

/** Everything that needs the model, built once on the first SAE that is not fully cached. */
interface Setup {
  evalModel: EvalModel;
  sequences: E.Tensor[];
  probe: { x: E.Tensor; g: E.Tensor }[];
  meanNorm: number;
  clean: CleanProbs;
  /** W_U with the final LN gain [V, d], kept */
  wu: E.Tensor;
  dispose: () => void;
}

function makeSetup(info: RunInfo, opts: { model?: LoadedModel; batchSeqs: number; probeBatches: number }, log: (s: string) => void): Setup {
  const t0 = Date.now();
  const owned = !opts.model;
  const model = opts.model ?? loadModelDir(info.model.dir);
  const hook = info.cfg.hook;
  const corpus = tokenizeCorpus(model.corpus, 'gpt2-restricted', 0.9, model.tokenizer);
  const sequences = sequenceBatches(corpus.val, info.cfg.seqLen, info.cfg.evalTokens, opts.batchSeqs);
  const evalModel = gpt2EvalModel(model.params, model.cfg);
  const d = model.cfg.n_embd;
  const probe: { x: E.Tensor; g: E.Tensor }[] = [];
  const free = () => {
    E.dispose([...sequences, ...probe.flatMap((p) => [p.x, p.g])]);
    if (owned) E.dispose(model.params);
  };
  try {
    if (sequences.length < 2) throw new Error(`${info.dir}: the held-out set has ${sequences.length} batch(es) of ${opts.batchSeqs} sequences; the sweep needs two (select and score)`);
    let norm = 0;
    let nRows = 0;
    sequences.forEach((toks, b) => E.tidy(() => {
      const r = evalModel.actsAndGrads(toks, hook);
      const a = r.acts.toArray() as Float32Array;
      for (let i = 0; i < a.length / d; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += a[i * d + j]! ** 2;
        norm += Math.sqrt(s);
      }
      nRows += a.length / d;
      if (b < opts.probeBatches) probe.push({ x: E.keep(E.reshape(r.acts, [-1, d])), g: E.keep(E.reshape(r.grads, [-1, d])) });
    }));
    const clean = cleanProbs(evalModel, sequences[0]!, sequences[1]!);
    const wu = E.keep(E.tidy(() => evalModel.unembedWithGain()));
    log(`steering investigation: model ${model.dir}, hook ${hook}, E‖x‖ ${(norm / nRows).toFixed(4)} over ${nRows} held-out tokens (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return { evalModel, sequences, probe, meanNorm: norm / nRows, clean, wu, dispose: () => { E.dispose(wu); free(); } };
  } catch (e) {
    free();
    throw e;
  }
}

/** The per-latent statistics of one SAE on the probe tokens (module comment). */
function latentStats(setup: Setup, sae: SaeModel, topN: number): LatentStats {
  const dict = saeEvalDictionary(sae);
  const m = dict.dSae;
  const d = dict.dIn;
  const fired = new Float64Array(m);
  const actSum = new Float64Array(m);
  const gradSum = new Float64Array(m);
  let N = 0;
  for (const p of setup.probe) {
    E.tidy(() => {
      const f = dict.encode(p.x, dict.needsGrad ? p.g : undefined).toArray() as Float32Array;
      for (let i = 0; i < f.length; i++) {
        if (f[i]! > dict.firedThreshold) {
          fired[i % m]! += 1;
          actSum[i % m]! += f[i]!;
        }
      }
      const a = E.matmul(p.g, dict.decoderRows(), false, true).toArray() as Float32Array; // [N, m] = d_i · g
      for (let i = 0; i < a.length; i++) gradSum[i % m]! += Math.abs(a[i]!);
      N += f.length / m;
    });
  }
  const rows = dict.decoderRows().toArray() as Float32Array;
  const decoderNorm: number[] = [];
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += rows[i * d + j]! ** 2;
    decoderNorm.push(Math.sqrt(s));
  }
  const logitNorm: number[] = [];
  const logitPeakZ: number[] = [];
  const chunk = 64;
  for (let s0 = 0; s0 < m; s0 += chunk) {
    const n = Math.min(chunk, m - s0);
    E.tidy(() => {
      const eff = E.matmul(E.slice(dict.decoderRows(), [s0, 0], [n, d]), setup.wu, false, true).toArray() as Float32Array; // [n, V]
      const V = eff.length / n;
      for (let r = 0; r < n; r++) {
        const row = eff.subarray(r * V, (r + 1) * V);
        let s = 0;
        let ss = 0;
        const top: number[] = [];
        for (let t = 0; t < V; t++) {
          const v = row[t]!;
          s += v;
          ss += v * v;
          if (top.length < topN) {
            top.push(v);
            top.sort((x, y) => x - y);
          } else if (v > top[0]!) {
            top[0] = v;
            top.sort((x, y) => x - y);
          }
        }
        const mu = s / V;
        const sdv = Math.sqrt(Math.max(0, ss / V - mu * mu));
        logitNorm.push(Math.sqrt(ss));
        logitPeakZ.push(sdv > 0 ? (mean(top) - mu) / sdv : NaN);
      }
    });
  }
  return {
    dSae: m, probeTokens: N, meanNorm: setup.meanNorm,
    alive: [...fired.keys()].filter((i) => fired[i]! > 0),
    fireRate: Array.from(fired, (c) => c / N),
    actWhenFiring: Array.from(fired, (c, i) => (c > 0 ? actSum[i]! / c : NaN)),
    gradProj: Array.from(gradSum, (s) => s / N),
    decoderNorm, logitNorm, logitPeakZ,
  };
}

/** The steering investigation of a finished run (module comment); `run` is its folder or its parsed results. */
export function steeringInvestigation(run: string | RunInfo, opts: SteeringInvestigationOptions = {}): SteeringInvestigationResult {
  const info = typeof run === 'string' ? readRun(run) : run;
  const log = opts.log ?? (() => {});
  const cs = opts.cs ?? [0.5, 1, 2, 4, 8];
  if (!cs.length || cs.some((c) => !(c > 0 && Number.isFinite(c)))) throw new Error(`steering investigation: every c must be a positive number, got [${cs.join(', ')}]`);
  const L = opts.latents ?? 32;
  const topN = opts.topN ?? 10;
  const batchSeqs = opts.batchSeqs ?? 16;
  const probeBatches = opts.probeBatches ?? 4;
  for (const [name, v] of [['latents', L], ['topN', topN], ['batchSeqs', batchSeqs], ['probeBatches', probeBatches]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`steering investigation: ${name} must be a positive integer, got ${v}`);
  }
  const pairs = opts.pairs ?? defaultPairs(info.rows, opts.ids);
  if (!pairs.length) throw new Error(`${info.dir}: no g-SAE / TopK pair at equal k among the runs (${[...new Set(info.rows.map((r) => r.id))].join(', ')})`);
  // every SAE once, in pair order; all folders checked before anything is computed
  const saes: { row: RunRow; dir: string }[] = [];
  for (const p of pairs) {
    const seeds = pairSeeds(info.rows, p, opts.seeds);
    if (!seeds.length) throw new Error(`pair ${p.gsae} / ${p.topk}: no seed has both runs${opts.seeds ? ` among seeds ${opts.seeds.join(', ')}` : ''}`);
    for (const id of [p.topk, p.gsae]) {
      for (const seed of seeds) {
        if (saes.some((s) => s.row.id === id && s.row.seed === seed)) continue;
        saes.push({ row: info.rows.find((r) => r.id === id && r.seed === seed)!, dir: saeDirOf(info.dir, id, seed) });
      }
    }
  }
  const hook = info.cfg.hook;
  const modelKey = opts.model?.id ?? info.model.id ?? `dir:${info.model.dir}`;
  const useCache = opts.cache ?? true;

  let setup: Setup | null = null;
  const computed = { setup: false, saes: 0, latents: 0 };
  const results: { row: RunRow; entry: CacheEntry }[] = [];
  try {
    for (const { row, dir } of saes) {
      const digest = createHash('sha256').update(readFileSync(join(dir, SAE_WEIGHTS_FILENAME))).digest('hex').slice(0, 16);
      const key = JSON.stringify({ model: modelKey, hook, seqLen: info.cfg.seqLen, evalTokens: info.cfg.evalTokens, batchSeqs, probeBatches, topN, select: 0, score: 1, sae: digest });
      const file = join(dir, '..', CACHE_FILE);
      const cache: CacheFile = useCache ? readCache(file, log) : { format: 'gsae-steering-sweep', version: 1, entries: {} };
      let entry = cache.entries[key];
      const missing = (e: CacheEntry) => {
        const s = latentSamples(row.seed, e.stats.dSae, e.stats.alive, L);
        const latents = [...new Set([...s.alive, ...s.random])];
        return latents.map((l) => ({ latent: l, cs: cs.filter((c) => !e.cells[cellKey(l, c)]) })).filter((x) => x.cs.length);
      };
      if (entry && !missing(entry).length) {
        results.push({ row, entry });
        continue;
      }
      const t0 = Date.now();
      if (!setup) {
        setup = makeSetup(info, { model: opts.model, batchSeqs, probeBatches }, log);
        computed.setup = true;
      }
      const sae = loadSae(dir);
      try {
        if (sae.spec.dIn !== setup.probe[0]!.x.shape[1]) throw new Error(`${row.id} seed ${row.seed}: SAE d_in ${sae.spec.dIn} does not match the model's width ${setup.probe[0]!.x.shape[1]} at ${hook}`);
        computed.saes++;
        if (!entry) {
          entry = { stats: latentStats(setup, sae, topN), cells: {} };
          // entries of earlier weights of this run (a retrained SAE) can never be read again
          for (const k of Object.keys(cache.entries)) if (saeOfKey(k) !== digest) delete cache.entries[k];
          cache.entries[key] = entry;
          if (useCache) writeCache(file, cache);
        }
        const dict = saeEvalDictionary(sae);
        const todo = missing(entry);
        for (const { latent, cs: cMissing } of todo) {
          const cells = steeringSweep(setup.evalModel, dict, hook, setup.sequences[0]!, setup.sequences[1]!, [latent], { cs: cMissing, topN, meanNorm: setup.meanNorm, clean: setup.clean });
          for (const { c, latent: _l, ...cell } of cells) entry.cells[cellKey(latent, c)] = cell;
          computed.latents++;
          if (useCache) writeCache(file, cache);
        }
        log(`${row.id} seed ${row.seed}: ${entry.stats.alive.length}/${entry.stats.dSae} alive, ${todo.length} latent(s) steered (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } finally {
        disposeSae(sae);
      }
      results.push({ row, entry });
    }
  } finally {
    setup?.dispose();
  }

  // rows and diagnostics
  const rows: InvestigationRow[] = [];
  const diagnostics: DiagnosticRow[] = [];
  const alive: Record<string, number[]> = {};
  for (const { row, entry } of results) {
    const { stats } = entry;
    const base = { id: row.id, variant: row.variant, k: row.k, seed: row.seed };
    alive[`${row.id}-s${row.seed}`] = stats.alive;
    const samples = latentSamples(row.seed, stats.dSae, stats.alive, L);
    const aliveSet = new Set(stats.alive);
    const perLatent = (sample: DiagnosticSample, latents: readonly number[]) => {
      const push = (metric: string, xs: number[], c?: number) => diagnostics.push({ ...base, sample, metric, ...(c !== undefined ? { c } : {}), value: mean(finite(xs)) });
      push('alive_fraction', sample === 'all-alive' ? [stats.alive.length / stats.dSae] : latents.map((l) => (aliveSet.has(l) ? 1 : 0)));
      push('fire_rate', latents.map((l) => stats.fireRate[l]!));
      push('act_when_firing', latents.map((l) => stats.actWhenFiring[l]!));
      push('grad_proj', latents.map((l) => stats.gradProj[l]!));
      push('decoder_norm', latents.map((l) => stats.decoderNorm[l]!));
      push('logit_norm', latents.map((l) => stats.logitNorm[l]!));
      push('logit_peak_z', latents.map((l) => stats.logitPeakZ[l]!));
      if (sample === 'all-alive') return;
      for (const c of cs) {
        push('overlap', latents.map((l) => entry.cells[cellKey(l, c)]!.overlap), c);
        push('tv', latents.map((l) => entry.cells[cellKey(l, c)]!.tv), c);
      }
    };
    for (const sample of SAMPLES) {
      const latents = samples[sample];
      for (const c of cs) {
        for (const rule of RULES) {
          const xs = latents.map((l) => entry.cells[cellKey(l, c)]![rule]);
          rows.push({ ...base, sample, c, rule, mean: mean(xs), sd: sd(xs), n: xs.length });
        }
      }
      perLatent(sample, latents);
    }
    perLatent('all-alive', stats.alive);
  }

  // pair tables
  const pairCell = (p: RunPair, sample: string, what: string, c: number | undefined, value: (id: string) => Map<number, number>): PairCell => {
    const g = value(p.gsae);
    const t = value(p.topk);
    const seeds = [...g.keys()].filter((s) => t.has(s)).sort((a, b) => a - b);
    const gv = seeds.map((s) => g.get(s)!);
    const tv = seeds.map((s) => t.get(s)!);
    const gm = mean(gv);
    const tm = mean(tv);
    return {
      gsae: p.gsae, topk: p.topk, sample, ...(c !== undefined ? { c } : {}), what, seeds, topkMean: tm, gsaeMean: gm,
      ratio: tInterval(gv.map((x, i) => x / tv[i]!)), ratioOfMeans: gm / tm, diff: pairedInterval(gv, tv),
    };
  };
  const table: PairCell[] = [];
  const diagnosticTable: PairCell[] = [];
  for (const p of pairs) {
    for (const sample of SAMPLES) {
      for (const c of cs) {
        for (const rule of RULES) {
          table.push(pairCell(p, sample, rule, c, (id) => new Map(rows.filter((x) => x.id === id && x.sample === sample && x.c === c && x.rule === rule).map((x) => [x.seed, x.mean]))));
        }
      }
    }
    for (const sample of ['all-alive', ...SAMPLES] as const) {
      for (const metric of Object.keys(DIAGNOSTICS)) {
        const cList = metric === 'overlap' || metric === 'tv' ? (sample === 'all-alive' ? [] : cs) : [undefined];
        for (const c of cList) {
          diagnosticTable.push(pairCell(p, sample, metric, c, (id) => new Map(diagnostics.filter((x) => x.id === id && x.sample === sample && x.metric === metric && x.c === c).map((x) => [x.seed, x.value]))));
        }
      }
    }
  }
  const norms = results.map((r) => r.entry.stats.meanNorm);
  return {
    dir: info.dir, hook, meanNorm: mean(norms), cs: cs.slice(), latents: L, topN, batchSeqs, seqLen: info.cfg.seqLen,
    probeTokens: results[0]?.entry.stats.probeTokens ?? 0, pairs, rows, diagnostics, table, diagnosticTable, alive, computed,
  };
}

/** A dictionary's alive mask from an investigation's `alive` (undefined when that SAE was not part of it). */
export function aliveMask(inv: Pick<SteeringInvestigationResult, 'alive'>, id: string, seed: number, dSae: number): Uint8Array | undefined {
  const list = inv.alive[`${id}-s${seed}`];
  if (!list) return undefined;
  const m = new Uint8Array(dSae);
  for (const i of list) m[i] = 1;
  return m;
}

const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : 'n/a');
const iv = (x: TInterval) => (x.n >= 2 ? `${fmt(x.mean)} [${fmt(x.lo)}, ${fmt(x.hi)}]` : `${fmt(x.mean)} (n = ${x.n})`);

/** The score table, one markdown line per (pair, sample, c, rule): the first sweep's format (steering_sweep.md). */
export function steeringTableLines(r: Pick<SteeringInvestigationResult, 'table'>): string[] {
  const lines = ['| pair | sample | c | rule | TopK | g-SAE | ratio g/TopK [95% t over seeds] | g − TopK [95% paired t] |', '|---|---|---|---|---|---|---|---|'];
  for (const x of r.table) lines.push(`| ${x.gsae} / ${x.topk} | ${x.sample} | ${x.c} | ${x.what} | ${fmt(x.topkMean)} | ${fmt(x.gsaeMean)} | ${iv(x.ratio)} | ${iv(x.diff)} |`);
  return lines;
}

/** The diagnostics table (one line per pair, sample, metric and, for overlap / tv, c). */
export function diagnosticTableLines(r: Pick<SteeringInvestigationResult, 'diagnosticTable'>): string[] {
  const lines = ['| pair | latents | diagnostic | c | TopK | g-SAE | ratio of seed means | g − TopK [95% paired t] |', '|---|---|---|---|---|---|---|---|'];
  for (const x of r.diagnosticTable) lines.push(`| ${x.gsae} / ${x.topk} | ${x.sample} | ${x.what} | ${x.c ?? ''} | ${fmt(x.topkMean)} | ${fmt(x.gsaeMean)} | ${fmt(x.ratioOfMeans)} | ${iv(x.diff)} |`);
  return lines;
}

/** Markdown: the protocol, the score table and the diagnostics with their definitions. */
export function renderSteeringInvestigation(r: SteeringInvestigationResult): string {
  const seeds = [...new Set(r.rows.map((x) => x.seed))].sort((a, b) => a - b);
  return [
    `Steering sweep on ${r.dir}: hook \`${r.hook}\`, E‖x‖ = ${fmt(r.meanNorm)} over the held-out set; steering adds c·E‖x‖·d_i at every position, ` +
      `c ∈ {${r.cs.join(', ')}}. Per SAE and seed (seeds ${seeds.join(', ')}): ${r.latents} latents, either a seeded sample of those alive on ${r.probeTokens} held-out tokens ("alive", METHODS §4's default) ` +
      `or a seeded uniform sample of all latents, dead ones included ("random"). Probability addition over the top ${r.topN} tokens of W_U·d_i ("wu", METHODS) or over the ${r.topN} tokens ` +
      `whose mean probability steering raised most on held-out batch 0 ("measured"), both scored on held-out batch 1 (${r.batchSeqs} × ${r.seqLen} tokens). ` +
      'TopK and g-SAE: mean over seeds; ratio: mean of the per-seed ratios with a 95% t interval over seeds; last column: the seed-paired difference interval.',
    '',
    ...steeringTableLines(r),
    '',
    'Diagnostics (means over each sample\'s latents, then over seeds; "all-alive": every alive latent):',
    '',
    ...Object.entries(DIAGNOSTICS).map(([k, v]) => `- \`${k}\`: ${v}`),
    '',
    ...diagnosticTableLines(r),
    '',
  ].join('\n');
}
