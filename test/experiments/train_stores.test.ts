/**
 * Store options of experiment runs (experiments/train_stores.ts): the spliced-gradient capture
 * (g = ∂L/∂x̂ with x̂ spliced in, x stays clean), the mean-loss store (g of the sum divided by the
 * capture batch's scored positions), the manifest record, and the suite validation of store options.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { forward, lmLoss } from '../../models/gpt2/model.js';
import { loadSae } from '../../sae/model.js';
import { buildStore } from '../../sae/store/build.js';
import { readManifest } from '../../sae/store/manifest.js';
import { StoreReader } from '../../sae/store/reader.js';
import { saeEvalDictionary } from '../../experiments/adapters.js';
import { spliceReconstruction } from '../../experiments/eval/downstream.js';
import { cleanCapture, saeDigest, splicedCapture, storeSuffix } from '../../experiments/train_stores.js';
import { SUITES, validateRuns, type RunSpec } from '../../experiments/suites.js';
import { HOOK, randomSae, tinyModel, tmp } from '../features/helpers.js';

const B = 2;
const T = 16;

function tokens(): E.Tensor {
  const { model, train } = tinyModel();
  return E.keep(E.tensor(train.slice(0, B * T), [B, T], 'int32'));
}

const arr = (t: E.Tensor) => Array.from(t.toArray() as Float32Array);

describe('spliced-gradient capture', () => {
  it('an identity splice gives the clean gradients bit for bit, and x stays the clean x', () => {
    const { model } = tinyModel();
    const toks = tokens();
    for (const red of ['sum', 'mean'] as const) {
      E.tidy(() => {
        const clean = cleanCapture(model.params, model.cfg, HOOK, red)(toks);
        const sp = splicedCapture(model.params, model.cfg, HOOK, red, red, (x) => x)(toks);
        expect(arr(sp.acts)).toEqual(arr(clean.acts));
        expect(arr(sp.grads!)).toEqual(arr(clean.grads!));
      });
    }
    E.dispose(toks);
  });

  it("with a g-SAE spliced in, g = ∂L/∂x̂ (checked by a separate gradient through the model with x̂ in place), x stays clean", () => {
    const { model } = tinyModel();
    const dir = tmp();
    try {
      randomSae(join(dir, 'sae'), { kind: 'gsae', dIn: model.cfg.n_embd, dSae: 2 * model.cfg.n_embd, k: 8, seed: 3 });
      const sae = loadSae(join(dir, 'sae'));
      const dict = saeEvalDictionary(sae);
      const splice = (x: E.Tensor, g: E.Tensor) => spliceReconstruction(dict, x, g);
      const toks = tokens();
      E.tidy(() => {
        const clean = cleanCapture(model.params, model.cfg, HOOK, 'sum')(toks);
        const sp = splicedCapture(model.params, model.cfg, HOOK, 'sum', 'sum', splice)(toks);
        expect(arr(sp.acts)).toEqual(arr(clean.acts));
        // independently: x̂ from the clean x and g, then ∂L/∂x̂ with x̂ replacing the activation
        const xh = splice(clean.acts, clean.grads!);
        const loss = (v: E.Tensor) => lmLoss(forward(model.params, model.cfg, toks, { hooks: { [HOOK]: () => v }, checkTokens: false }), toks, undefined, 'sum');
        const want = arr(E.grad(loss)(xh) as E.Tensor);
        const got = arr(sp.grads!);
        const scale = Math.max(...want.map(Math.abs));
        expect(scale).toBeGreaterThan(0);
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `element ${i}`).toBeLessThanOrEqual(1e-5 * scale);
        // and the splice matters: the spliced gradients are not the clean ones
        const gc = arr(clean.grads!);
        const diff = Math.max(...got.map((v, i) => Math.abs(v - gc[i]!)));
        expect(diff).toBeGreaterThan(1e-3 * scale);
        // the spliced reduction 'mean' divides the loss (so g) by the B·(T−1) scored positions
        const spMean = arr(splicedCapture(model.params, model.cfg, HOOK, 'mean', 'sum', splice)(toks).grads!);
        for (let i = 0; i < got.length; i++) expect(Math.abs(spMean[i]! * B * (T - 1) - got[i]!)).toBeLessThanOrEqual(1e-5 * scale);
      });
      E.dispose(toks);
      // the digest names the SAE's weights: a different SAE, a different digest
      randomSae(join(dir, 'sae2'), { kind: 'gsae', dIn: model.cfg.n_embd, dSae: 2 * model.cfg.n_embd, k: 8, seed: 4 });
      expect(saeDigest(join(dir, 'sae'))).toMatch(/^[0-9a-f]{64}$/);
      expect(saeDigest(join(dir, 'sae'))).toBe(saeDigest(join(dir, 'sae')));
      expect(saeDigest(join(dir, 'sae2'))).not.toBe(saeDigest(join(dir, 'sae')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('store options on disk', () => {
  it("a 'mean' store holds the 'sum' store's gradients divided by its capture batch's scored positions (the last, short batch included); x is the same", () => {
    const { model, train } = tinyModel();
    const dir = tmp();
    try {
      // 10 sequences in capture batches of 4: batches of 4, 4 and 2 sequences
      const common = { hook: HOOK, tokens: train, source: 'test#train', range: [0, 10 * T] as [number, number], seqLen: T, batchSeqs: 4, seqsPerShard: 8, withGrad: true, modelId: model.id };
      buildStore({ ...common, dir: join(dir, 'sum'), gradReduction: 'sum', capture: cleanCapture(model.params, model.cfg, HOOK, 'sum') });
      buildStore({ ...common, dir: join(dir, 'mean'), gradReduction: 'mean', capture: cleanCapture(model.params, model.cfg, HOOK, 'mean') });
      const [s, m] = [new StoreReader(join(dir, 'sum')), new StoreReader(join(dir, 'mean'))];
      const all = (r: StoreReader, f: 'x' | 'g') => [...r.sequential(10 * T)].flatMap((b) => Array.from(b[f]!));
      expect(all(m, 'x')).toEqual(all(s, 'x'));
      const d = s.d;
      const gs = all(s, 'g'), gm = all(m, 'g');
      expect(gs).toHaveLength(10 * T * d);
      const scale = Math.max(...gs.map(Math.abs));
      for (let row = 0; row < 10 * T; row++) {
        const seq = Math.floor(row / T);
        const nb = seq < 8 ? 4 : 2; // sequences in this row's capture batch
        for (let j = 0; j < d; j++) {
          const i = row * d + j;
          expect(Math.abs(gm[i]! * nb * (T - 1) - gs[i]!), `row ${row}`).toBeLessThanOrEqual(1e-5 * scale);
        }
      }
      expect(readManifest(join(dir, 'mean')).gradReduction).toBe('mean');
      expect(readManifest(join(dir, 'sum')).gradSource).toBe('clean');
      // a store is never resumed with other gradient settings
      expect(() => buildStore({ ...common, dir: join(dir, 'sum'), gradReduction: 'mean', capture: cleanCapture(model.params, model.cfg, HOOK, 'mean') })).toThrow(/other settings \(gradReduction/);
      const splice = { sha256: 'ab'.repeat(32), encodeGradReduction: 'sum' as const, run: 'gsae-k4-b1', seed: 0 };
      expect(() => buildStore({ ...common, dir: join(dir, 'sum'), gradSource: 'spliced', splice, capture: cleanCapture(model.params, model.cfg, HOOK, 'sum') })).toThrow(/other settings \(gradSource/);
      expect(() => buildStore({ ...common, dir: join(dir, 'x'), gradSource: 'spliced', capture: cleanCapture(model.params, model.cfg, HOOK, 'sum') })).toThrow(/needs `splice`/);
      expect(() => buildStore({ ...common, dir: join(dir, 'x'), gradSource: 'clean', splice, capture: cleanCapture(model.params, model.cfg, HOOK, 'sum') })).toThrow(/gradSource is 'clean'/);
      expect(() => buildStore({ ...common, dir: join(dir, 'x'), gradReduction: 'avg' as 'mean', capture: cleanCapture(model.params, model.cfg, HOOK, 'sum') })).toThrow(/gradReduction must be 'sum' or 'mean'/);
      // a manifest that says 'spliced' must say what was spliced
      const mf = JSON.parse(readFileSync(join(dir, 'mean', 'manifest.json'), 'utf8')) as Record<string, unknown>;
      const bad = tmp();
      try {
        buildStore({ ...common, dir: bad, gradSource: 'spliced', splice, capture: cleanCapture(model.params, model.cfg, HOOK, 'sum') });
        expect(readManifest(bad).splice).toMatchObject({ sha256: splice.sha256, run: 'gsae-k4-b1', seed: 0 });
        // resuming with another SAE is refused
        expect(() => buildStore({ ...common, dir: bad, gradSource: 'spliced', splice: { ...splice, sha256: 'cd'.repeat(32) }, capture: cleanCapture(model.params, model.cfg, HOOK, 'sum') })).toThrow(/other settings \(splice/);
      } finally {
        rmSync(bad, { recursive: true, force: true });
      }
      expect(mf.gradSource).toBe('clean');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('folder names differ by reduction, source, spliced run, seed and SAE', () => {
    const sp = (run: string, seed: number, sha256: string) => ({ run, seed, sha256 });
    const names = [
      storeSuffix({ gradReduction: 'sum', gradSource: 'clean', spliceRun: null }),
      storeSuffix({ gradReduction: 'mean', gradSource: 'clean', spliceRun: null }),
      storeSuffix({ gradReduction: 'sum', gradSource: 'spliced', spliceRun: 'a' }, sp('a', 0, '0123456789abcdef')),
      storeSuffix({ gradReduction: 'mean', gradSource: 'spliced', spliceRun: 'a' }, sp('a', 0, '0123456789abcdef')),
      storeSuffix({ gradReduction: 'sum', gradSource: 'spliced', spliceRun: 'a' }, sp('a', 1, '0123456789abcdef')),
      storeSuffix({ gradReduction: 'sum', gradSource: 'spliced', spliceRun: 'b' }, sp('b', 0, '0123456789abcdef')),
      storeSuffix({ gradReduction: 'sum', gradSource: 'spliced', spliceRun: 'a' }, sp('a', 0, 'fedcba9876543210')),
    ];
    expect(names[0]).toBe(''); // the default store keeps the folder name it always had
    expect(names[2]).toBe('-spliced-a-s0-0123456789ab');
    expect(new Set(names).size).toBe(names.length);
    expect(() => storeSuffix({ gradReduction: 'sum', gradSource: 'spliced', spliceRun: 'a' })).toThrow(/needs the spliced run/);
  });
});

describe('suite validation of store options', () => {
  const ref: RunSpec = { id: 'gsae-k4-b1', group: 'g', variant: 'gsae', k: 4, beta: 1, gradNorm: 'rms' };
  const spliced = (over: Partial<RunSpec> = {}, store: RunSpec['store'] = { gradSource: 'spliced', spliceRun: 'gsae-k4-b1' }): RunSpec => ({ ...ref, id: 'sp', ...over, store });

  it('accepts the shipped suites and well-formed options', () => {
    for (const s of Object.values(SUITES)) for (const p of Object.values(s.presets)) expect(() => validateRuns(p.runs)).not.toThrow();
    expect(() => validateRuns([ref, spliced(), { ...ref, id: 'm', store: { gradReduction: 'mean' } }])).not.toThrow();
  });

  it('rejects bad combinations with errors that name the run and the field', () => {
    expect(() => validateRuns([ref, spliced({}, { gradSource: 'spliced' })])).toThrow(/suite run 'sp': store: gradSource 'spliced' needs spliceRun/);
    expect(() => validateRuns([ref, spliced({}, { gradSource: 'spliced', spliceRun: 'nope' })])).toThrow(/spliceRun 'nope' is not a run of this suite/);
    expect(() => validateRuns([ref, { ...ref, id: 'l1', variant: 'relu_l1', store: undefined }, spliced({}, { gradSource: 'spliced', spliceRun: 'l1' })])).toThrow(/'l1' is a "relu_l1" run; only a g-SAE or TopK run can be spliced in/);
    expect(() => validateRuns([spliced(), ref])).toThrow(/must come before 'sp'/);
    expect(() => validateRuns([ref, spliced(), spliced({ id: 'sp2' }, { gradSource: 'spliced', spliceRun: 'sp' })])).toThrow(/itself trains on a spliced store/);
    expect(() => validateRuns([ref, spliced({}, { spliceRun: 'gsae-k4-b1' })])).toThrow(/spliceRun is only meaningful with gradSource 'spliced'/);
    expect(() => validateRuns([ref, spliced({}, { gradReduction: 'avg' as 'mean' })])).toThrow(/store.gradReduction must be 'sum' or 'mean', got "avg"/);
    expect(() => validateRuns([ref, spliced({}, { gradSource: 'dirty' as 'clean' })])).toThrow(/store.gradSource must be 'clean' or 'spliced'/);
    expect(() => validateRuns([ref, spliced({}, { source: 'x' } as RunSpec['store'])])).toThrow(/unknown field 'source'/);
    expect(() => validateRuns([ref, ref])).toThrow(/'gsae-k4-b1' appears twice/);
    expect(() => validateRuns([{ ...ref, id: '../x' }])).toThrow(/id must be/);
  });
});
