/**
 * The calibrated sparsity settings (sae/config.ts variant defaults, measured with
 * experiments/scripts/variants_table.ts on the default model) and the experiment suites agree:
 * every penalty variant's default λ lies inside the pareto grids, JumpReLU starts with a
 * threshold z can reach in a short run, and the table script's runs are valid configs.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig, VARIANTS, type VariantName } from '../../sae/config.js';
import { getSuite, suitePreset } from '../../experiments/suites.js';
import { DEFAULT_RUNS, parseRun } from '../../experiments/scripts/variants_table.js';

const base = { dIn: 128, dSae: 1024, totalSteps: 235, batchSize: 1024 };

describe('calibrated sparsity defaults', () => {
  it('penalty variants default to the calibrated λ (and JumpReLU θ0, ε)', () => {
    expect(resolveConfig({ variant: 'relu_l1', ...base }).l1Coefficient).toBe(1.5);
    expect(resolveConfig({ variant: 'gated', ...base }).l1Coefficient).toBe(2);
    expect(resolveConfig({ variant: 'jumprelu', ...base })).toMatchObject({ l1Coefficient: 0.3, initThreshold: 0.5, bandwidth: 0.05 });
    // explicit values still win
    expect(resolveConfig({ variant: 'jumprelu', ...base, initThreshold: 0.001, l1Coefficient: 2 })).toMatchObject({ l1Coefficient: 2, initThreshold: 0.001 });
  });

  it('each pareto preset brackets every penalty default with its λ grid', () => {
    for (const preset of ['quick', 'full'] as const) {
      const runs = suitePreset(getSuite('pareto'), preset).runs;
      for (const v of ['relu_l1', 'gated', 'jumprelu'] as VariantName[]) {
        const grid = runs.filter((r) => r.variant === v).map((r) => r.l1Coefficient!);
        const def = resolveConfig({ variant: v, ...base }).l1Coefficient;
        expect(grid.length, `${preset} ${v}`).toBeGreaterThanOrEqual(2);
        expect(Math.min(...grid), `${preset} ${v}`).toBeLessThanOrEqual(def);
        expect(Math.max(...grid), `${preset} ${v}`).toBeGreaterThanOrEqual(def);
      }
      // one LR for every architecture within a preset, so the frontier is comparable
      expect(new Set(runs.map((r) => r.lr ?? 0)).size, preset).toBe(1);
    }
  });

  it('the variants table trains all six variants with valid configs', () => {
    expect(new Set(DEFAULT_RUNS.map((r) => r.variant))).toEqual(new Set(VARIANTS));
    for (const { id: _id, ...r } of DEFAULT_RUNS) expect(() => resolveConfig({ ...base, ...r, variant: r.variant! })).not.toThrow();
  });

  it('parses run arguments', () => {
    expect(parseRun('jr=jumprelu,l1Coefficient=0.3,initThreshold=0.5,april=false,hookName=x')).toEqual({
      id: 'jr', variant: 'jumprelu', l1Coefficient: 0.3, initThreshold: 0.5, april: false, hookName: 'x',
    });
    expect(parseRun('r=relu_l1,resampleSteps=10;20')).toMatchObject({ resampleSteps: [10, 20] });
    expect(() => parseRun('relu_l1')).toThrow(/id=variant/);
  });
});
