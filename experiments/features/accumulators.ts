/**
 * Everything the streamed pass keeps per latent, updated one batch of whole store sequences at a
 * time from the dense codes f [rows × m] (and, for g-SAEs, the attribution z ⊙ a [rows × m]):
 * firing count, activation sum and max, Σ|attribution| over firing tokens, the doubling activation
 * and attribution histograms, the top-K contexts and the interval reservoirs, plus Σ‖x‖ (for
 * steering's E‖x‖) and the seeded stream the reservoirs draw from.
 *
 * A position "fires" for latent i when f_i > the dictionary's fired threshold (0 for every
 * variant here). Updates visit rows in store order and latents in index order, so the state
 * after a batch is a pure function of the batches before it: checkpointing it between batches
 * and resuming gives the uninterrupted pass's result exactly.
 */
import * as E from '../../engine/index.js';
import { binOf, DoublingHistograms } from './histogram.js';
import { IntervalSamples } from './interval_samples.js';
import { captureWindow, TopContexts, type BatchView, type CapturedContext } from './top_contexts.js';

/** activation histogram bins per latent (a power of two; the intervals group them) */
export const ACT_BINS = 64;
export const ATTR_BINS = 64;

export interface AccumulatorOptions {
  latents: number;
  topContexts: number;
  /** N of the ±N window */
  contextWindow: number;
  /** G equal-width activation intervals (a power of two ≤ ACT_BINS) */
  intervals: number;
  contextsPerInterval: number;
  withAttr: boolean;
  firedThreshold: number;
  seed: number;
}

export class FeatureAccumulators {
  readonly fired: Float64Array;
  readonly sumAct: Float64Array;
  readonly maxAct: Float64Array;
  readonly sumAbsAttr: Float64Array;
  readonly actHist: DoublingHistograms;
  readonly attrHist: DoublingHistograms | null;
  readonly top: TopContexts;
  readonly intervals: IntervalSamples;
  readonly rng: E.Rng;
  /** rows (tokens) seen, Σ‖x‖ over them, and store sequences done (the resume cursor) */
  tokens = 0;
  sumNorm = 0;
  seqsDone = 0;
  private readonly shift: number;

  constructor(readonly o: AccumulatorOptions) {
    const m = o.latents;
    if (!(o.intervals >= 1 && o.intervals <= ACT_BINS && (o.intervals & (o.intervals - 1)) === 0)) {
      throw new Error(`features: --quantile-sections must be a power of two between 1 and ${ACT_BINS} (intervals share the histogram's doubling grid), got ${o.intervals}`);
    }
    this.fired = new Float64Array(m);
    this.sumAct = new Float64Array(m);
    this.maxAct = new Float64Array(m);
    this.sumAbsAttr = new Float64Array(m);
    this.actHist = new DoublingHistograms(m, ACT_BINS, false);
    this.attrHist = o.withAttr ? new DoublingHistograms(m, ATTR_BINS, true) : null;
    this.top = new TopContexts(m, o.topContexts);
    this.intervals = new IntervalSamples(m, o.intervals, o.contextsPerInterval);
    this.rng = new E.Rng(o.seed).fork('feature-intervals');
    this.shift = Math.log2(ACT_BINS / o.intervals);
  }

  /** One batch of whole sequences: codes f (and attribution) [rows × m], inputs x [rows × d]. */
  addBatch(b: BatchView, x: Float32Array, d: number): void {
    const { m, f } = b;
    const rows = f.length / m;
    const thr = this.o.firedThreshold;
    const W = this.o.contextWindow;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = r * d; j < (r + 1) * d; j++) s += x[j]! * x[j]!;
      this.sumNorm += Math.sqrt(s);
      const off = r * m;
      for (let i = 0; i < m; i++) {
        const v = f[off + i]!;
        if (!(v > thr)) continue;
        this.fired[i]! += 1;
        this.sumAct[i]! += v;
        if (v > this.maxAct[i]!) this.maxAct[i] = v;
        const doublings = this.actHist.add(i, v);
        for (let t = 0; t < doublings; t++) this.intervals.double(i, this.rng);
        const cell = binOf(v, this.actHist.scale[i]!, ACT_BINS, false) >> this.shift;
        const slot = this.intervals.slot(i, cell, this.rng);
        let c: CapturedContext | null = null;
        if (slot >= 0) {
          c = captureWindow(b, r, i, W);
          this.intervals.put(i, cell, slot, c);
        }
        if (this.top.wants(i, v)) this.top.offer(i, c ?? captureWindow(b, r, i, W));
        if (this.attrHist) {
          const a = b.attr![off + i]!;
          this.sumAbsAttr[i]! += Math.abs(a);
          this.attrHist.add(i, a);
        }
      }
    }
    this.tokens += rows;
    this.seqsDone = b.firstSeq + rows / b.seqLen;
  }

  /** Interval j of latent i covers [j·M/G, (j+1)·M/G) with M the latent's final scale. */
  intervalBounds(i: number, j: number): [number, number] {
    const w = this.actHist.scale[i]! / this.o.intervals;
    return [j * w, (j + 1) * w];
  }
}
