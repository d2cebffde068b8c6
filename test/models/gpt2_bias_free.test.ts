/**
 * nanoGPT's `bias=False` GPT-2 (config field `bias: false`): no Linear or LayerNorm biases. It must
 * compute exactly what the biased model computes with every bias zero, save/load as an HF
 * directory whose config says so, and refuse a checkpoint that carries biases it does not expect.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { configToJson, makeConfig, parseConfig } from '../../models/gpt2/config.js';
import { lossFn, forward, tokensTensor } from '../../models/gpt2/model.js';
import { initParams, loadHfDir, paramShapes, saveHfDir, type Gpt2Params } from '../../models/gpt2/params.js';

const base = { vocab_size: 37, n_positions: 8, n_embd: 16, n_layer: 2, n_head: 2, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
const tmp = mkdtempSync(join(tmpdir(), 'gsae-bias-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('GPT-2 without biases (nanoGPT bias=False)', () => {
  let prev: string;
  beforeAll(() => {
    prev = E.backend().name;
    E.setBackend('reference');
    return () => E.setBackend(prev);
  });

  it('config: bias defaults to true, round-trips through config.json only when false', () => {
    expect(makeConfig(base).bias).toBe(true);
    expect(configToJson(makeConfig(base))).not.toHaveProperty('bias');
    const json = configToJson(makeConfig({ ...base, bias: false }));
    expect(json.bias).toBe(false);
    expect(parseConfig(json).bias).toBe(false);
    expect(() => parseConfig({ ...base, bias: 'no' })).toThrow(/bias must be a boolean/);
  });

  it('has no bias parameters, and equals the biased model with zero biases', () => {
    const cfgB = makeConfig(base);
    const cfgN = makeConfig({ ...base, bias: false });
    const names = paramShapes(cfgN).map(([n]) => n);
    expect(names.some((n) => n.endsWith('.bias'))).toBe(false);
    expect(names.length).toBe(paramShapes(cfgB).length - (6 * base.n_layer + 1));

    const withBias = initParams(cfgB, 3); // biases are initialised to 0
    const noBias: Gpt2Params = {};
    for (const n of names) noBias[n] = withBias[n]!;
    const tokens = tokensTensor(cfgB, [[1, 5, 9, 36, 0, 2], [7, 7, 7, 3, 4, 30]]);
    const a = Array.from(forward(withBias, cfgB, tokens).toArray());
    const b = Array.from(forward(noBias, cfgN, tokens).toArray());
    expect(b).toEqual(a);

    // ...and the biases do matter when they are not zero (the test can fail).
    const shifted = { ...withBias, 'h.0.mlp.c_fc.bias': E.full([4 * base.n_embd], 0.5) };
    const c = Array.from(forward(shifted, cfgB, tokens).toArray());
    expect(c).not.toEqual(a);

    const [, grads] = E.valueAndGrad((p: Gpt2Params) => lossFn(p, cfgN, tokens))(noBias) as [E.Tensor, Gpt2Params];
    expect(Object.keys(grads).sort()).toEqual([...names].sort());
  });

  it('saves and loads as an HF directory; biases in the file are refused', () => {
    const cfg = makeConfig({ ...base, bias: false });
    const params = initParams(cfg, 5);
    const dir = join(tmp, 'nobias');
    saveHfDir(dir, cfg, params);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).bias).toBe(false);
    const back = loadHfDir(dir);
    expect(back.cfg.bias).toBe(false);
    expect(Object.keys(back.params).sort()).toEqual(Object.keys(params).sort());

    const biased = makeConfig(base);
    const dir2 = join(tmp, 'biased-as-nobias');
    saveHfDir(dir2, biased, initParams(biased, 5));
    // a bias-free config over biased weights
    writeFileSync(join(dir2, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(dir2, 'config.json'), 'utf8')), bias: false }));
    expect(() => loadHfDir(dir2)).toThrow(/unexpected tensors.*ln_1\.bias/);
  });

  it("activation_function 'gelu' runs the exact erf GELU in the MLP (nanoGPT's nn.GELU)", () => {
    const cfgT = makeConfig({ ...base, n_layer: 1 });
    const cfgE = makeConfig({ ...base, n_layer: 1, activation_function: 'gelu' });
    const params = initParams(cfgT, 11);
    // make the MLP matter: larger pre-activations than the 0.02 init gives
    params['h.0.mlp.c_fc.weight'] = E.mul(params['h.0.mlp.c_fc.weight']!, 50);
    const tokens = tokensTensor(cfgT, [[3, 1, 4, 1, 5, 9]]);
    const yT = Array.from(forward(params, cfgT, tokens).toArray());
    const yE = Array.from(forward(params, cfgE, tokens).toArray());
    const diff = Math.max(...yT.map((v, i) => Math.abs(v - yE[i]!)));
    expect(diff).toBeGreaterThan(1e-7);
    expect(diff).toBeLessThan(1e-2);
    // (the exact GELU itself is checked against float64 references in test/engine/erf_gelu.test.ts)
  });
});
