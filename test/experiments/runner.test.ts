/**
 * End to end on a tiny model: train a 1-layer GPT-2 for a few steps, then run a two-SAE suite
 * (TopK and g-SAE) through store building, training, evaluation and the report; then the
 * `sae eval`, `steer` and `report` commands on what the suite wrote.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readManifest } from '../../sae/store/manifest.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli as cli } from '../cli_helpers.js';
import { saeCommand } from '../../cli/commands/sae.js';
import { steerCommand } from '../../cli/commands/steer.js';
import { reportCommand } from '../../cli/commands/report.js';
import { microSuiteConfig, trainMicroModel } from './micro.js';
import { runExperiment } from '../../experiments/runner.js';
import type { SuiteConfig } from '../../experiments/suites.js';

describe('experiment runner (tiny end to end)', () => {
  it('builds stores, trains, evaluates and reports; a re-run reuses finished SAEs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gsae-exp-'));
    try {
      const modelDir = await trainMicroModel(dir);
      const config: SuiteConfig = microSuiteConfig('gsae-vs-topk', {
        trainTokens: 256 * 4,
        steering: { latents: 4, c: 1, topN: 3, contexts: 1 },
        runs: [
          { id: 'topk-k4', group: 'TopK', variant: 'topk', k: 4 },
          { id: 'gsae-k4-b1', group: 'g-SAE β=1', variant: 'gsae', k: 4, beta: 1, gradNorm: 'rms' },
        ],
      });
      const out = join(dir, 'out');
      const logs: string[] = [];
      const res = await runExperiment({ suite: 'gsae-vs-topk', preset: 'quick', out, cacheDir: join(dir, 'cache'), model: modelDir, config, log: (s) => logs.push(s) });
      expect(res.rows).toHaveLength(4);
      expect(res.rows.map((r) => `${r.id} s${r.seed}`)).toEqual(['topk-k4 s0', 'gsae-k4-b1 s0', 'topk-k4 s1', 'gsae-k4-b1 s1']);
      for (const r of res.rows) {
        expect(r.fvu as number).toBeGreaterThan(0);
        expect(r.l0 as number).toBeGreaterThan(0);
        expect(r.l0 as number).toBeLessThanOrEqual(4);
        expect(Number.isFinite(r.loss_added as number)).toBe(true);
        expect(Number.isFinite(r.steer_mean as number)).toBe(true);
      }
      for (const f of ['results.json', 'results.csv', 'report.md', 'plots/fvu_vs_k.svg', 'plots/steering.svg']) expect(existsSync(join(out, f))).toBe(true);
      // the stores are recorded, so `gsae explore <out>` finds the held-out eval store
      const stores = (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { meta: { stores: { train: string; eval: string } } }).meta.stores;
      expect(readManifest(stores.eval).tokens).toEqual({ source: 'data/tinyshakespeare/input.txt#val', start: 0, end: 256 });
      expect(readManifest(stores.train).tokens).toEqual({ source: 'data/tinyshakespeare/input.txt#train', start: 0, end: 1024 });
      const md = readFileSync(join(out, 'report.md'), 'utf8');
      // two seeds: every claim gets a seed-paired interval and one of the three verdicts
      expect(md).toMatch(/k=4, g-SAE β=1 vs TopK \(seeds 0, 1\): "lower loss added" \*\*(holds|reversed|unresolved)\*\* \(Δ [-0-9.e]+ \[[-0-9.e]+, [-0-9.e]+\]\)/);
      expect(md).toMatch(/\*\*Protocol\.\*\* Every configuration is trained once per seed \(seeds 0, 1; n = 2\)/);
      expect(md).toMatch(/\| gsae-k4-b1 − topk-k4 \| 2 \|/);
      const again = await runExperiment({ suite: 'gsae-vs-topk', preset: 'quick', out, cacheDir: join(dir, 'cache'), model: modelDir, config, log: (s) => logs.push(s) });
      expect(again.rows).toEqual(res.rows);
      expect(logs.some((l) => l.includes('done earlier'))).toBe(true);

      // `gsae sae eval` on the suite's TopK SAE, same model, store and token budget, reproduces its row.
      const sae = join(out, 'runs', 'topk-k4-s0', 'sae');
      const common = ['--model', modelDir, '--cache', join(dir, 'cache'), '--seq-len', '16'];
      const evalOut = await cli(saeCommand, ['sae', 'eval', '--sae', sae, ...common, '--tokens', '256', '--steer-latents', '4', '--json']);
      const ev = JSON.parse(evalOut[0]!) as Record<string, number>;
      const row = res.rows.find((r) => r.id === 'topk-k4')!;
      for (const k of ['fvu', 'l0', 'loss_added', 'kl']) expect(ev[k], k).toBeCloseTo(row[k] as number, 6);

      // `gsae steer`: the chosen latents, each with top-N tokens and a finite probability addition.
      const st = JSON.parse((await cli(steerCommand, ['steer', '--sae', sae, ...common, '--tokens', '256', '--latents', '0', '5', '--top-n', '3', '--json']))[0]!) as {
        latents: { latent: number; tokens: number[]; text: string[]; probability_addition: number }[];
        mean: number;
      };
      expect(st.latents.map((l) => l.latent)).toEqual([0, 5]);
      for (const l of st.latents) {
        expect(l.tokens).toHaveLength(3);
        expect(l.text).toHaveLength(3);
        expect(Number.isFinite(l.probability_addition)).toBe(true);
      }
      expect(st.mean).toBeCloseTo((st.latents[0]!.probability_addition + st.latents[1]!.probability_addition) / 2, 10);
      await expect(cli(steerCommand, ['steer', '--sae', sae, ...common, '--latents', '32'])).rejects.toThrow(/--latents: 32 is not a latent of .* \(d_sae = 32\)/);
      await expect(cli(saeCommand, ['sae', 'eval', '--sae', join(dir, 'nowhere'), ...common])).rejects.toThrow(/nowhere/);

      // `gsae report` rebuilds report.md and the plots from results.json and prints the table.
      const mdNow = readFileSync(join(out, 'report.md'), 'utf8'); // the re-run rewrote it (wall time)
      rmSync(join(out, 'report.md'));
      rmSync(join(out, 'plots'), { recursive: true });
      const table = (await cli(reportCommand, ['report', out])).join('\n');
      expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(mdNow);
      expect(existsSync(join(out, 'plots', 'steering.svg'))).toBe(true);
      expect(table).toMatch(/topk-k4/);
      expect(table).toMatch(/gsae-k4-b1/);
      await expect(cli(reportCommand, ['report', join(dir, 'nowhere')])).rejects.toThrow(/has no results\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
