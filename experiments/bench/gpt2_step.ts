/**
 * gpt2.train_step on the peers' shapes: one AdamW step (forward, backward, clipping, update) of a
 * GPT-2, mean cross-entropy over all positions, through the same compiled step `gsae lm train`
 * uses. tokens/s = B·T / seconds per step.
 */
import * as E from '../../engine/index.js';
import { makeConfig } from '../../models/gpt2/config.js';
import { initParams } from '../../models/gpt2/params.js';
import { makeTrainStep } from '../../models/gpt2/train.js';
import { adamwInit, adamwScalars } from '../../models/optim/adamw.js';
import { registerWorkload } from './registry.js';

const SHAPES = [
  { layers: 4, n_embd: 256, heads: 4, vocab: 8192, ctx: 128, batch: 8, quick: true },
  { layers: 12, n_embd: 768, heads: 12, vocab: 50257, ctx: 128, batch: 1, quick: false },
];

for (const s of SHAPES) {
  const C = s.n_embd;
  const perLayer = 12 * C * C + 13 * C;
  const params = s.vocab * C + s.ctx * C + s.layers * perLayer + 2 * C;
  const tokens = s.batch * s.ctx;
  registerWorkload({
    name: 'gpt2.train_step',
    unit: 'tokens/s',
    shape: { layers: s.layers, n_embd: C, heads: s.heads, vocab: s.vocab, ctx: s.ctx, batch: s.batch },
    workPerStep: tokens,
    // 6 FLOP per parameter per token, plus attention
    flopPerStep: 6 * params * tokens + 12 * s.layers * s.ctx * tokens * C,
    quick: s.quick,
    setup() {
      const cfg = makeConfig({ n_layer: s.layers, n_embd: C, n_head: s.heads, vocab_size: s.vocab, n_positions: s.ctx });
      const opt = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
      let p = E.keep(initParams(cfg, 0));
      let mom = E.keep(adamwInit(p));
      const rng = new E.Rng(1);
      const ids = Int32Array.from({ length: s.batch * (s.ctx + 1) }, () => rng.int(s.vocab));
      const x = E.keep(E.tensor(Int32Array.from({ length: tokens }, (_, i) => ids[Math.floor(i / s.ctx) * (s.ctx + 1) + (i % s.ctx)]!), [s.batch, s.ctx], 'int32'));
      const y = E.keep(E.tensor(Int32Array.from({ length: tokens }, (_, i) => ids[Math.floor(i / s.ctx) * (s.ctx + 1) + (i % s.ctx) + 1]!), [s.batch, s.ctx], 'int32'));
      const step = makeTrainStep(cfg, opt, 1.0);
      let t = 0;
      return {
        step: () => {
          t++;
          const sc = adamwScalars(t, 1e-3, opt);
          const out = E.tidy(() => step(p, mom.m, mom.v, x, y, sc.decay, sc.stepSize, sc.bc2Sqrt, {}));
          out.loss.item(); // wait for the result, as the peer does
          E.dispose([sc, out.loss, out.norm]); // p and mom were donated to the step
          p = E.keep(out.params);
          mom = E.keep({ m: out.m, v: out.v });
        },
        dispose: () => {
          E.dispose([p, mom, x, y]);
          step.dispose();
        },
      };
    },
  });
}
