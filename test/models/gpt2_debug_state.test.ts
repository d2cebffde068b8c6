/**
 * Exactness against PyTorch autograd (gpt2-debug fixture, llm.c style): logits, mean loss, the
 * activation and gradient at blocks.1.hook_resid_pre, every parameter gradient, and the loss
 * before each of 5 AdamW steps (lr 1e-3, betas 0.9/0.95, eps 1e-8, wd 0.1 on 2+-D tensors).
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { paramShapes, loadHfDir, type Gpt2Params } from '../../models/gpt2/params.js';
import { activationsAndGrads, forward, lossFn } from '../../models/gpt2/model.js';
import { adamwInit, adamwScalars, adamwUpdate, type AdamWConfig } from '../../models/optim/adamw.js';
import { close, compare, DEBUG_DIR, fixtureNames, ref } from './gpt2_debug_fixture.js';

const DIR = DEBUG_DIR;

describe('GPT-2 vs PyTorch autograd (gpt2-debug)', () => {
  const { cfg, params } = loadHfDir(DIR);
  const tokens = E.storedToTensor(ref('tokens'));
  const targets = E.storedToTensor(ref('targets'));

  it('logits and mean loss', () => {
    E.tidy(() => {
      const logits = forward(params, cfg, tokens);
      expect(logits.shape).toEqual(ref('logits').shape);
      const c = compare(logits.toArray(), ref('logits').data);
      expect(c.abs).toBeLessThanOrEqual(1e-4);
      const loss = lossFn(params, cfg, tokens, targets).item();
      expect(Math.abs(loss - ref('loss').data[0]!)).toBeLessThanOrEqual(1e-5);
    });
  });

  it('activation and gradient of the mean loss at blocks.1.hook_resid_pre', () => {
    E.tidy(() => {
      const hook = 'blocks.1.hook_resid_pre';
      const { loss, acts, grads } = activationsAndGrads(params, cfg, tokens, [hook], { reduction: 'mean', targets });
      expect(Math.abs(loss.item() - ref('loss').data[0]!)).toBeLessThanOrEqual(1e-5);
      expect(compare(acts[hook]!.toArray(), ref(`act.${hook}`).data).abs).toBeLessThanOrEqual(1e-4);
      const g = compare(grads[hook]!.toArray(), ref(`actgrad.${hook}`).data);
      expect(close(g), `actgrad max |diff| ${g.abs}, rel ${g.rel}`).toBe(true);
      // The gradient of the summed loss is the mean's times the number of scored positions.
      const sum = activationsAndGrads(params, cfg, tokens, [hook], { reduction: 'sum', targets });
      const n = tokens.size;
      const scaled = Float32Array.from(ref(`actgrad.${hook}`).data, (x) => x * n);
      expect(close(compare(sum.grads[hook]!.toArray(), scaled))).toBe(true);
    });
  });

  // The fixture's `grad.<param>` tensors are the gradients PyTorch held after its AdamW loop, i.e.
  // at the parameters reached after 4 updates (the 5th step's backward), not at the initial
  // parameters: against those they agree to ~2e-7, against the initial ones they differ by ~1e-1.
  // So the 5-step run below checks both the losses and, at step 5, every parameter gradient.
  it('the loss before each of 5 AdamW steps, and every parameter gradient at the 5th', () => {
    const opt: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const want = ref('adamw_losses').data;
    expect(want.length).toBe(5);
    E.tidy(() => {
      let p = params;
      let mom = adamwInit(p);
      const got: number[] = [];
      let grads: Gpt2Params = {};
      for (let step = 1; step <= 5; step++) {
        const [loss, g] = E.valueAndGrad((q: Gpt2Params) => lossFn(q, cfg, tokens, targets))(p) as [E.Tensor, Gpt2Params];
        got.push(loss.item());
        grads = g;
        if (step === 5) break;
        const upd = adamwUpdate(p, g, mom, adamwScalars(step, 1e-3, opt), opt);
        p = upd.params;
        mom = { m: upd.m, v: upd.v };
      }
      for (let i = 0; i < 5; i++) expect(Math.abs(got[i]! - want[i]!), `step ${i + 1}: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(1e-4);
      // The losses must actually move, or the comparison says nothing about the optimizer.
      expect(want[0]! - want[4]!).toBeGreaterThan(0.5);
      const names = paramShapes(cfg).map(([n]) => n);
      expect(names.length).toBe(fixtureNames().filter((k) => k.startsWith('grad.')).length);
      for (const n of names) {
        const c = compare(grads[n]!.toArray(), ref(`grad.${n}`).data);
        expect(close(c), `grad.${n}: max |diff| ${c.abs}, rel ${c.rel}`).toBe(true);
      }
    });
  });
});
