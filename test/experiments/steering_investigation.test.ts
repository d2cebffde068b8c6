/**
 * The steering investigation over a run folder (experiments/eval/steering_investigation.ts) on the
 * tiny model and random SAEs: rows, pair table and diagnostics have the documented shape; every
 * tensor is freed; a second call reads the per-SAE caches and computes nothing (no model load);
 * an interrupted cache or more c values redo only what is missing; bad inputs name the problem.
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { TINY_MODEL } from '../../experiments/default_model.js';
import { aliveMask, CACHE_FILE, DIAGNOSTICS, renderSteeringInvestigation, steeringInvestigation, steeringTableLines, type SteeringInvestigationOptions } from '../../experiments/eval/steering_investigation.js';
import { main } from '../../experiments/scripts/steering_sweep.js';
import { HOOK, randomSae, tmp } from '../features/helpers.js';

const root = tmp();
afterAll(() => rmSync(root, { recursive: true, force: true }));

const rows = [0, 1].flatMap((seed) => [
  { id: 'topk-k4', variant: 'topk', k: 4, seed, d_sae: 32 },
  { id: 'gsae-k4-b1', variant: 'gsae', k: 4, seed, d_sae: 32 },
]);

function writeRun(dir: string, o: { saes?: boolean; dIn?: number; evalTokens?: number } = {}): string {
  mkdirSync(dir, { recursive: true });
  // 12 held-out sequences of 8 tokens: three batches of 4 (select, score, and one more)
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ meta: { config: { hook: HOOK, seqLen: 8, evalTokens: o.evalTokens ?? 96 }, model: { dir: TINY_MODEL, id: 'tiny-test' } }, rows }));
  if (o.saes ?? true) {
    for (const r of rows) randomSae(join(dir, 'runs', `${r.id}-s${r.seed}`, 'sae'), { kind: r.variant as 'topk' | 'gsae', dIn: o.dIn ?? 128, dSae: 32, k: 4, seed: 10 * r.seed + (r.variant === 'gsae' ? 1 : 0) });
  }
  return dir;
}

/** The latents of an SAE's two samples, from the cache file's cells at c = 4. */
function latentsOf(r: { dir: string }, id: string, seed: number): string[] {
  const cache = JSON.parse(readFileSync(join(r.dir, 'runs', `${id}-s${seed}`, CACHE_FILE), 'utf8')) as { entries: Record<string, { cells: Record<string, unknown> }> };
  return Object.keys(Object.values(cache.entries)[0]!.cells).filter((k) => k.endsWith('@4'));
}

const opts: SteeringInvestigationOptions = { cs: [1, 2], latents: 3, topN: 3, batchSeqs: 4, probeBatches: 2 };

describe('steering investigation', () => {
  const dir = writeRun(join(root, 'run'));
  let first: ReturnType<typeof steeringInvestigation>;

  it('computes rows, the pair table and diagnostics, and frees every tensor', () => {
    const live = E.memory().tensors;
    first = steeringInvestigation(dir, opts);
    expect(E.memory().tensors).toBe(live);
    expect(first.computed.setup).toBe(true);
    expect(first.computed.saes).toBe(4);
    expect(first.pairs).toEqual([{ gsae: 'gsae-k4-b1', topk: 'topk-k4' }]);
    // 2 ids × 2 seeds × 2 samples × 2 c × 2 rules
    expect(first.rows).toHaveLength(32);
    for (const r of first.rows) {
      expect(r.n).toBe(3);
      expect(Number.isFinite(r.mean)).toBe(true);
    }
    expect(first.table.map((x) => [x.sample, x.c, x.what])).toEqual([
      ['alive', 1, 'wu'], ['alive', 1, 'measured'], ['alive', 2, 'wu'], ['alive', 2, 'measured'],
      ['random', 1, 'wu'], ['random', 1, 'measured'], ['random', 2, 'wu'], ['random', 2, 'measured'],
    ]);
    for (const x of first.table) {
      expect(x.seeds).toEqual([0, 1]);
      const g = first.rows.filter((r) => r.id === 'gsae-k4-b1' && r.sample === x.sample && r.c === x.c && r.rule === x.what);
      const t = first.rows.filter((r) => r.id === 'topk-k4' && r.sample === x.sample && r.c === x.c && r.rule === x.what);
      expect(x.ratio.mean).toBeCloseTo((g[0]!.mean / t[0]!.mean + g[1]!.mean / t[1]!.mean) / 2, 12);
      expect(x.diff.mean).toBeCloseTo((g[0]!.mean - t[0]!.mean + g[1]!.mean - t[1]!.mean) / 2, 12);
    }
    // the alive sample is alive by construction; diagnostics exist for every metric
    const metric = (m: string, sample: string) => first.diagnostics.filter((x) => x.metric === m && x.sample === sample);
    for (const x of metric('alive_fraction', 'alive')) expect(x.value).toBe(1);
    for (const x of metric('decoder_norm', 'all-alive')) expect(x.value).toBeCloseTo(1, 5); // randomSae rows are unit norm
    for (const m of Object.keys(DIAGNOSTICS)) expect(first.diagnosticTable.some((x) => x.what === m)).toBe(true);
    for (const x of metric('overlap', 'random')) expect(x.value >= 0 && x.value <= 1).toBe(true);
    expect(aliveMask(first, 'topk-k4', 0, 32)!.reduce((s, v) => s + v, 0)).toBe(first.alive['topk-k4-s0']!.length);
    const md = renderSteeringInvestigation(first);
    expect(md).toContain('| gsae-k4-b1 / topk-k4 | alive | 1 | wu |');
    expect(md).toContain('`logit_norm`');
    expect(steeringTableLines(first)).toHaveLength(2 + 8);
  });

  it('a second call reads the caches and computes nothing (not even the model)', () => {
    const again = steeringInvestigation(dir, opts);
    expect(again.computed).toEqual({ setup: false, saes: 0, latents: 0 });
    expect(again.rows).toEqual(first.rows);
    expect(again.diagnostics).toEqual(first.diagnostics);
    expect(again.meanNorm).toBeCloseTo(first.meanNorm, 12);
  });

  it('the script is a thin command line over it: same table, --diagnostics, --out', async () => {
    const lines: string[] = [];
    const out = join(root, 'sweep.json');
    // the script keeps the runner's 16 sequences per held-out batch: 33 sequences make three batches
    const cli = writeRun(join(root, 'cli'), { evalTokens: 8 * 33 });
    await main([cli, '--cs', '1,2', '--latents', '3', '--top-n', '3', '--diagnostics', '--out', out], (s) => lines.push(s));
    const table = lines[0]!.split('\n');
    expect(table[0]).toBe('| pair | sample | c | rule | TopK | g-SAE | ratio g/TopK [95% t over seeds] | g − TopK [95% paired t] |');
    expect(table).toHaveLength(10);
    expect(lines[1]).toContain('| pair | latents | diagnostic |');
    const json = JSON.parse(readFileSync(out, 'utf8')) as { table: string[]; rows: unknown[]; cs: number[] };
    expect(json.table).toEqual(table);
    expect(json.cs).toEqual([1, 2]);
    expect(json.rows).toHaveLength(32);
  });

  it('after an interruption only the missing cells are computed; more c values add only their cells', () => {
    const file = join(dir, 'runs', 'gsae-k4-b1-s1', CACHE_FILE);
    const cache = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, { cells: Record<string, unknown> }> };
    const entry = Object.values(cache.entries)[0]!;
    const dropped = Object.keys(entry.cells).filter((k) => k.endsWith('@2')).slice(0, 2);
    for (const k of dropped) delete entry.cells[k];
    writeFileSync(file, JSON.stringify(cache));
    const resumed = steeringInvestigation(dir, opts);
    expect(resumed.computed).toEqual({ setup: true, saes: 1, latents: 2 });
    expect(resumed.rows.length).toBe(first.rows.length);
    resumed.rows.forEach((r, i) => expect(r.mean).toBeCloseTo(first.rows[i]!.mean, 6));

    const more = steeringInvestigation(dir, { ...opts, cs: [1, 2, 4] });
    expect(more.computed.saes).toBe(4);
    // one steering per distinct latent of each SAE's two samples, for the new c only
    const distinct = (id: string, seed: number) => latentsOf(more, id, seed).length;
    expect(more.computed.latents).toBe(rows.reduce((s, r) => s + distinct(r.id, r.seed), 0));
    expect(more.rows).toHaveLength(48);
    // the c = 1, 2 cells are the cached ones
    for (const r of first.rows) expect(more.rows.find((x) => x.id === r.id && x.seed === r.seed && x.sample === r.sample && x.c === r.c && x.rule === r.rule)!.mean).toBe(r.mean);

    // a retrained SAE (new weights) is computed afresh and its stale cache entry dropped
    randomSae(join(dir, 'runs', 'topk-k4-s0', 'sae'), { kind: 'topk', dIn: 128, dSae: 32, k: 4, seed: 99 });
    const retrained = steeringInvestigation(dir, opts);
    expect(retrained.computed.saes).toBe(1);
    const entries = Object.keys((JSON.parse(readFileSync(join(dir, 'runs', 'topk-k4-s0', CACHE_FILE), 'utf8')) as { entries: object }).entries);
    expect(entries).toHaveLength(1);
  });

  it('bad inputs name the problem', () => {
    expect(() => steeringInvestigation(join(root, 'nothing'), opts)).toThrow(/nothing: no results\.json/);
    const untrained = writeRun(join(root, 'untrained'), { saes: false });
    expect(() => steeringInvestigation(untrained, opts)).toThrow(/topk-k4 seed 0: no SAE folder .*untrained\/runs\/topk-k4-s0\/sae/);
    expect(() => steeringInvestigation(dir, { ...opts, cs: [1, -2] })).toThrow(/every c must be a positive number/);
    expect(() => steeringInvestigation(dir, { ...opts, ids: ['topk-k4'] })).toThrow(/no g-SAE \/ TopK pair at equal k/);
    const narrow = writeRun(join(root, 'narrow'), { dIn: 16 });
    const live = E.memory().tensors;
    expect(() => steeringInvestigation(narrow, opts)).toThrow(/topk-k4 seed 0: SAE d_in 16 does not match the model's width 128 at blocks\.2\.hook_resid_pre/);
    expect(E.memory().tensors).toBe(live); // freed on the error path too
  });
});
