/**
 * End to end on a tiny model: train a 1-layer GPT-2 for a few steps, then run a two-SAE suite
 * (TopK and g-SAE) through store building, training, evaluation and the report.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, DEFAULT_MODEL_PRESET } from '../../models/gpt2/train.js';
import { runExperiment } from '../../experiments/runner.js';
import { getSuite, type SuiteConfig } from '../../experiments/suites.js';

describe('experiment runner (tiny end to end)', () => {
  it('builds stores, trains, evaluates and reports; a re-run reuses finished SAEs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gsae-exp-'));
    try {
      const modelDir = join(dir, 'model');
      await train({ ...DEFAULT_MODEL_PRESET, data: 'data/tinyshakespeare/input.txt', out: modelDir, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16, batchSize: 2, iters: 2, evalInterval: 2, evalIters: 1, checkpointInterval: 0 });
      const config: SuiteConfig = {
        ...getSuite('gsae-vs-topk').presets.quick,
        hook: 'blocks.0.hook_resid_post',
        expansion: 2,
        seqLen: 16,
        trainTokens: 256 * 4,
        batchSize: 256,
        storeTrainTokens: 1024,
        evalTokens: 256,
        steering: { latents: 4, c: 1, topN: 3, contexts: 1 },
        seeds: [0],
        runs: [
          { id: 'topk-k4', group: 'TopK', variant: 'topk', k: 4 },
          { id: 'gsae-k4-b1', group: 'g-SAE β=1', variant: 'gsae', k: 4, beta: 1, gradNorm: 'rms' },
        ],
      };
      const out = join(dir, 'out');
      const logs: string[] = [];
      const res = await runExperiment({ suite: 'gsae-vs-topk', preset: 'quick', out, cacheDir: join(dir, 'cache'), model: modelDir, config, log: (s) => logs.push(s) });
      expect(res.rows).toHaveLength(2);
      for (const r of res.rows) {
        expect(r.fvu as number).toBeGreaterThan(0);
        expect(r.l0 as number).toBeGreaterThan(0);
        expect(r.l0 as number).toBeLessThanOrEqual(4);
        expect(Number.isFinite(r.loss_added as number)).toBe(true);
        expect(Number.isFinite(r.steer_mean as number)).toBe(true);
      }
      for (const f of ['results.json', 'results.csv', 'report.md', 'plots/fvu_vs_k.svg', 'plots/steering.svg']) expect(existsSync(join(out, f))).toBe(true);
      const md = readFileSync(join(out, 'report.md'), 'utf8');
      expect(md).toMatch(/k=4, g-SAE β=1 vs TopK: loss added/);
      const again = await runExperiment({ suite: 'gsae-vs-topk', preset: 'quick', out, cacheDir: join(dir, 'cache'), model: modelDir, config, log: (s) => logs.push(s) });
      expect(again.rows).toEqual(res.rows);
      expect(logs.some((l) => l.includes('done earlier'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
