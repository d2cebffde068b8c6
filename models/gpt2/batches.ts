/**
 * Where a training run's random batches come from. Two samplers draw the same kind of batches
 * (B windows with starts uniform in [0, len − T), as nanoGPT's get_batch) from different streams:
 *
 * - `gsae` (default): the project's generator, one forked stream for training batches and a fresh
 *   stream per evaluation step and split, so evaluating more or less never moves training;
 * - `torch`: nanoGPT's stream exactly. One PyTorch generator (already advanced by initialisation)
 *   serves everything in nanoGPT's order: the first training batch is drawn before the loop, every
 *   step's next batch is drawn right after its current one is taken, and `estimate_loss` draws
 *   eval_iters train then eval_iters validation batches from the same generator.
 *
 * A sampler's state (saved in checkpoints) resumes it exactly.
 */
import * as E from '../../engine/index.js';
import { batchFromStarts, randomBatch, startCount, type HostBatch } from './data.js';

export type RngKind = 'gsae' | 'torch';

export interface BatchSampler {
  /** The next training batch. */
  train(): HostBatch;
  /** Draws for one loss estimate at step `at`: call with 'train' n times, then with 'val' n times. */
  evalBatch(split: 'train' | 'val', at: number): HostBatch;
  getState(): number[];
  setState(s: number[]): void;
}

interface Splits {
  train: Int32Array;
  val: Int32Array;
}

export class GsaeSampler implements BatchSampler {
  private readonly data: E.Rng;
  private evalAt = -1;
  private evalRngs: Record<'train' | 'val', E.Rng> | null = null;

  constructor(private readonly root: E.Rng, private readonly splits: Splits, private readonly B: number, private readonly T: number) {
    this.data = root.fork('data');
  }

  train(): HostBatch {
    return randomBatch(this.splits.train, this.B, this.T, this.data);
  }

  evalBatch(split: 'train' | 'val', at: number): HostBatch {
    if (at !== this.evalAt || !this.evalRngs) {
      const r = this.root.fork('eval').fork(at);
      this.evalRngs = { train: r.fork('train'), val: r.fork('val') };
      this.evalAt = at;
    }
    return randomBatch(this.splits[split], this.B, this.T, this.evalRngs[split]);
  }

  getState(): number[] {
    return this.data.getState();
  }

  setState(s: number[]): void {
    this.data.setState(s);
  }
}

export class TorchSampler implements BatchSampler {
  private next: number[];

  /** `gen`: the generator right after initialisation; draws the first batch now, as nanoGPT does. */
  constructor(private readonly gen: E.TorchGenerator, private readonly splits: Splits, private readonly B: number, private readonly T: number) {
    this.next = this.draw('train');
  }

  private draw(split: 'train' | 'val'): number[] {
    return this.gen.randint(this.B, 0, startCount(this.splits[split], this.T, `the ${split} split`));
  }

  train(): HostBatch {
    const b = batchFromStarts(this.splits.train, this.next, this.T);
    this.next = this.draw('train');
    return b;
  }

  /** The step does not matter: nanoGPT draws every evaluation from the one generator. */
  evalBatch(split: 'train' | 'val', _at?: number): HostBatch {
    return batchFromStarts(this.splits[split], this.draw(split), this.T);
  }

  /** The generator's state, then the B starts of the batch already drawn for the next step. */
  getState(): number[] {
    return [...this.gen.getState(), ...this.next];
  }

  setState(s: number[]): void {
    if (!Array.isArray(s) || s.length !== 625 + this.B) throw new Error(`TorchSampler.setState: expected 625 generator words and ${this.B} batch starts, got ${Array.isArray(s) ? s.length : typeof s} values`);
    this.gen.setState(s.slice(0, 625));
    this.next = s.slice(625);
  }
}
