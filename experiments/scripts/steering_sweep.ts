/**
 * The steering investigation on the SAEs an experiment already trained (issue 12, item 3): for
 * each chosen run and seed, probability addition over a sweep of c, two latent samples (alive on
 * held-out tokens, or uniform over all latents, dead ones included) and two associated-token rules
 * (experiments/eval/steering_sweep.ts: METHODS' W_U·d_i top-n, or the tokens steering actually
 * raises most, chosen on held-out batch 0 and scored on batch 1). Then, for each g-SAE vs TopK
 * pair at equal k, the per-seed ratio g-SAE/TopK with its 95% t interval over seeds, and the
 * seed-paired difference interval.
 *
 *   npm run build
 *   node dist/experiments/scripts/steering_sweep.js runs/gsae-vs-topk-quick [--ids topk-k32,gsae-k32-b1] \
 *     [--cs 0.5,1,2] [--latents 16] [--top-n 10] [--out sweep.json]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as E from '../../engine/index.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { disposeSae, loadSae } from '../../sae/model.js';
import { gpt2EvalModel, saeEvalDictionary } from '../adapters.js';
import { loadModelDir } from '../default_model.js';
import { pairedInterval, tInterval, type TInterval } from '../eval/statistics.js';
import { steeringSweep } from '../eval/steering_sweep.js';
import { sequenceBatches } from '../runner.js';
import type { SuiteConfig } from '../suites.js';
import type { Row } from '../report/tables.js';

interface SweepRow { id: string; variant: string; k: number; seed: number; sample: 'alive' | 'random'; c: number; rule: 'wu' | 'measured'; mean: number; n: number }

function arg(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : 'n/a');
const iv = (x: TInterval) => (x.n >= 2 ? `${fmt(x.mean)} [${fmt(x.lo)}, ${fmt(x.hi)}]` : `${fmt(x.mean)} (n = ${x.n})`);

async function main(argv: string[]): Promise<void> {
  const dir = argv[0];
  if (!dir || !existsSync(join(dir, 'results.json'))) throw new Error(`usage: steering_sweep.js <experiment dir with results.json> [...]; got '${dir ?? ''}'`);
  const { meta, rows } = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { meta: { config: SuiteConfig; model: { dir: string } }; rows: Row[] };
  const cfg = meta.config;
  const ids = (arg(argv, '--ids') ?? 'topk-k32,gsae-k32-b1').split(',');
  const cs = (arg(argv, '--cs') ?? '0.5,1,2').split(',').map(Number);
  if (cs.some((c) => !(c > 0))) throw new Error(`--cs: every c must be a positive number, got ${arg(argv, '--cs')}`);
  const L = Number(arg(argv, '--latents') ?? 16);
  const topN = Number(arg(argv, '--top-n') ?? 10);
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const model = loadModelDir(meta.model.dir);
  const corpus = tokenizeCorpus(model.corpus, 'gpt2-restricted', 0.9, model.tokenizer);
  const sequences = sequenceBatches(corpus.val, cfg.seqLen, cfg.evalTokens, 16);
  if (sequences.length < 2) throw new Error(`${dir}: the held-out set has ${sequences.length} batch(es); the sweep needs two (select and score)`);
  const evalModel = gpt2EvalModel(model.params, model.cfg);
  const hook = cfg.hook;
  // E||x|| at the hook over the held-out sequences, and activations + gradients of 4 batches for the alive sets
  let norm = 0;
  let nRows = 0;
  const probe: { x: E.Tensor; g: E.Tensor }[] = [];
  sequences.forEach((toks, b) => E.tidy(() => {
    const r = evalModel.actsAndGrads(toks, hook);
    const d = model.cfg.n_embd;
    const a = r.acts.toArray() as Float32Array;
    for (let i = 0; i < a.length / d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a[i * d + j]! ** 2;
      norm += Math.sqrt(s);
    }
    nRows += a.length / d;
    if (b < 4) probe.push({ x: E.keep(E.reshape(r.acts, [-1, d])), g: E.keep(E.reshape(r.grads, [-1, d])) });
  }));
  const meanNorm = norm / nRows;
  log(`hook ${hook}, E||x|| ${meanNorm.toFixed(4)}; c ∈ {${cs.join(', ')}}, ${L} latents, top ${topN} tokens`);

  const out: SweepRow[] = [];
  for (const r of rows.filter((x) => ids.includes(String(x.id)))) {
    const saeDir = join(dir, 'runs', `${r.id}-s${r.seed}`, 'sae');
    const sae = loadSae(saeDir);
    const dict = saeEvalDictionary(sae);
    const active = new Uint8Array(dict.dSae);
    for (const p of probe) {
      E.tidy(() => {
        const f = dict.encode(p.x, dict.needsGrad ? p.g : undefined).toArray() as Float32Array;
        for (let i = 0; i < f.length; i++) if (f[i]! > dict.firedThreshold) active[i % dict.dSae] = 1;
      });
    }
    const alive = [...active.keys()].filter((i) => active[i]);
    const seed = r.seed as number;
    const samples = {
      alive: new E.Rng(seed).fork('sweep:alive').shuffle(alive.slice()).slice(0, L),
      random: new E.Rng(seed).fork('sweep:random').shuffle([...active.keys()]).slice(0, L),
    };
    for (const [sample, latents] of Object.entries(samples) as ['alive' | 'random', number[]][]) {
      const cells = steeringSweep(evalModel, dict, hook, sequences[0]!, sequences[1]!, latents, { cs, topN, meanNorm });
      for (const c of cs) {
        for (const rule of ['wu', 'measured'] as const) {
          const xs = cells.filter((x) => x.c === c).map((x) => x[rule]);
          out.push({ id: String(r.id), variant: String(r.variant), k: r.k as number, seed, sample, c, rule, mean: xs.reduce((s, x) => s + x, 0) / xs.length, n: xs.length });
        }
      }
    }
    log(`${r.id} seed ${seed}: ${alive.length} alive latents; ` + out.filter((x) => x.id === r.id && x.seed === seed && x.sample === 'alive' && x.rule === 'wu').map((x) => `c ${x.c}: ${fmt(x.mean)}`).join(', '));
    disposeSae(sae);
  }

  // g-SAE vs TopK at equal k, per (sample, c, rule): ratio per seed and paired difference
  const lines = ['| pair | sample | c | rule | TopK | g-SAE | ratio g/TopK [95% t over seeds] | g − TopK [95% paired t] |', '|---|---|---|---|---|---|---|---|'];
  const gIds = [...new Set(out.filter((x) => x.variant === 'gsae').map((x) => x.id))];
  for (const gid of gIds) {
    const k = out.find((x) => x.id === gid)!.k;
    const tid = out.find((x) => x.variant === 'topk' && x.k === k)?.id;
    if (!tid) continue;
    for (const sample of ['alive', 'random'] as const) {
      for (const c of cs) {
        for (const rule of ['wu', 'measured'] as const) {
          const sel = (id: string) => new Map(out.filter((x) => x.id === id && x.sample === sample && x.c === c && x.rule === rule).map((x) => [x.seed, x.mean]));
          const g = sel(gid);
          const t = sel(tid);
          const seeds = [...g.keys()].filter((s) => t.has(s)).sort((a, b) => a - b);
          const gv = seeds.map((s) => g.get(s)!);
          const tv = seeds.map((s) => t.get(s)!);
          const ratio = tInterval(seeds.map((_, i) => gv[i]! / tv[i]!));
          const diff = pairedInterval(gv, tv);
          const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
          lines.push(`| ${gid} / ${tid} | ${sample} | ${c} | ${rule} | ${fmt(avg(tv))} | ${fmt(avg(gv))} | ${iv(ratio)} | ${iv(diff)} |`);
        }
      }
    }
  }
  console.log(lines.join('\n'));
  const file = arg(argv, '--out');
  if (file) writeFileSync(file, JSON.stringify({ dir, hook, meanNorm, cs, latents: L, topN, rows: out, table: lines }, null, 1) + '\n');
  E.dispose([...sequences, ...probe.flatMap((p) => [p.x, p.g])]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
