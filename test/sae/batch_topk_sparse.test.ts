/**
 * BatchTopK's sparse training path (flat picks b·m + r through gatherDot / embeddingBag /
 * scatterOuter, sae/batch_topk.ts) against its dense path (materialised batchTopk f, dense
 * matmuls): the same picks and f exactly, ties included (dyadic values make ties common); the
 * same loss, terms, x̂, threshold statistic and gradients — float64 on the reference backend, with
 * and without AuxK, and the wasm float32 sparse path against the float64 dense one. Then whole
 * trainer steps: same L0, dead latents, threshold and parameters.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { resolveConfig, type SaeTrainConfig } from '../../sae/config.js';
import { batchTopkPicks, batchTopkVariant } from '../../sae/batch_topk.js';
import { ArraySource } from '../../sae/data.js';
import { SaeTrainer } from '../../sae/trainer.js';
import type { Params } from '../../sae/common.js';
import type { LossResult } from '../../sae/variant.js';
import { arr, deviceParams, dimsArb, dyadic, expectAllClose, moderate, rawSaeArb, type Dims, type RawSae } from './helpers.js';

const SEED = 4242;
let prev = '';
beforeAll(() => {
  prev = E.backend().name;
});
afterAll(() => void E.setBackend(prev));

interface Problem {
  dm: Dims;
  raw: RawSae;
  dead: number[] | null;
  kAux: number;
}

const problemArb = (el: fc.Arbitrary<number>): fc.Arbitrary<Problem> =>
  dimsArb(5, 6, 14).chain((dm) =>
    fc.record({ dm: fc.constant(dm), raw: rawSaeArb(dm, el), dead: fc.option(arr(dm.m, fc.constantFrom(0, 1)), { nil: null }), kAux: fc.integer({ min: 1, max: dm.m }) }),
  );

const cfgOf = (p: Problem, sparse: boolean): SaeTrainConfig =>
  resolveConfig({ variant: 'batchtopk', dIn: p.dm.d, dSae: p.dm.m, k: p.dm.k, kAux: p.kAux, auxkCoefficient: 0.25, sparseKernels: sparse });

/** loss, parts, x̂, f, the threshold statistic and the gradients of one loss evaluation, on the host. */
function evaluate(p: Problem, sparse: boolean, dtype: 'float32' | 'float64'): Record<string, number[]> {
  return E.tidy(() => {
    const params = deviceParams(p.raw, p.dm, dtype);
    const x = E.tensor(p.raw.x, [p.dm.B, p.dm.d], dtype);
    const deadMask = p.dead ? E.tensor(p.dead, [p.dm.m], dtype) : null;
    const cfg = cfgOf(p, sparse);
    const [[loss, res], grads] = E.valueAndGrad(
      (q: Params) => {
        const r = batchTopkVariant.loss(q, { x, g: null }, { cfg, coeff: E.scalar(0, dtype), deadMask });
        return [r.loss, r] as const;
      },
      { hasAux: true },
    )(params) as [[E.Tensor, LossResult], Params];
    const out: Record<string, number[]> = {
      loss: Array.from(loss.toArray()),
      xHat: Array.from(res.xHat.toArray()),
      f: Array.from(res.f.toArray()),
      minKept: Array.from(res.extra.minKept!.toArray()),
      found: Array.from(res.extra.found!.toArray()),
    };
    for (const [k, v] of Object.entries(res.parts)) out[`part ${k}`] = Array.from(v.toArray());
    for (const [k, v] of Object.entries(grads)) out[`grad ${k}`] = Array.from(v.toArray());
    return out;
  });
}


const label = (p: Problem) => JSON.stringify({ ...p, raw: undefined });

describe('BatchTopK sparse training path', () => {
  it('the picks are batchTopk\'s kept entries exactly, ties to the lower flat index (dyadic ties, float32 and float64)', () => {
    for (const be of ['reference', 'wasm']) {
      E.setBackend(be);
      fc.assert(
        fc.property(dimsArb(6, 4, 12), fc.infiniteStream(dyadic), fc.constantFrom<'float32' | 'float64'>('float32', 'float64'), (dm, vals, dtype) => {
          if (be === 'wasm' && dtype === 'float64') return;
          const z = Array.from({ length: dm.B * dm.m }, () => vals.next().value as number);
          const [picks, kept] = E.tidy(() => {
            const t = E.tensor(z, [dm.B, dm.m], dtype);
            return [Array.from(batchTopkPicks(t, dm.k).toArray()), Array.from(E.batchTopk(t, dm.k).toArray())];
          });
          // the dense oracle: sort flat positions by (value desc, position asc), keep B·k
          const order = z.map((v, q) => [v, q] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, dm.B * dm.k).map(([, q]) => q);
          expect(picks, `${be} ${dtype} ${JSON.stringify(dm)} z ${JSON.stringify(z)}`).toEqual(order);
          const mask = new Set(picks);
          expect(kept).toEqual(z.map((v, q) => (mask.has(q) ? v : 0)));
        }),
        { numRuns: 60, seed: SEED },
      );
    }
  });

  it('float64: same f (exactly), loss, terms, x̂, threshold statistic and gradients as the dense path, with and without AuxK', () => {
    E.setBackend('reference');
    fc.assert(
      fc.property(problemArb(moderate), (p) => {
        const sp = evaluate(p, true, 'float64'), de = evaluate(p, false, 'float64');
        expect(sp.f, `f ${label(p)}`).toEqual(de.f);
        expect([sp.minKept, sp.found]).toEqual([de.minKept, de.found]);
        expectAllClose(sp, de, 1e-12, 1e-12, label(p));
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('float64 with dyadic values (ties common): f and the threshold statistic bit-identical, the rest to rounding', () => {
    E.setBackend('reference');
    fc.assert(
      fc.property(problemArb(dyadic), (p) => {
        const sp = evaluate(p, true, 'float64'), de = evaluate(p, false, 'float64');
        expect(sp.f, `f ${label(p)}`).toEqual(de.f);
        expect([sp.minKept, sp.found]).toEqual([de.minKept, de.found]);
        expectAllClose(sp, de, 1e-12, 1e-12, label(p));
      }),
      { numRuns: 60, seed: SEED + 1 },
    );
  });

  it('the gradient with respect to x too (embeddingBag over flat picks in the VJP)', () => {
    E.setBackend('reference');
    fc.assert(
      fc.property(problemArb(moderate), (p) => {
        const run = (sparse: boolean) =>
          E.tidy(() => {
            const params = deviceParams(p.raw, p.dm, 'float64');
            const x = E.tensor(p.raw.x, [p.dm.B, p.dm.d], 'float64');
            const cfg = cfgOf(p, sparse);
            const [, [gp, gx]] = E.valueAndGrad((q: Params, xx: E.Tensor) => batchTopkVariant.loss(q, { x: xx, g: null }, { cfg, coeff: E.scalar(0, 'float64'), deadMask: null }).loss, { argnums: [0, 1] })(params, x) as [E.Tensor, [Params, E.Tensor]];
            return { ...Object.fromEntries(Object.entries(gp).map(([k, v]) => [k, Array.from(v.toArray())])), x: Array.from(gx.toArray()) };
          });
        expectAllClose(run(true), run(false), 1e-12, 1e-12, `d/dx ${label(p)}`);
      }),
      { numRuns: 30, seed: SEED },
    );
  });

  it('wasm float32 sparse path matches the reference float64 dense path within float32 rounding', () => {
    fc.assert(
      fc.property(problemArb(dyadic), (p) => {
        E.setBackend('reference');
        const want = evaluate(p, false, 'float64');
        E.setBackend('wasm');
        const got = evaluate(p, true, 'float32');
        expect(got.f, `f ${label(p)}`).toEqual(want.f);
        expectAllClose(got, want, 1e-5, 1e-5, label(p));
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('training steps: sparse and dense paths stay together (L0, dead latents, threshold, parameters)', () => {
    E.setBackend('wasm');
    const d = 8, m = 40, rows = 64;
    const rng = new E.Rng(3);
    const x = Float32Array.from({ length: rows * d }, () => rng.normal());
    const run = (sparseKernels: boolean) => {
      const src = new ArraySource(x, d, null, { seed: 0, shuffle: false, name: 'batchtopk-sparse-test' });
      const t = SaeTrainer.create(
        { variant: 'batchtopk', dIn: d, dSae: m, k: 4, batchSize: 16, totalSteps: 12, logEvery: 1, lr: 1e-3, deadTokens: 32, auxkCoefficient: 0.5, sparseKernels, seed: 1 },
        src,
      );
      const logs: Record<string, number>[] = [];
      while (t.step < 12) logs.push(t.trainStep()!);
      const params = t.hostParams();
      t.dispose();
      return { logs, params, threshold: logs.at(-1)!['details/topk_threshold']! };
    };
    const sp = run(true), de = run(false);
    sp.logs.forEach((l, i) => {
      const ref = de.logs[i]!;
      expect(l['metrics/l0'], `step ${i} l0`).toBe(ref['metrics/l0']);
      expect(l['sparsity/dead_features'], `step ${i} dead`).toBe(ref['sparsity/dead_features']);
      expect(l['losses/overall_loss']).toBeCloseTo(ref['losses/overall_loss']!, 4);
      expect(l['details/topk_threshold']).toBeCloseTo(ref['details/topk_threshold']!, 4);
    });
    expect(sp.logs.some((l) => l['losses/auxk_loss'] !== undefined && l['losses/auxk_loss']! > 0), 'AuxK ran').toBe(true);
    expect(sp.threshold).toBeGreaterThan(0);
    expect(Math.abs(sp.threshold - de.threshold)).toBeLessThan(1e-4);
    for (const [k, v] of Object.entries(de.params)) {
      const a = sp.params[k]!.data;
      v.data.forEach((w, i) => expect(Math.abs(a[i]! - w), `${k}[${i}]`).toBeLessThan(1e-4));
    }
  });
});
