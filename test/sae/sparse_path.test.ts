/**
 * The sparse training path of the TopK family (cfg.sparseKernels: gatherDot / embeddingBag /
 * scatterOuter over the k picked latents) against the dense path (materialised f, dense matmuls):
 * same loss, loss terms, reconstruction, f and gradients — float64 on the reference backend for
 * topk and every g-SAE option, with and without AuxK — and the wasm float32 path against the
 * reference. Then whole trainer steps, and the fused Adam against its composite.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { resolveConfig, type SaeTrainConfig } from '../../sae/config.js';
import { topkVariant } from '../../sae/topk.js';
import { gsaeVariant } from '../../sae/gsae.js';
import { adamUpdate, type AdamHyper, type AdamState } from '../../sae/adam.js';
import { ArraySource } from '../../sae/data.js';
import { SaeTrainer } from '../../sae/trainer.js';
import { preActsAt, type Params } from '../../sae/common.js';
import type { Variant } from '../../sae/variant.js';
import { arr, deviceParams, dimsArb, dyadic, expectAllClose, moderate, rawSaeArb, type Dims, type RawSae } from './helpers.js';

/**
 * The same update as a composite of elementwise ops (~13 passes per tensor): the definition the
 * fused `adamStep` primitive (sae/adam.ts) must reproduce bit for bit.
 */
function adamUpdateComposite(
  params: Params,
  grads: Params,
  state: AdamState,
  sc: { stepSize: E.Tensor; sqrtBc2: E.Tensor; decay: E.Tensor },
  h: AdamHyper,
): { params: Params; state: AdamState } {
  const out: Params = {};
  const m: Params = {};
  const v: Params = {};
  for (const name of Object.keys(params)) {
    const p = params[name]!;
    const g = grads[name];
    if (!g) throw new Error(`adam: no gradient for parameter '${name}'`);
    const m1 = E.add(state.m[name]!, E.mul(E.sub(g, state.m[name]!), 1 - h.adamBeta1));
    const v1 = E.add(E.mul(state.v[name]!, h.adamBeta2), E.mul(E.mul(g, g), 1 - h.adamBeta2));
    const denom = E.add(E.div(E.sqrt(v1), sc.sqrtBc2), h.adamEps);
    const base = h.weightDecay > 0 ? E.mul(p, sc.decay) : p;
    out[name] = E.sub(base, E.mul(sc.stepSize, E.div(m1, denom)));
    m[name] = m1;
    v[name] = v1;
  }
  return { params: out, state: { m, v } };
}

const SEED = 777;
let prev = '';
beforeAll(() => {
  prev = E.backend().name;
});
afterAll(() => void E.setBackend(prev));

interface Problem {
  dm: Dims;
  raw: RawSae;
  variant: 'topk' | 'gsae';
  valueSource: 'z' | 's';
  gradNorm: 'none' | 'rms';
  beta: number;
  dead: number[] | null;
  kAux: number;
}

const problemArb = (el: fc.Arbitrary<number>): fc.Arbitrary<Problem> => dimsArb(5, 6, 14).chain((dm) =>
  fc.record({
    dm: fc.constant(dm),
    raw: rawSaeArb(dm, el),
    variant: fc.constantFrom<'topk' | 'gsae'>('topk', 'gsae'),
    valueSource: fc.constantFrom<'z' | 's'>('z', 's'),
    gradNorm: fc.constantFrom<'none' | 'rms'>('none', 'rms'),
    beta: fc.constantFrom(0, 0.5, 2),
    dead: fc.option(arr(dm.m, fc.constantFrom(0, 1)), { nil: null }),
    kAux: fc.integer({ min: 1, max: dm.m }),
  }),
);

function cfgOf(p: Problem, sparse: boolean): SaeTrainConfig {
  return resolveConfig({
    variant: p.variant, dIn: p.dm.d, dSae: p.dm.m, k: p.dm.k, beta: p.beta, valueSource: p.valueSource, gradNorm: p.gradNorm,
    kAux: p.kAux, auxkCoefficient: 0.25, sparseKernels: sparse,
  });
}

/** loss, parts, x̂, f and the gradients of one loss evaluation, read to the host. */
function evaluate(p: Problem, sparse: boolean, dtype: 'float32' | 'float64'): Record<string, number[]> {
  return E.tidy(() => {
    const params = deviceParams(p.raw, p.dm, dtype);
    const x = E.tensor(p.raw.x, [p.dm.B, p.dm.d], dtype);
    const g = E.tensor(p.raw.g, [p.dm.B, p.dm.d], dtype);
    const cfg = cfgOf(p, sparse);
    const deadMask = p.dead ? E.tensor(p.dead, [p.dm.m], dtype) : null;
    const variant: Variant = p.variant === 'topk' ? topkVariant : gsaeVariant;
    const [[loss, res], grads] = E.valueAndGrad(
      (q: Params) => {
        const r = variant.loss(q, { x, g }, { cfg, coeff: E.scalar(0, dtype), deadMask });
        return [r.loss, r] as const;
      },
      { hasAux: true },
    )(params) as [[E.Tensor, ReturnType<Variant['loss']>], Params];
    const out: Record<string, number[]> = { loss: Array.from(loss.toArray()), xHat: Array.from(res.xHat.toArray()), f: Array.from(res.f.toArray()) };
    for (const [k, v] of Object.entries(res.parts)) out[`part ${k}`] = Array.from(v.toArray());
    for (const [k, v] of Object.entries(grads)) out[`grad ${k}`] = Array.from(v.toArray());
    return out;
  });
}


describe('sparse TopK-family training path', () => {
  it('float64: same loss, terms, x̂, f and gradients as the dense path (topk, g-SAE z/s, rms, AuxK)', () => {
    E.setBackend('reference');
    fc.assert(
      fc.property(problemArb(moderate), (p) => {
        expectAllClose(evaluate(p, true, 'float64'), evaluate(p, false, 'float64'), 1e-12, 1e-12, JSON.stringify({ ...p, raw: undefined }));
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('float64: the gradient with respect to x too, and preActsAt without z (gatherDot recompute) agrees with it', () => {
    E.setBackend('reference');
    fc.assert(
      fc.property(problemArb(moderate), (p) => {
        const run = (sparse: boolean) =>
          E.tidy(() => {
            const params = deviceParams(p.raw, p.dm, 'float64');
            const x = E.tensor(p.raw.x, [p.dm.B, p.dm.d], 'float64');
            const cfg = cfgOf({ ...p, variant: 'topk' }, sparse);
            const [, [gp, gx]] = E.valueAndGrad((q: Params, xx: E.Tensor) => topkVariant.loss(q, { x: xx, g: null }, { cfg, coeff: E.scalar(0, 'float64'), deadMask: null }).loss, { argnums: [0, 1] })(params, x) as [E.Tensor, [Params, E.Tensor]];
            return { ...Object.fromEntries(Object.entries(gp).map(([k, v]) => [k, Array.from(v.toArray())])), x: Array.from(gx.toArray()) };
          });
        expectAllClose(run(true), run(false), 1e-12, 1e-12, 'd/dx');
        E.tidy(() => {
          const params = deviceParams(p.raw, p.dm, 'float64');
          const x = E.tensor(p.raw.x, [p.dm.B, p.dm.d], 'float64');
          const z = E.add(E.matmul(E.sub(x, params.b_dec!), params.W_enc!), params.b_enc!);
          const idx = E.topkIndices(z, p.dm.k);
          const grads = (withZ: boolean) => {
            const [, g] = E.valueAndGrad((q: Params) => E.sum(E.mul(preActsAt(q, x, idx, withZ ? z : undefined), preActsAt(q, x, idx, withZ ? z : undefined))))(params) as [E.Tensor, Params];
            return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, Array.from(v.toArray())]));
          };
          expectAllClose(grads(true), grads(false), 1e-12, 1e-12, 'preActsAt with/without z');
        });
      }),
      { numRuns: 30, seed: SEED },
    );
  });

  it('wasm float32 sparse path matches the reference float64 dense path within float32 rounding', () => {
    fc.assert(
      // dyadic values: pre-activations are exact in float32 too, so rankings (ties included) and
      // ReLU kinks agree and only the float32 rounding of the losses and gradients differs
      fc.property(problemArb(dyadic), (p) => {
        E.setBackend('reference');
        const want = evaluate(p, false, 'float64');
        E.setBackend('wasm');
        const got = evaluate(p, true, 'float32');
        expectAllClose(got, want, 1e-5, 1e-5, JSON.stringify({ ...p, raw: undefined }));
      }),
      { numRuns: 40, seed: SEED },
    );
  });

  it('training steps: sparse and dense paths stay together, and report the same L0 and dead latents', () => {
    E.setBackend('wasm');
    const d = 8, m = 40, rows = 64;
    const rng = new E.Rng(3);
    const x = Float32Array.from({ length: rows * d }, () => rng.normal());
    const g = Float32Array.from({ length: rows * d }, () => rng.normal() * 0.1);
    for (const variant of ['topk', 'gsae'] as const) {
      const run = (sparseKernels: boolean) => {
        const src = new ArraySource(x, d, variant === 'gsae' ? g : null, { seed: 0, shuffle: false, name: 'sparse-test' });
        const t = SaeTrainer.create(
          { variant, dIn: d, dSae: m, k: 4, batchSize: 16, totalSteps: 12, logEvery: 1, lr: 1e-3, deadTokens: 32, auxkCoefficient: 0.5, sparseKernels, seed: 1 },
          src,
        );
        const logs: Record<string, number>[] = [];
        while (t.step < 12) logs.push(t.trainStep()!);
        const params = t.hostParams();
        t.dispose();
        return { logs, params };
      };
      const sp = run(true), de = run(false);
      sp.logs.forEach((l, i) => {
        const ref = de.logs[i]!;
        expect(l['metrics/l0']).toBe(ref['metrics/l0']);
        expect(l['sparsity/dead_features']).toBe(ref['sparsity/dead_features']);
        expect(l['losses/overall_loss']).toBeCloseTo(ref['losses/overall_loss']!, 4);
      });
      expect(sp.logs.some((l) => l['losses/auxk_loss'] !== undefined && l['losses/auxk_loss']! > 0), 'AuxK ran').toBe(true);
      for (const [k, v] of Object.entries(de.params)) {
        const a = sp.params[k]!.data;
        v.data.forEach((w, i) => expect(Math.abs(a[i]! - w), `${variant} ${k}[${i}]`).toBeLessThan(1e-4));
      }
    }
  });
});

describe('fused Adam', () => {
  it('adamUpdate (one adamStep per tensor) is bit-identical to the composite update, with and without weight decay', () => {
    for (const be of ['reference', 'wasm']) {
      E.setBackend(be);
      for (const wd of [0, 0.01]) {
        const same = E.tidy(() => {
          const rng = new E.Rng(9);
          const mk = (shape: number[], s = 1) => E.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * s), shape);
          const params = { W: mk([7, 5]), b: mk([13]) };
          const grads = { W: mk([7, 5], 1e-2), b: mk([13], 1e-2) };
          const state = { m: { W: mk([7, 5], 1e-3), b: mk([13], 1e-3) }, v: { W: E.abs(mk([7, 5], 1e-4)), b: E.abs(mk([13], 1e-4)) } };
          const sc = { stepSize: E.scalar(1e-3 / (1 - 0.9 ** 3)), sqrtBc2: E.scalar(Math.sqrt(1 - 0.999 ** 3)), decay: E.scalar(1 - 1e-3 * wd) };
          const h = { adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, weightDecay: wd };
          const a = adamUpdate(params, grads, state, sc, h), c = adamUpdateComposite(params, grads, state, sc, h);
          const flat = (r: typeof a) => [r.params.W, r.params.b, r.state.m.W, r.state.m.b, r.state.v.W, r.state.v.b].map((t) => Array.from(t!.toArray()));
          return JSON.stringify(flat(a)) === JSON.stringify(flat(c));
        });
        expect(same, `${be} wd ${wd}`).toBe(true);
      }
    }
  });
});
