/**
 * Batch samplers. TorchSampler against the batch starts nanoGPT's loop drew from PyTorch's
 * generator (test/fixtures/torch-rng: first batch before the loop, eval batches from the same
 * generator every eval_interval); both samplers resume exactly from their saved state.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { GsaeSampler, TorchSampler, type BatchSampler } from '../../models/gpt2/batches.js';
import { batchFromStarts } from '../../models/gpt2/data.js';

const fx = JSON.parse(readFileSync('test/fixtures/torch-rng/torch_rng.json', 'utf8'));
const iota = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('TorchSampler', () => {
  const L = fx.loop;
  const splits = { train: iota(L.n_train), val: iota(L.n_val) };

  it("draws nanoGPT's batches in nanoGPT's order", () => {
    const s = new TorchSampler(new E.TorchGenerator(L.seed), splits, L.batch, L.block);
    // Starts are recoverable from the windows because the data are 0, 1, 2, ...
    const starts = (b: { x: Int32Array }) => Array.from({ length: L.batch }, (_, r) => b.x[r * L.block]!);
    const got: { split: string; iter: number; ix: number[] }[] = [];
    const evalAll = (it: number) => {
      for (const split of ['train', 'val'] as const) {
        for (let k = 0; k < L.eval_iters; k++) got.push({ split: `${split}-eval`, iter: it, ix: starts(s.evalBatch(split, it)) });
      }
    };
    // the trainer's loop: evaluate every eval_interval and at the end; one training batch a step
    for (let it = 0; it < L.iters; it++) {
      if (it % L.eval_interval === 0) evalAll(it);
      got.push({ split: 'train', iter: it, ix: starts(s.train()) });
    }
    evalAll(L.iters);
    // the fixture lists the prefetches where PyTorch drew them (batch it+1 during step it)
    const want = L.draws.filter((d: { split: string; iter: number }) => !(d.split === 'train' && d.iter === L.iters));
    const key = (d: { split: string; ix: number[] }) => `${d.split}:${d.ix.join(',')}`;
    expect(got.map(key).sort()).toEqual(want.map(key).sort());
    // and the order of evaluations relative to training batches is nanoGPT's
    const order = (ds: { split: string; iter: number }[]) => ds.filter((d) => d.split !== 'train').map((d) => d.iter);
    expect(order(got)).toEqual(order(want));
  });

  it('the batch is the window at each start', () => {
    const b = batchFromStarts(iota(20), [3, 10], 4);
    expect(Array.from(b.x)).toEqual([3, 4, 5, 6, 10, 11, 12, 13]);
    expect(Array.from(b.y)).toEqual([4, 5, 6, 7, 11, 12, 13, 14]);
    expect(() => batchFromStarts(iota(20), [16], 4)).toThrow(/start 16 out of range/);
  });
});

describe('samplers resume exactly', () => {
  const splits = { train: iota(300), val: iota(80) };
  const make: Record<string, () => BatchSampler> = {
    gsae: () => new GsaeSampler(new E.Rng(9), splits, 4, 8),
    torch: () => new TorchSampler(new E.TorchGenerator(9), splits, 4, 8),
  };
  for (const [name, mk] of Object.entries(make)) {
    it(name, () => {
      const a = mk();
      for (let i = 0; i < 5; i++) a.train();
      const saved = a.getState();
      const cont = [a.train(), a.train()].map((b) => Array.from(b.x));
      const b = mk();
      b.setState(saved);
      expect([b.train(), b.train()].map((x) => Array.from(x.x))).toEqual(cont);
    });
  }
  it('a torch state of the wrong length is refused', () => {
    expect(() => make.torch!().setState([1, 2])).toThrow(/625 generator words and 4 batch starts/);
  });
});
