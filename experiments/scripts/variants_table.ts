/**
 * Trains SAE variants on real activations of the default model at one fixed token budget and
 * prints a table of held-out reconstruction metrics (METHODS §3): FVU, L0, dead fraction (the
 * `deadTokens` rule at the end of training), latents never active on the evaluation set, γ,
 * the first and last logged training loss, tokens and wall time. No downstream or steering
 * evaluation (use `gsae experiment` for those); this is the quick check of issue 4 and the tool
 * the sparsity coefficients in experiments/suites.ts and sae/config.ts were calibrated with.
 *
 *   npm run build
 *   node --experimental-wasm-relaxed-simd dist/experiments/scripts/variants_table.js \
 *     [--tokens 240000] [--batch 1024] [--expansion 8] [--seed 0] [--lr 0.004] [--warmup 20] \
 *     [--cache .cache] [--out table.json] [id=variant[,field=value...] ...]
 *
 * `--lr` and `--warmup` (lrWarmupSteps) apply to every run that does not set them (default: the
 * config's LR rule, 2e-4/sqrt(m/2^14), and no warm-up).
 * Without runs it trains the six variants with their defaults (sae/config.ts) at k = 16. A run
 * is `id=variant` followed by config fields, e.g. `relu-2=relu_l1,l1Coefficient=2` or
 * `jr=jumprelu,l1Coefficient=0.5,initThreshold=0.5,bandwidth=0.1`. Hook, sequence length and
 * store sizes are the pareto suite's quick preset (blocks.2.hook_resid_pre, 120k-token training
 * store cycled, 16k held-out tokens), so the stores are shared with `gsae experiment`.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as E from '../../engine/index.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { hookLayerOf, type SaeTrainConfig } from '../../sae/config.js';
import { disposeSae } from '../../sae/model.js';
import { StoreSource } from '../../sae/store/source.js';
import { SaeTrainer } from '../../sae/trainer.js';
import type { LogRecord } from '../../sae/train_log.js';
import { saeEvalDictionary } from '../adapters.js';
import { defaultModel } from '../default_model.js';
import { ReconstructionAccumulator } from '../eval/reconstruction.js';
import { storeFor } from '../runner.js';
import { getSuite, resolveHook, suitePreset } from '../suites.js';

export type RunArg = { id: string } & Partial<SaeTrainConfig>;

/** The six variants at their defaults; k = 16 for the TopK family (g-SAE: β = 1, RMS-normalised a). */
export const DEFAULT_RUNS: RunArg[] = [
  { id: 'topk-k16', variant: 'topk', k: 16 },
  { id: 'gsae-k16-b1', variant: 'gsae', k: 16, beta: 1, gradNorm: 'rms' },
  { id: 'batchtopk-k16', variant: 'batchtopk', k: 16 },
  { id: 'relu_l1', variant: 'relu_l1' },
  { id: 'gated', variant: 'gated' },
  { id: 'jumprelu', variant: 'jumprelu' },
];

/** `id=variant,field=value,...` → a run (numbers, booleans and number lists `a;b` are parsed). */
export function parseRun(s: string): RunArg {
  const [head, ...fields] = s.split(',');
  const eq = head!.indexOf('=');
  if (eq <= 0) throw new Error(`run '${s}': expected id=variant[,field=value...]`);
  const run: Record<string, unknown> = { id: head!.slice(0, eq), variant: head!.slice(eq + 1) };
  for (const f of fields) {
    const i = f.indexOf('=');
    if (i <= 0) throw new Error(`run '${s}': field '${f}' is not field=value`);
    const v = f.slice(i + 1);
    run[f.slice(0, i)] = v === 'true' ? true : v === 'false' ? false : v.includes(';') ? v.split(';').map(Number) : Number.isNaN(Number(v)) ? v : Number(v);
  }
  return run as RunArg;
}

export interface TableRow {
  id: string;
  variant: string;
  config: Record<string, unknown>;
  tokens: number;
  steps: number;
  fvu: number;
  l0: number;
  dead_fraction: number;
  never_active_fraction: number;
  gamma: number;
  first_loss: number;
  last_loss: number;
  first_l0: number;
  last_train_l0: number;
  wall_seconds: number;
}

function parseArgs(argv: string[]): { opts: Record<string, string>; runs: RunArg[] } {
  const opts: Record<string, string> = {};
  const runs: RunArg[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a}: missing value`);
      opts[a.slice(2)] = v;
    } else runs.push(parseRun(a));
  }
  return { opts, runs };
}

const fmt = (v: number, p = 3) => (Number.isFinite(v) ? v.toFixed(p) : String(v));

export function markdownTable(rows: TableRow[]): string {
  const head = '| run | variant | settings | FVU | L0 | dead | never active | γ | loss first → last | train L0 first → last | tokens | wall s |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|---|---|';
  const body = rows.map((r) => {
    const s = Object.entries(r.config).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toPrecision(3) : v}`).join(' ');
    return `| ${r.id} | ${r.variant} | ${s} | ${fmt(r.fvu)} | ${fmt(r.l0, 1)} | ${fmt(100 * r.dead_fraction, 1)}% | ${fmt(100 * r.never_active_fraction, 1)}% | ${fmt(r.gamma)} | ${fmt(r.first_loss, 1)} → ${fmt(r.last_loss, 2)} | ${fmt(r.first_l0, 0)} → ${fmt(r.last_train_l0, 1)} | ${r.tokens} | ${fmt(r.wall_seconds, 0)} |`;
  });
  return [head, sep, ...body].join('\n');
}

export async function main(argv: string[]): Promise<TableRow[]> {
  const { opts, runs: given } = parseArgs(argv);
  const runs = given.length ? given : DEFAULT_RUNS;
  const quick = suitePreset(getSuite('pareto'), 'quick');
  const tokens = Number(opts.tokens ?? 240_000);
  const batchSize = Number(opts.batch ?? quick.batchSize);
  const expansion = Number(opts.expansion ?? quick.expansion);
  const seed = Number(opts.seed ?? 0);
  const cacheDir = opts.cache ?? '.cache';
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const model = await defaultModel({ cacheDir, log });
  const preset = { ...quick, hook: resolveHook(quick.hook, model.cfg.n_layer) };
  const corpus = tokenizeCorpus(model.corpus, 'gpt2-restricted', 0.9, model.tokenizer);
  const trainStore = storeFor(model, { cacheDir }, preset, 'train', corpus.train, preset.storeTrainTokens, log);
  const evalStore = storeFor(model, { cacheDir }, preset, 'val', corpus.val, preset.evalTokens, log);
  const d = trainStore.d;
  const dSae = expansion * d;
  const steps = Math.ceil(tokens / batchSize);
  log(`backend ${E.backend().name}; ${model.id} ${preset.hook}, d_in ${d}, d_sae ${dSae}, ${steps} steps × ${batchSize} tokens, seed ${seed}`);

  const rows: TableRow[] = [];
  for (const run of runs) {
    const { id, ...given } = run;
    const cfg: Partial<SaeTrainConfig> = {
      ...(opts.lr !== undefined ? { lr: Number(opts.lr) } : {}),
      ...(opts.warmup !== undefined ? { lrWarmupSteps: Number(opts.warmup) } : {}),
      ...given,
    };
    const logs: LogRecord[] = [];
    const t0 = Date.now();
    const trainer = SaeTrainer.create(
      {
        ...cfg, dIn: d, dSae, seed, batchSize, totalSteps: steps, logEvery: 10, initSamples: 4096,
        hookName: preset.hook, hookLayer: hookLayerOf(preset.hook), contextSize: preset.seqLen, modelName: model.id, datasetPath: model.corpus,
      },
      new StoreSource(trainStore.dir, batchSize, seed),
      { onLog: (r) => logs.push(r) },
    );
    trainer.run();
    const sae = trainer.model();
    const resolved = trainer.cfg;
    trainer.dispose();
    const dict = saeEvalDictionary(sae);
    const acc = new ReconstructionAccumulator(d, dSae, dict.firedThreshold);
    for (const b of evalStore.sequential(1024)) {
      E.tidy(() => {
        const x = E.tensor(b.x, [b.rows, d]);
        const f = dict.encode(x, dict.needsGrad ? E.tensor(b.g!, [b.rows, d]) : undefined);
        acc.add(b.x, dict.decode(f).toArray(), f.toArray());
      });
    }
    disposeSae(sae);
    const rec = acc.result();
    const first = logs[0]!;
    const last = logs.at(-1)!;
    const shown: Record<string, unknown> = {};
    for (const key of ['k', 'beta', 'gradNorm', 'l1Coefficient', 'initThreshold', 'bandwidth', 'thresholdLr', 'lr', 'lrWarmupSteps'] as const) {
      const relevant =
        key === 'k' ? ['topk', 'gsae', 'batchtopk'].includes(resolved.variant)
        : key === 'beta' || key === 'gradNorm' ? resolved.variant === 'gsae'
        : key === 'l1Coefficient' ? ['relu_l1', 'gated', 'jumprelu'].includes(resolved.variant)
        : key === 'initThreshold' || key === 'bandwidth' ? resolved.variant === 'jumprelu'
        : key === 'thresholdLr' ? resolved.variant === 'batchtopk'
        : true; // lr and warm-up, always
      if (relevant) shown[key] = resolved[key];
    }
    const row: TableRow = {
      id, variant: resolved.variant, config: shown, tokens: steps * batchSize, steps,
      fvu: rec.fvu, l0: rec.l0, dead_fraction: last['sparsity/dead_features']! / dSae, never_active_fraction: rec.never_active_fraction, gamma: rec.gamma,
      first_loss: first['losses/overall_loss']!, last_loss: last['losses/overall_loss']!,
      first_l0: first['metrics/l0']!, last_train_l0: last['metrics/l0']!,
      wall_seconds: (Date.now() - t0) / 1000,
    };
    rows.push(row);
    log(`${id}: FVU ${fmt(row.fvu, 4)}, L0 ${fmt(row.l0, 2)}, dead ${fmt(100 * row.dead_fraction, 1)}%, loss ${fmt(row.first_loss, 1)} → ${fmt(row.last_loss, 2)}, ${fmt(row.wall_seconds, 0)} s`);
    if (opts.out) writeFileSync(opts.out, JSON.stringify(rows, null, 2));
  }
  console.log(markdownTable(rows));
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
