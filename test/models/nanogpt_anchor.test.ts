/**
 * The char-level anchor against nanoGPT itself: `rng: 'torch'` with the `nanogpt-char` preset,
 * shortened to 6 steps, must give PyTorch's numbers from the same seed — the loss estimates at
 * steps 0, 3 and 6 (same initial weights, same evaluation batches drawn in nanoGPT's order) and
 * every step's training loss (same batches, same AdamW, schedule and clipping). PyTorch's values
 * come from experiments/lm/nanogpt_reference.py via test/fixtures/torch-rng/make_fixture.py.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { train } from '../../models/gpt2/train.js';
import { NANOGPT_CHAR_PRESET } from '../../models/gpt2/presets.js';

const fx = JSON.parse(readFileSync('test/fixtures/torch-rng/torch_rng.json', 'utf8')).anchor_short;
const tmp = mkdtempSync(join(tmpdir(), 'gsae-anchor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("nanogpt-char with rng 'torch' follows nanoGPT's PyTorch run", () => {
  it('loss estimates and per-step losses of the first 6 steps', async () => {
    const stepLosses: number[] = [];
    const r = await train(
      {
        ...NANOGPT_CHAR_PRESET,
        data: 'data/tinyshakespeare/input.txt',
        out: join(tmp, 'run'),
        iters: fx.iters,
        decayIters: fx.iters,
        evalInterval: fx.eval_interval,
        evalIters: fx.eval_iters,
        seed: fx.seed,
        checkpointInterval: 0,
      },
      { onStep: (s) => stepLosses.push(s.loss) },
    );
    expect(NANOGPT_CHAR_PRESET.rng).toBe('torch');
    expect(r.history.map((h) => h.step)).toEqual(fx.history.map((h: { step: number }) => h.step));
    r.history.forEach((h, i) => {
      // float32 sums in other orders: measured |diff| ≤ 3.6e-7 (a draw out of order: ~1e-2)
      expect(Math.abs(h.trainLoss - fx.history[i].train_loss), `train estimate at ${h.step}`).toBeLessThan(5e-6);
      expect(Math.abs(h.valLoss - fx.history[i].val_loss), `val estimate at ${h.step}`).toBeLessThan(5e-6);
      // (the final entry's lr is the last step's here, the next step's in nanoGPT's log)
      if (h.step < fx.iters) expect(h.lr).toBeCloseTo(fx.history[i].lr, 12);
    });
    expect(stepLosses.length).toBe(fx.step_losses.length);
    // measured |diff| ≤ 4.8e-7
    stepLosses.forEach((l, i) => expect(Math.abs(l - fx.step_losses[i]), `step ${i + 1} loss`).toBeLessThan(5e-6));
    E.dispose(r.params);
  });
});
