/**
 * Reading a finished `gsae experiment` folder for post-hoc analyses (steering investigation,
 * feature splitting): its results.json, the SAE folder of each (run id, seed), and the default
 * g-SAE vs TopK pairs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SAE_CFG_FILENAME, SAE_WEIGHTS_FILENAME } from '../../sae/saelens.js';

/** A result row as the analyses need it (results.json rows carry many more fields). */
export interface RunRow {
  id: string;
  variant: string;
  k: number;
  seed: number;
  d_sae?: number;
  [key: string]: unknown;
}

/** What the analyses need of results.json's meta.config. */
export interface RunConfig {
  hook: string;
  seqLen: number;
  evalTokens: number;
  [key: string]: unknown;
}

export interface RunInfo {
  dir: string;
  rows: RunRow[];
  cfg: RunConfig;
  /** meta.model.dir and meta.model.id (the id names the weights' digest; caches key on it) */
  model: { dir: string; id?: string };
}

/** A g-SAE run id and the TopK run id it is compared with (same k, same d_sae). */
export interface RunPair {
  gsae: string;
  topk: string;
}

/** Reads `<dir>/results.json`, with errors that name what is missing. */
export function readRun(dir: string): RunInfo {
  const file = join(dir, 'results.json');
  if (!existsSync(file)) throw new Error(`${dir}: no results.json (expected the output folder of 'gsae experiment <suite>')`);
  let parsed: { meta?: { config?: RunConfig; model?: { dir?: string; id?: string } }; rows?: RunRow[] };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const cfg = parsed.meta?.config;
  if (!cfg || typeof cfg.hook !== 'string' || !(cfg.seqLen > 0) || !(cfg.evalTokens > 0)) throw new Error(`${file}: meta.config lacks hook, seqLen or evalTokens`);
  const modelDir = parsed.meta?.model?.dir;
  if (typeof modelDir !== 'string') throw new Error(`${file}: meta.model.dir is missing`);
  if (!Array.isArray(parsed.rows)) throw new Error(`${file}: no rows`);
  const rows = parsed.rows.map((r) => ({ ...r, id: String(r.id), variant: String(r.variant), k: Number(r.k), seed: Number(r.seed) }));
  return { dir, rows, cfg, model: { dir: modelDir, id: parsed.meta?.model?.id } };
}

/** The SAELens folder of run `id` at `seed`; throws naming the folder when it is missing or incomplete. */
export function saeDirOf(runDir: string, id: string, seed: number): string {
  const dir = join(runDir, 'runs', `${id}-s${seed}`, 'sae');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${id} seed ${seed}: no SAE folder ${dir} (not trained yet, or a different run folder?)`);
  for (const f of [SAE_CFG_FILENAME, SAE_WEIGHTS_FILENAME]) {
    if (!existsSync(join(dir, f))) throw new Error(`${id} seed ${seed}: SAE folder ${dir} has no ${f} (interrupted training?)`);
  }
  return dir;
}

/**
 * Every g-SAE run id with the TopK run id of the same k (and the same d_sae, where rows record it),
 * in the order the g-SAEs first appear; `ids`, when given, keeps only pairs with both members in it.
 */
export function defaultPairs(rows: readonly RunRow[], ids?: readonly string[]): RunPair[] {
  const keep = (id: string) => !ids || ids.includes(id);
  const out: RunPair[] = [];
  const seen = new Set<string>();
  for (const g of rows) {
    if (g.variant !== 'gsae' || seen.has(g.id) || !keep(g.id)) continue;
    seen.add(g.id);
    const t = rows.find((r) => r.variant === 'topk' && r.k === g.k && (g.d_sae === undefined || r.d_sae === undefined || r.d_sae === g.d_sae) && keep(r.id));
    if (t) out.push({ gsae: g.id, topk: t.id });
  }
  return out;
}

/** Checks that every pair names ids present in the rows, and returns the seeds both members have (sorted). */
export function pairSeeds(rows: readonly RunRow[], pair: RunPair, seeds?: readonly number[]): number[] {
  for (const id of [pair.gsae, pair.topk]) if (!rows.some((r) => r.id === id)) throw new Error(`pair ${pair.gsae} / ${pair.topk}: no run '${id}' in results.json (ids: ${[...new Set(rows.map((r) => r.id))].join(', ')})`);
  const of = (id: string) => new Set(rows.filter((r) => r.id === id).map((r) => r.seed));
  const g = of(pair.gsae);
  const t = of(pair.topk);
  return [...g].filter((s) => t.has(s) && (!seeds || seeds.includes(s))).sort((a, b) => a - b);
}
