/**
 * The steering sweep on a small random GPT-2 and a random dictionary: its W_U rule reproduces the
 * project's steering score (experiments/eval/steering.ts) exactly, and the measured rule, when it
 * selects and scores on the same batch, can only do at least as well (it takes the n largest
 * probability gains, which no other n tokens can beat).
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { makeConfig } from '../../models/gpt2/config.js';
import { initParams } from '../../models/gpt2/params.js';
import { gpt2EvalModel } from '../../experiments/adapters.js';
import { steer } from '../../experiments/eval/steering.js';
import { cleanProbs, steeringSweep, topIndices } from '../../experiments/eval/steering_sweep.js';
import type { EvalDictionary } from '../../experiments/eval/interfaces.js';

describe('steering sweep', () => {
  it('wu rule = the METHODS score; measured ≥ wu on its own batch; distinct batches score differently', () => {
    const cfg = makeConfig({ n_layer: 2, n_head: 2, n_embd: 16, n_positions: 8, vocab_size: 40 });
    const params = initParams(cfg, 3);
    const model = gpt2EvalModel(params, cfg);
    const rng = new E.Rng(5);
    const W = E.keep(E.tensor(Float32Array.from({ length: 12 * 16 }, () => rng.normal()), [12, 16]));
    const dict: EvalDictionary = { dIn: 16, dSae: 12, needsGrad: false, firedThreshold: 0, encode: (x) => x, decode: (f) => f, decoderRows: () => W };
    const toks = (s: number) => E.keep(E.tensor(Int32Array.from({ length: 16 }, (_, i) => (i * 7 + s) % 40), [2, 8], 'int32'));
    const a = toks(1);
    const b = toks(11);
    const hook = 'blocks.1.hook_resid_pre';
    const latents = [0, 3, 7];
    const opts = { cs: [0.5, 2], topN: 4, meanNorm: 3 };
    const live = E.memory().tensors;
    const same = steeringSweep(model, dict, hook, b, b, latents, opts);
    expect(E.memory().tensors).toBe(live); // every intermediate is freed (a sweep runs hundreds of forwards)
    expect(same.map((x) => [x.c, x.latent])).toEqual([[0.5, 0], [0.5, 3], [0.5, 7], [2, 0], [2, 3], [2, 7]]);
    for (const c of opts.cs) {
      const ref = steer(model, dict, hook, [b], latents, { c, topN: 4, meanNorm: 3 });
      same.filter((x) => x.c === c).forEach((x, i) => expect(x.wu).toBeCloseTo(ref[i]!.probability_addition, 6));
    }
    for (const x of same) {
      expect(x.measured).toBeGreaterThanOrEqual(x.wu - 1e-6);
      expect(x.overlap >= 0 && x.overlap <= 1 && Math.round(x.overlap * 4) === x.overlap * 4).toBe(true); // a count over topN = 4
      expect(x.tv).toBeGreaterThanOrEqual(Math.max(x.wu, x.measured, 0) - 1e-6); // no token set gains more than the total variation
      expect(x.tv).toBeLessThanOrEqual(1);
    }
    // the clean distributions can be computed once and shared between sweeps
    const shared = steeringSweep(model, dict, hook, b, b, latents, { ...opts, clean: cleanProbs(model, b, b) });
    expect(shared).toEqual(same);
    const split = steeringSweep(model, dict, hook, a, b, latents, opts);
    split.forEach((x, i) => expect(x.wu).toBeCloseTo(same[i]!.wu, 9)); // wu does not look at the select batch
    expect(split.some((x, i) => Math.abs(x.measured - same[i]!.measured) > 1e-7)).toBe(true);
    E.dispose([W, a, b]);
  });

  it('topIndices takes the n largest, ties to the lower index', () => {
    expect(topIndices([0.1, 0.5, 0.5, -1, 0.3], 3)).toEqual([1, 2, 4]);
  });
});
