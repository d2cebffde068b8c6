/**
 * SAEDashboard-style "interval" sections in one pass: per latent, G equal-width activation
 * intervals over [0, M) (M the latent's doubling histogram scale, see histogram.ts), each with an
 * exact count of the firing positions that fell in it and a seeded uniform reservoir (Algorithm R)
 * of C of them. When M doubles, intervals 2j and 2j+1 merge into j: the merged reservoir draws
 * C items without replacement from the union, each side chosen with probability proportional to
 * its remaining population (a hypergeometric draw), so it is again a uniform sample of the merged
 * interval and Algorithm R continues from the merged count. Every draw comes from one seeded
 * stream in pass order, and the stream's state is checkpointed, so a resumed pass draws the same.
 */
import type * as E from '../../engine/index.js';
import type { CapturedContext } from './top_contexts.js';

export class IntervalSamples {
  /** exact firing count per (latent, interval), [latents × G] */
  readonly counts: Float64Array;
  readonly samples: CapturedContext[][];

  constructor(readonly latents: number, readonly intervals: number, readonly perInterval: number, state?: { counts: Float64Array; samples: CapturedContext[][] }) {
    if (!(intervals >= 1 && (intervals & (intervals - 1)) === 0)) throw new Error(`interval samples: the number of intervals must be a power of two, got ${intervals}`);
    this.counts = state?.counts ?? new Float64Array(latents * intervals);
    this.samples = state?.samples ?? Array.from({ length: latents * intervals }, () => []);
  }

  /**
   * Counts one firing position in interval j of latent i and returns the reservoir slot it takes
   * (−1: not sampled). The caller cuts the window only when a slot is returned.
   */
  slot(i: number, j: number, rng: E.Rng): number {
    const at = i * this.intervals + j;
    const n = (this.counts[at]! += 1);
    if (n <= this.perInterval) return n - 1;
    const r = rng.int(n);
    return r < this.perInterval ? r : -1;
  }

  put(i: number, j: number, slot: number, c: CapturedContext): void {
    const list = this.samples[i * this.intervals + j]!;
    if (slot === list.length) list.push(c);
    else list[slot] = c;
  }

  /** The scale of latent i doubled: merge intervals pairwise. */
  double(i: number, rng: E.Rng): void {
    const G = this.intervals;
    if (G === 1) return; // one interval covering [0, M): nothing to merge
    const base = i * G;
    const counts = new Float64Array(G);
    const samples: CapturedContext[][] = Array.from({ length: G }, () => []);
    for (let j = 0; j < G; j += 2) {
      const a = base + j;
      counts[j >> 1] = this.counts[a]! + this.counts[a + 1]!;
      samples[j >> 1] = this.merge(this.samples[a]!, this.counts[a]!, this.samples[a + 1]!, this.counts[a + 1]!, rng);
    }
    this.counts.set(counts, base);
    for (let j = 0; j < G; j++) this.samples[base + j] = samples[j]!;
  }

  private merge(ra: CapturedContext[], na: number, rb: CapturedContext[], nb: number, rng: E.Rng): CapturedContext[] {
    if (nb === 0) return ra;
    if (na === 0) return rb;
    if (na + nb <= this.perInterval) return [...ra, ...rb];
    const poolA = [...ra];
    const poolB = [...rb];
    let remA = na;
    let remB = nb;
    const out: CapturedContext[] = [];
    while (out.length < this.perInterval) {
      const fromA = rng.int(remA + remB) < remA;
      const pool = fromA ? poolA : poolB;
      if (fromA) remA--;
      else remB--;
      // a uniform random member of that side's sample (without replacement)
      const k = rng.int(pool.length);
      out.push(pool[k]!);
      pool[k] = pool[pool.length - 1]!;
      pool.pop();
    }
    return out;
  }
}
