/**
 * The 'paper' suite: its definition (a TopK for every g-SAE of the grid, the option runs after
 * their reference, both penalty families), the Gated vs ReLU-L1 frontier comparison against a
 * hand computation, and the suite end to end on a tiny model — rows, analyses.json, every report
 * section, and a re-run that reuses the SAEs and the steering caches.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { microSuiteConfig, trainMicroModel } from './micro.js';
import { runExperiment } from '../../experiments/runner.js';
import { defaultPreset, getSuite, PAPER_ABLATION_IDS, suitePreset, validateRuns, type SuiteConfig } from '../../experiments/suites.js';
import { gridPairs } from '../../experiments/analyses.js';
import { frontierComparison, gridRows, optionRows } from '../../experiments/report/paper.js';
import type { Row } from '../../experiments/report/tables.js';

describe('paper suite', () => {
  it('pairs every grid g-SAE with a TopK, puts each option after its reference, and has both penalty families', () => {
    const suite = getSuite('paper');
    expect(defaultPreset(suite)).toBe('paper');
    expect(() => suitePreset(suite, 'quick')).toThrow(/suite 'paper' has no preset 'quick' \(its presets: paper\)/);
    const p = suitePreset(suite, 'paper');
    validateRuns(p.runs);
    expect(p.seeds.length).toBeGreaterThanOrEqual(3);
    const ids = p.runs.map((r) => r.id);
    for (const r of p.runs.filter((x) => /^gsae-k\d+-b[\d.]+$/.test(x.id))) expect(ids, r.id).toContain(`topk-k${r.k}`);
    for (const id of PAPER_ABLATION_IDS) {
      expect(ids, id).toContain(id);
      const k = Number(/^gsae-k(\d+)/.exec(id)![1]);
      expect(ids.indexOf(`gsae-k${k}-b1`), id).toBeLessThan(ids.indexOf(id));
    }
    expect(p.runs.filter((r) => r.variant === 'relu_l1').length).toBeGreaterThanOrEqual(3);
    expect(p.runs.filter((r) => r.variant === 'gated').length).toBeGreaterThanOrEqual(3);
    // the steering sweep pairs exist in the grid
    const rows = p.runs.map((r) => ({ id: r.id, variant: r.variant ?? '', k: r.k ?? NaN, seed: 0, beta: r.beta }));
    expect(gridPairs(rows, p.analyses!.steering.ks, p.analyses!.steering.betas).length).toBe(p.analyses!.steering.ks.length * p.analyses!.steering.betas.length);
  });

  it('splits rows into the grid and the options, and compares the frontier seed by seed', () => {
    const row = (id: string, group: string, seed: number, extra: Partial<Row>): Row => ({ id, group, seed, variant: id.split('-')[0]!, ...extra }) as Row;
    const rows: Row[] = [];
    for (const seed of [0, 1, 2]) {
      // ReLU-L1: loss recovered = 0.5 + 0.1·ln L0; Gated: 0.6 + 0.1·ln L0 + 0.01·seed; L0 ∈ {4, 16} and {2, 8, 32}
      rows.push(row('relu-l1-1', 'ReLU-L1', seed, { l0: 16, loss_recovered_zero: 0.5 + 0.1 * Math.log(16), gamma: 0.8 }));
      rows.push(row('relu-l1-2', 'ReLU-L1', seed, { l0: 4, loss_recovered_zero: 0.5 + 0.1 * Math.log(4), gamma: 0.7 }));
      for (const l0 of [2, 8, 32]) rows.push(row(`gated-${l0}`, 'Gated', seed, { l0, loss_recovered_zero: 0.6 + 0.1 * Math.log(l0) + 0.01 * seed, gamma: 0.9 + 0.01 * seed }));
      rows.push(row('topk-k16', 'TopK', seed, { k: 16, l0: 16, loss_recovered_zero: 0.9, gamma: 1 }));
      rows.push(row('gsae-k16-b1', 'g-SAE β=1', seed, { k: 16, l0: 16, loss_recovered_zero: 0.9, gamma: 1 }));
      rows.push(row('gsae-k16-b1-mean', 'mean', seed, { k: 16 }));
      rows.push(row('gsae-k16-b4', 'g-SAE β=4', seed, { k: 16 }));
    }
    expect([...new Set(gridRows(rows).map((r) => r.id))].sort()).toEqual(['gsae-k16-b1', 'gsae-k16-b4', 'topk-k16']);
    expect([...new Set(optionRows(rows).map((r) => r.id))].sort()).toEqual(['gsae-k16-b1', 'gsae-k16-b1-mean', 'topk-k16']);
    const c = frontierComparison(rows);
    expect(c.seeds).toEqual([0, 1, 2]);
    expect(c.l0).toBeCloseTo(8, 10); // overlap [4, 16] in log L0 → geometric midpoint 8
    // both lines are linear in ln L0, so interpolation is exact: Gated − ReLU-L1 = 0.1 + 0.01·seed
    c.recovered.forEach((r) => expect(r.a - r.b).toBeCloseTo(0.1 + 0.01 * r.seed, 10));
    expect(c.recoveredDiff!.mean).toBeCloseTo(0.11, 10);
    expect(c.gammaDiff.mean).toBeCloseTo(0.9 + 0.01 - 0.75, 10);
  });

  it('runs end to end on a tiny model: rows, analyses, every report section; a re-run reuses everything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gsae-paper-'));
    try {
      const modelDir = await trainMicroModel(dir);
      const opt = { lr: 4e-3, lrWarmupSteps: 1 };
      const config: SuiteConfig = microSuiteConfig('paper', {
        evalTokens: 512,
        runs: [
          { id: 'topk-k4', group: 'TopK', variant: 'topk', k: 4, ...opt },
          { id: 'gsae-k4-b1', group: 'g-SAE β=1', variant: 'gsae', k: 4, beta: 1, gradNorm: 'rms', ...opt },
          { id: 'gsae-k4-b0', group: 'g-SAE β=0', variant: 'gsae', k: 4, beta: 0, ...opt },
          { id: 'relu-l1-1', group: 'ReLU-L1', variant: 'relu_l1', l1Coefficient: 1, ...opt },
          { id: 'relu-l1-2', group: 'ReLU-L1', variant: 'relu_l1', l1Coefficient: 2, ...opt },
          { id: 'gated-1', group: 'Gated', variant: 'gated', l1Coefficient: 1, ...opt },
          { id: 'gated-2', group: 'Gated', variant: 'gated', l1Coefficient: 2, ...opt },
        ],
        analyses: { steering: { ks: [4], betas: [1], cs: [1, 2], latents: 2, topN: 3, batchSeqs: 8 }, splitting: { tau: 0.7 } },
      }, 'paper');
      const out = join(dir, 'out');
      const logs: string[] = [];
      const res = await runExperiment({ suite: 'paper', preset: 'paper', out, cacheDir: join(dir, 'cache'), model: modelDir, config, log: (s) => logs.push(s) });
      expect(res.rows.length).toBe(14);
      const an = JSON.parse(readFileSync(join(out, 'analyses.json'), 'utf8')) as { steering: { rows: { id: string; c: number }[] }; splitting: { pair: { gsae: string; topk: string } }[] };
      expect([...new Set(an.steering.rows.map((r) => r.id))].sort()).toEqual(['gsae-k4-b1', 'topk-k4']);
      expect([...new Set(an.steering.rows.map((r) => r.c))].sort()).toEqual([1, 2]);
      expect(an.splitting.map((p) => `${p.pair.gsae}/${p.pair.topk}`)).toEqual(['gsae-k4-b1/topk-k4']);
      const md = readFileSync(join(out, 'report.md'), 'utf8');
      for (const h of ['## 1. g-SAE vs TopK', "## 2. The g-SAE's open choices", '## 3. Gated vs ReLU-L1', '## 4. Steering', '## 5. Decoder similarity']) expect(md, h).toContain(h);
      expect(md).toMatch(/g-SAE with β = 0 reproduces TopK exactly/);
      expect(md).toMatch(/"Gated shrinks less than ReLU-L1"/);
      for (const f of ['fvu_vs_k.svg', 'pareto_loss_recovered.svg']) expect(existsSync(join(out, 'plots', f)), f).toBe(true);

      // a re-run trains nothing and computes no steering cell again
      const again: string[] = [];
      await runExperiment({ suite: 'paper', preset: 'paper', out, cacheDir: join(dir, 'cache'), model: modelDir, config, log: (s) => again.push(s) });
      expect(again.filter((s) => /done earlier, reusing/.test(s)).length).toBe(14);
      expect(readFileSync(join(out, 'report.md'), 'utf8').replace(/\(\d+ s\)/g, '').split('## Setup')[0]).toBe(md.replace(/\(\d+ s\)/g, '').split('## Setup')[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
