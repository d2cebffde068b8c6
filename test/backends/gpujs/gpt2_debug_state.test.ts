/**
 * The GPT-2 debug-state check (test/models/gpt2_debug_state.test.ts: logits, loss, the gradient at
 * a hook, 5 AdamW steps and every parameter gradient against PyTorch autograd) on every gpu.js
 * mode available here, with the same tolerances: the model uses only engine ops, so it must give
 * PyTorch's numbers on this backend too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../../engine/index.js';
import type { GpujsBackend } from '../../../engine/backends/gpujs/index.js';
import { paramShapes, loadHfDir, type Gpt2Params } from '../../../models/gpt2/params.js';
import { activationsAndGrads, forward, lossFn } from '../../../models/gpt2/model.js';
import { adamwInit, adamwScalars, adamwUpdate, type AdamWConfig } from '../../../models/optim/adamw.js';
import { modesUnderTest, onBackend, stopDisplay } from './modes.js';
import { close, compare, DEBUG_DIR, ref } from '../../models/gpt2_debug_fixture.js';

const { modes, skipped } = await modesUnderTest();
for (const s of skipped) console.log(`[gpujs gpt2] mode skipped — ${s}`);
afterAll(stopDisplay);

const DIR = DEBUG_DIR;

describe.skipIf(modes.length === 0).each(modes)('GPT-2 vs PyTorch autograd (gpt2-debug) on gpu.js $mode', (m) => {
  it('logits, loss, the hook gradient, 5 AdamW steps and every parameter gradient', () => {
    const b = E.getBackend(m.backend) as GpujsBackend;
    b.resetCounters();
    onBackend(m.backend, () =>
      E.tidy(() => {
        const { cfg, params } = loadHfDir(DIR);
        const tokens = E.storedToTensor(ref('tokens'));
        const targets = E.storedToTensor(ref('targets'));

        const logits = forward(params, cfg, tokens);
        expect(compare(logits.toArray(), ref('logits').data).abs).toBeLessThanOrEqual(1e-4);
        expect(Math.abs(lossFn(params, cfg, tokens, targets).item() - ref('loss').data[0]!)).toBeLessThanOrEqual(1e-5);

        const hook = 'blocks.1.hook_resid_pre';
        const { acts, grads: hg } = activationsAndGrads(params, cfg, tokens, [hook], { reduction: 'mean', targets });
        expect(compare(acts[hook]!.toArray(), ref(`act.${hook}`).data).abs).toBeLessThanOrEqual(1e-4);
        const g = compare(hg[hook]!.toArray(), ref(`actgrad.${hook}`).data);
        expect(close(g), `actgrad max |diff| ${g.abs}, rel ${g.rel}`).toBe(true);

        const opt: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
        const want = ref('adamw_losses').data;
        let p = params;
        let mom = adamwInit(p);
        let grads: Gpt2Params = {};
        for (let step = 1; step <= 5; step++) {
          const [loss, gr] = E.valueAndGrad((q: Gpt2Params) => lossFn(q, cfg, tokens, targets))(p) as [E.Tensor, Gpt2Params];
          expect(Math.abs(loss.item() - want[step - 1]!), `step ${step}`).toBeLessThanOrEqual(1e-4);
          grads = gr;
          if (step === 5) break;
          const upd = adamwUpdate(p, gr, mom, adamwScalars(step, 1e-3, opt), opt);
          p = upd.params;
          mom = { m: upd.m, v: upd.v };
        }
        for (const [n] of paramShapes(cfg)) {
          const c = compare(grads[n]!.toArray(), ref(`grad.${n}`).data);
          expect(close(c), `grad.${n}: max |diff| ${c.abs}, rel ${c.rel}`).toBe(true);
        }
      }),
    );
    // the model ran on gpu.js kernels: only topk-free host fallbacks are allowed (none expected)
    expect(b.fallbacks()).toEqual({});
    expect(Object.keys(b.nativeRuns())).toEqual(expect.arrayContaining(['matmul', 'gather', 'scatterAdd']));
  });
});
