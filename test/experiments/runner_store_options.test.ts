/**
 * The runner with store options, end to end on a tiny model: a g-SAE reference, a run trained on
 * gradients with the reference spliced in (per seed), and runs on the mean-loss store (gradNorm
 * 'rms' and 'none'); new result columns, store folders in results.json, manifests that record the
 * option, the spliced stores' clean x, the ablation table, and a re-run that reuses everything.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest } from '../../sae/store/manifest.js';
import { StoreReader } from '../../sae/store/reader.js';
import { microSuiteConfig, trainMicroModel } from './micro.js';
import { runExperiment } from '../../experiments/runner.js';
import type { SuiteConfig } from '../../experiments/suites.js';
import { saeDigest } from '../../experiments/train_stores.js';

const rowsOf = (r: StoreReader, f: 'x' | 'g') => [...r.sequential(1 << 20)].flatMap((b) => Array.from(b[f]!));

describe('experiment runner: store options (tiny end to end)', () => {
  it('trains on spliced and mean-loss stores, records them, and resumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gsae-exp-store-'));
    try {
      const modelDir = await trainMicroModel(dir);
      const g = { variant: 'gsae' as const, k: 4, beta: 1 };
      const config: SuiteConfig = microSuiteConfig('ablations', {
        runs: [
          { id: 'gsae-k4-b1', group: 'ref', ...g, gradNorm: 'rms' },
          { id: 'gsae-k4-b1-spliced', group: 'spliced', ...g, gradNorm: 'rms', store: { gradSource: 'spliced', spliceRun: 'gsae-k4-b1' } },
          { id: 'gsae-k4-b1-mean', group: 'mean', ...g, gradNorm: 'rms', store: { gradReduction: 'mean' } },
          { id: 'gsae-k4-raw-mean', group: 'raw mean', ...g, gradNorm: 'none', store: { gradReduction: 'mean' } },
        ],
      });
      const out = join(dir, 'out');
      const cache = join(dir, 'cache');
      const logs: string[] = [];
      const res = await runExperiment({ suite: 'ablations', preset: 'quick', out, cacheDir: cache, model: modelDir, config, log: (s) => logs.push(s) });
      expect(res.rows.map((r) => `${r.id} s${r.seed}`)).toEqual([0, 1].flatMap((s) => ['gsae-k4-b1', 'gsae-k4-b1-spliced', 'gsae-k4-b1-mean', 'gsae-k4-raw-mean'].map((id) => `${id} s${s}`)));
      const col = (id: string, key: string) => res.rows.filter((r) => r.id === id).map((r) => r[key]);
      expect(col('gsae-k4-b1', 'grad_source')).toEqual(['clean', 'clean']);
      expect(col('gsae-k4-b1', 'grad_reduction')).toEqual(['sum', 'sum']);
      expect(col('gsae-k4-b1', 'splice_run')).toEqual([null, null]);
      expect(col('gsae-k4-b1-spliced', 'grad_source')).toEqual(['spliced', 'spliced']);
      expect(col('gsae-k4-b1-spliced', 'splice_run')).toEqual(['gsae-k4-b1', 'gsae-k4-b1']);
      expect(col('gsae-k4-b1-mean', 'grad_reduction')).toEqual(['mean', 'mean']);
      expect(col('gsae-k4-raw-mean', 'grad_reduction')).toEqual(['mean', 'mean']);
      for (const r of res.rows) expect(Number.isFinite(r.loss_added as number), `${r.id}`).toBe(true);
      const csv = readFileSync(join(out, 'results.csv'), 'utf8').split('\n')[0]!.split(',');
      for (const c of ['grad_source', 'grad_reduction', 'splice_run']) expect(csv).toContain(c);

      // the stores: one mean train store, one spliced store per seed, a mean held-out store
      const metaOf = () => (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { meta: { stores: { train: string; eval: string; options: Record<string, string> } } }).meta;
      const meta = metaOf();
      const opts = meta.stores.options;
      expect(Object.keys(opts).sort()).toEqual(['train-mean', 'train-spliced-gsae-k4-b1-s0', 'train-spliced-gsae-k4-b1-s1', 'val-mean']);
      expect(new Set([meta.stores.train, meta.stores.eval, ...Object.values(opts)]).size).toBe(6);
      const clean = new StoreReader(meta.stores.train);
      const cleanX = rowsOf(clean, 'x'), cleanG = rowsOf(clean, 'g');
      for (const s of [0, 1]) {
        const m = readManifest(opts[`train-spliced-gsae-k4-b1-s${s}`]!);
        const saeDir = join(out, 'runs', `gsae-k4-b1-s${s}`, 'sae');
        expect(m).toMatchObject({ gradSource: 'spliced', gradReduction: 'sum', splice: { run: 'gsae-k4-b1', seed: s, sha256: saeDigest(saeDir), encodeGradReduction: 'sum' }, complete: true });
        const sp = new StoreReader(opts[`train-spliced-gsae-k4-b1-s${s}`]!);
        expect(rowsOf(sp, 'x')).toEqual(cleanX); // x stays the clean activation
        expect(rowsOf(sp, 'g')).not.toEqual(cleanG);
      }
      expect(readManifest(opts['train-mean']!)).toMatchObject({ gradSource: 'clean', gradReduction: 'mean' });
      expect(readManifest(opts['val-mean']!)).toMatchObject({ gradSource: 'clean', gradReduction: 'mean' });
      expect(readManifest(meta.stores.train)).toMatchObject({ gradSource: 'clean', gradReduction: 'sum' });

      // the report compares every option with the reference
      const md = readFileSync(join(out, 'report.md'), 'utf8');
      for (const id of ['gsae-k4-b1-spliced', 'gsae-k4-b1-mean', 'gsae-k4-raw-mean']) expect(md).toContain(`| ${id} − gsae-k4-b1 | 2 |`);
      expect(md).toContain('Exception: runs with a training-store option (gsae-k4-b1-spliced, gsae-k4-b1-mean, gsae-k4-raw-mean)');
      expect(md).toMatch(/- Gradient source: runs with grad_source 'spliced'/);

      // a re-run reuses every SAE and names the same stores
      const again = await runExperiment({ suite: 'ablations', preset: 'quick', out, cacheDir: cache, model: modelDir, config, log: (s) => logs.push(s) });
      expect(again.rows).toEqual(res.rows);
      expect(logs.filter((l) => l.includes('done earlier'))).toHaveLength(8);
      expect(metaOf().stores).toEqual(meta.stores);

      // bad store options fail before any work
      await expect(runExperiment({ suite: 'ablations', preset: 'quick', out: join(dir, 'bad'), cacheDir: cache, model: modelDir, config: { ...config, runs: [config.runs[1]!] } })).rejects.toThrow(/spliceRun 'gsae-k4-b1' is not a run of this suite/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
