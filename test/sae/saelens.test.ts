/**
 * SAELens format: save/load round trips for every architecture, cfg.json fields as SAELens
 * writes them (5.x layout, which SAELens 6 converts), our `gsae` block, reading SAELens 6.x
 * configs, and clear errors for what we cannot load.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { expectedShapes, readSaelens, writeSaelens, type SaeSpec } from '../../sae/saelens.js';
import type { HostParams } from '../../sae/common.js';
import type { SaelensArch } from '../../sae/variant.js';
import { SaeTrainer } from '../../sae/trainer.js';
import { disposeSae, encodeSae, loadSae } from '../../sae/model.js';
import { makeSynthetic, syntheticSource } from './synthetic.js';

const tmp = mkdtempSync(join(tmpdir(), 'gsae-saelens-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const baseSpec = (architecture: SaelensArch, dIn: number, dSae: number): SaeSpec => ({
  kind: architecture,
  architecture,
  dIn,
  dSae,
  ...(architecture === 'topk' ? { k: Math.min(3, dSae) } : {}),
  applyBDecToInput: true,
  normalizeActivations: 'none',
  modelName: 'gpt2',
  hookName: 'blocks.1.hook_resid_pre',
  hookLayer: 1,
  hookHeadIndex: null,
  contextSize: 64,
  datasetPath: 'tinyshakespeare',
  prependBos: true,
});

function randomParams(arch: SaelensArch, dIn: number, dSae: number, seed: number): HostParams {
  const rng = new E.Rng(seed);
  return Object.fromEntries(
    Object.entries(expectedShapes(arch, dIn, dSae)).map(([n, shape]) => [n, { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()) }]),
  );
}

describe('SAELens save/load', () => {
  it('round-trips weights bit for bit and the spec, for every architecture', () => {
    let run = 0;
    fc.assert(
      fc.property(fc.constantFrom<SaelensArch>('standard', 'topk', 'gated', 'jumprelu'), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 9 }), fc.nat(), (arch, dIn, dSae, seed) => {
        const dir = join(tmp, `rt-${run++}`);
        const spec = baseSpec(arch, dIn, dSae);
        const params = randomParams(arch, dIn, dSae, seed);
        writeSaelens(dir, spec, params);
        const back = readSaelens(dir);
        expect(back.spec).toEqual({ ...spec, variant: undefined });
        expect(Object.keys(back.params).sort()).toEqual(Object.keys(params).sort());
        for (const n of Object.keys(params)) {
          expect(back.params[n]!.shape).toEqual(params[n]!.shape);
          expect(Array.from(back.params[n]!.data)).toEqual(Array.from(params[n]!.data));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('writes cfg.json as SAELens does (5.x layout, no sae_lens_version so SAELens 6 converts it)', () => {
    const dir = join(tmp, 'cfg');
    writeSaelens(dir, { ...baseSpec('topk', 4, 8), k: 3 }, randomParams('topk', 4, 8, 1));
    const cfg = JSON.parse(readFileSync(join(dir, 'cfg.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({
      architecture: 'topk',
      d_in: 4,
      d_sae: 8,
      dtype: 'float32',
      device: 'cpu',
      model_name: 'gpt2',
      hook_name: 'blocks.1.hook_resid_pre',
      hook_layer: 1,
      hook_head_index: null,
      activation_fn_str: 'topk',
      activation_fn_kwargs: { k: 3 },
      apply_b_dec_to_input: true,
      normalize_activations: 'none',
      finetuning_scaling_factor: false,
      context_size: 64,
      prepend_bos: true,
    });
    expect(cfg).not.toHaveProperty('sae_lens_version');
    expect(cfg).not.toHaveProperty('gsae'); // not one of ours: no block
    // the tensor names and orientations in the weights file
    const w = E.readSafetensors(join(dir, 'sae_weights.safetensors'));
    expect([...w.tensors.keys()].sort()).toEqual(['W_dec', 'W_enc', 'b_dec', 'b_enc']);
    expect(w.tensors.get('W_enc')!.shape).toEqual([4, 8]);
    expect(w.tensors.get('W_dec')!.shape).toEqual([8, 4]);
    expect(w.tensors.get('W_enc')!.dtype).toBe('F32');
  });

  it('reads SAELens 6.x configs (k and metadata) and 5.x TopK written as standard + topk activation', () => {
    const dir = join(tmp, 'v6');
    writeSaelens(dir, baseSpec('topk', 3, 5), randomParams('topk', 3, 5, 2));
    writeFileSync(
      join(dir, 'cfg.json'),
      JSON.stringify({
        architecture: 'topk',
        d_in: 3,
        d_sae: 5,
        k: 2,
        dtype: 'float32',
        device: 'cpu',
        apply_b_dec_to_input: true,
        normalize_activations: 'none',
        reshape_activations: 'none',
        metadata: { model_name: 'gpt2-small', hook_name: 'blocks.8.hook_resid_pre', hook_layer: 8, sae_lens_version: '6.5.0' },
      }),
    );
    const r = readSaelens(dir);
    expect(r.spec).toMatchObject({ kind: 'topk', k: 2, hookName: 'blocks.8.hook_resid_pre', hookLayer: 8, modelName: 'gpt2-small' });
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ architecture: 'standard', d_in: 3, d_sae: 5, activation_fn_str: 'topk', activation_fn_kwargs: { k: 4 }, hook_point: 'blocks.0.hook_resid_pre', apply_b_dec_to_input: false }));
    expect(readSaelens(dir).spec).toMatchObject({ kind: 'topk', architecture: 'topk', k: 4, hookName: 'blocks.0.hook_resid_pre', applyBDecToInput: false });
  });

  it('gives clear errors for what it cannot load', () => {
    const dir = join(tmp, 'bad');
    expect(() => readSaelens(join(tmp, 'nope'))).toThrow(/does not exist/);
    writeSaelens(dir, baseSpec('standard', 3, 4), randomParams('standard', 3, 4, 3));
    const cfgPath = join(dir, 'cfg.json');
    const good = readFileSync(cfgPath, 'utf8');
    const edit = (patch: Record<string, unknown>) => writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(good), ...patch }));
    edit({ d_sae: 5 });
    expect(() => readSaelens(dir)).toThrow(/tensor 'W_enc' has shape \[3, 4\], expected \[3, 5\]/);
    edit({ architecture: 'transcoder' });
    expect(() => readSaelens(dir)).toThrow(/architecture 'transcoder' is not supported/);
    edit({ normalize_activations: 'constant_norm_rescale' });
    expect(() => readSaelens(dir)).toThrow(/normalize_activations 'constant_norm_rescale'/);
    edit({ architecture: 'gated' });
    expect(() => readSaelens(dir)).toThrow(/gated SAE needs tensor 'b_gate'/);
    edit({ architecture: 'topk' });
    expect(() => readSaelens(dir)).toThrow(/needs an integer k/);
    writeFileSync(cfgPath, '{ not json');
    expect(() => readSaelens(dir)).toThrow(/not valid JSON/);
    writeFileSync(cfgPath, good);
    const w = randomParams('standard', 3, 4, 4);
    E.writeSafetensors(join(dir, 'sae_weights.safetensors'), { ...w, extra: { shape: [1], data: new Float32Array(1) } });
    expect(() => readSaelens(dir)).toThrow(/unexpected tensors for a standard SAE: extra/);
    unlinkSync(join(dir, 'sae_weights.safetensors'));
    expect(() => readSaelens(dir)).toThrow(/has no sae_weights.safetensors/);
    mkdirSync(join(tmp, 'empty'), { recursive: true });
    expect(() => readSaelens(join(tmp, 'empty'))).toThrow(/has no cfg.json/);
  });
});

describe('trained SAEs in SAELens format', () => {
  const data = makeSynthetic({ n: 512, d: 6, mTrue: 12, kTrue: 2, seed: 4, offset: 1 });
  const train = (variant: 'gsae' | 'gated' | 'batchtopk' | 'jumprelu' | 'relu_l1', extra = {}) => {
    const dir = join(tmp, `trained-${variant}`);
    const tr = SaeTrainer.create(
      { variant, dIn: 6, dSae: 16, k: 2, batchSize: 32, totalSteps: 8, lr: 5e-3, initSamples: 128, beta: 2, valueSource: 's', gradNorm: 'rms', initThreshold: 0.2, ...extra },
      syntheticSource(data, variant === 'gsae'),
      { outDir: dir },
    );
    tr.run();
    return { tr, dir };
  };

  it("a g-SAE is stored as architecture 'topk' with its own gsae block, and loads back as the g-SAE", () => {
    const { tr, dir } = train('gsae');
    const cfg = JSON.parse(readFileSync(join(dir, 'sae', 'cfg.json'), 'utf8')) as Record<string, any>;
    expect(cfg.architecture).toBe('topk');
    expect(cfg.activation_fn_kwargs).toEqual({ k: 2 });
    expect(cfg.gsae).toMatchObject({ variant: 'gsae', beta: 2, valueSource: 's', gradNorm: 'rms', k: 2 });
    expect(cfg.normalize_activations).toBe('none');
    const loaded = loadSae(join(dir, 'sae'));
    expect(loaded.spec).toMatchObject({ kind: 'gsae', beta: 2, valueSource: 's', gradNorm: 'rms', k: 2 });
    const live = tr.model();
    E.tidy(() => {
      const x = E.tensor(data.x.subarray(0, 60), [10, 6]);
      const g = E.tensor(data.g.subarray(0, 60), [10, 6]);
      expect(Array.from(encodeSae(loaded, x, g).toArray())).toEqual(Array.from(encodeSae(live, x, g).toArray()));
      expect(() => encodeSae(loaded, x)).toThrow(/needs the gradient g/);
      // SAELens itself ignores the block: the same weights as a plain TopK SAE
      const asTopk = { ...loaded, spec: { ...loaded.spec, kind: 'topk' as const } };
      expect(Array.from(encodeSae(asTopk, x).toArray()).filter((v) => v > 0).length).toBeLessThanOrEqual(20);
    });
    disposeSae(loaded);
    disposeSae(live);
    tr.dispose();
  });

  it('gated saves b_gate/r_mag/b_mag; BatchTopK and JumpReLU save as jumprelu with their threshold', () => {
    const g = train('gated');
    expect(readSaelens(join(g.dir, 'sae')).spec.architecture).toBe('gated');
    g.tr.dispose();
    const b = train('batchtopk');
    const rb = readSaelens(join(b.dir, 'sae'));
    expect(rb.spec).toMatchObject({ architecture: 'jumprelu', variant: 'batchtopk' });
    const th = rb.params.threshold!.data;
    expect(th[0]).toBeGreaterThan(0);
    expect(Array.from(th).every((v) => v === th[0])).toBe(true);
    expect(rb.cfg.gsae).toMatchObject({ variant: 'batchtopk', k: 2, threshold: b.tr.state().buffers.threshold!.data[0] });
    b.tr.dispose();
    const j = train('jumprelu', { normalizeActivations: 'none' });
    const rj = readSaelens(join(j.dir, 'sae'));
    const logTh = j.tr.hostParams().log_threshold!.data;
    Array.from(rj.params.threshold!.data).forEach((v, i) => expect(v).toBeCloseTo(Math.exp(logTh[i]!), 6));
    j.tr.dispose();
    const s = train('relu_l1');
    expect(readSaelens(join(s.dir, 'sae')).spec.architecture).toBe('standard');
    s.tr.dispose();
  });
});
