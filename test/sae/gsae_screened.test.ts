/**
 * The g-SAE trained through the screened ranking (cfg.screenedTopk: the gsaeTopkIndices primitive,
 * no dense W_decᵀg) against the same training with the dense score: the selection is the same bit
 * for bit, so every logged metric and every parameter must be identical after many steps, AuxK
 * over dead latents included, on the wasm backend with and without relaxed SIMD.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { resolveConfig, type SaeTrainConfig } from '../../sae/config.js';
import { ArraySource } from '../../sae/data.js';
import { SaeTrainer } from '../../sae/trainer.js';
import { wasmVariant } from '../backends/wasm/helpers.js';
import type { WasmBackend } from '../../engine/backends/wasm/index.js';

const NO_RELAXED = wasmVariant('wasm-no-relaxed-gsae', { threads: 2, relaxed: false });

let prev = '';
beforeAll(() => {
  prev = E.backend().name;
});
afterAll(() => void E.setBackend(prev));

function train(backend: string, cfg: Partial<SaeTrainConfig>, screenedTopk: boolean, gScale: number) {
  E.setBackend(backend);
  const d = 12, m = 128, rows = 96;
  const rng = new E.Rng(5);
  const x = Float32Array.from({ length: rows * d }, () => rng.normal());
  const g = Float32Array.from({ length: rows * d }, () => rng.normal() * gScale);
  const src = new ArraySource(x, d, g, { seed: 0, shuffle: false, name: 'gsae-screened-test' });
  const t = SaeTrainer.create(
    { variant: 'gsae', dIn: d, dSae: m, k: 3, batchSize: 16, totalSteps: 24, logEvery: 1, lr: 3e-3, deadTokens: 32, auxkCoefficient: 0.5, seed: 2, screenedTopk, ...cfg },
    src,
  );
  const be = E.backend() as unknown as WasmBackend;
  be.startProfile();
  const logs: Record<string, number>[] = [];
  // every logged number except wall-clock timings
  while (t.step < 24) logs.push(Object.fromEntries(Object.entries(t.trainStep()!).filter(([key]) => !/elapsed|per_second/.test(key))));
  const ops = new Set(be.stopProfile().map((p) => p.op));
  const params = t.hostParams();
  t.dispose();
  return { logs, params, ops };
}

describe('g-SAE screened ranking', () => {
  for (const backend of ['wasm', NO_RELAXED]) {
    for (const [beta, gScale] of [[1, 0.05], [4, 0.3], [1, 3]] as const) {
      it(`${backend}, β ${beta}, g ×${gScale}: identical logs and parameters to the dense score, AuxK included`, () => {
        const sc = train(backend, { beta }, true, gScale);
        const de = train(backend, { beta }, false, gScale);
        // the screened primitive ran in one and the dense product (a second matmul) in the other
        expect(sc.ops.has('gsaeTopkIndices') && !de.ops.has('gsaeTopkIndices')).toBe(true);
        expect(sc.logs).toEqual(de.logs);
        expect(sc.logs.some((l) => (l['losses/auxk_loss'] ?? 0) > 0), 'AuxK ran over dead latents').toBe(true);
        for (const [k, v] of Object.entries(de.params)) expect(Array.from(sc.params[k]!.data), k).toEqual(Array.from(v.data));
      });
    }
  }

  it('options that need every a_i (gradNorm rms, valueSource s) keep the dense score and still train', () => {
    for (const cfg of [{ gradNorm: 'rms' as const }, { valueSource: 's' as const }]) {
      const a = train('wasm', cfg, true, 0.1);
      const b = train('wasm', cfg, false, 0.1);
      expect(a.ops.has('gsaeTopkIndices')).toBe(false);
      expect(a.logs).toEqual(b.logs);
    }
  });

  it('screenedTopk must be a boolean', () => {
    expect(() => resolveConfig({ variant: 'gsae', dIn: 4, dSae: 8, k: 2, screenedTopk: 'yes' as unknown as boolean })).toThrow(/screenedTopk.*true or false/);
  });
});
