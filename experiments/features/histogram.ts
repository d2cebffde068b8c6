/**
 * One-pass histograms whose range is not known in advance (a latent's largest activation is only
 * known at the end of the pass). Each latent keeps B bins over [0, M) — or [−M, M) for signed
 * values — where M is a power of two that doubles (adjacent bins merged pairwise) whenever a value
 * reaches it. Bin indices are floor(v·B/M) with B and M powers of two, so the scaling is exact in
 * floating point and merging gives exactly the counts a direct pass with the final M would give:
 * the result depends only on the values, not on their order or on where the pass was resumed.
 * The final M is the smallest power of two ≥ MIN_SCALE that exceeds max |v|.
 */
import type { Histogram } from './schema.js';

export const MIN_SCALE = 2 ** -16;

/** Index of v in B bins over [0, M) (unsigned) or [−M, M) (signed). */
export function binOf(v: number, scale: number, bins: number, signed: boolean): number {
  if (!signed) return Math.min(bins - 1, Math.max(0, Math.floor((v * bins) / scale)));
  const half = bins / 2;
  return Math.min(bins - 1, Math.max(0, half + Math.floor((v * half) / scale)));
}

/** The smallest power of two ≥ MIN_SCALE strictly above |v| (what the doubling converges to). */
export function scaleFor(absMax: number): number {
  let s = MIN_SCALE;
  while (absMax >= s) s *= 2;
  return s;
}

export class DoublingHistograms {
  /** counts [latents × bins] */
  readonly counts: Float64Array;
  /** M per latent */
  readonly scale: Float64Array;

  constructor(readonly latents: number, readonly bins: number, readonly signed: boolean, state?: { counts: Float64Array; scale: Float64Array }) {
    if (!(bins >= 2 && (bins & (bins - 1)) === 0)) throw new Error(`histogram: bins must be a power of two ≥ 2, got ${bins}`);
    this.counts = state?.counts ?? new Float64Array(latents * bins);
    this.scale = state?.scale ?? new Float64Array(latents).fill(MIN_SCALE);
  }

  /**
   * Adds v to latent i's histogram; returns how many times the scale doubled (so callers that
   * keep per-bin structures of their own, like the interval reservoirs, can merge in step).
   */
  add(i: number, v: number): number {
    let doublings = 0;
    const a = Math.abs(v);
    while (a >= this.scale[i]!) {
      this.double(i);
      doublings++;
    }
    this.counts[i * this.bins + binOf(v, this.scale[i]!, this.bins, this.signed)]! += 1;
    return doublings;
  }

  private double(i: number): void {
    const B = this.bins;
    const c = this.counts.subarray(i * B, (i + 1) * B);
    const merged = new Float64Array(B);
    if (!this.signed) {
      for (let j = 0; j < B; j++) merged[j >> 1]! += c[j]!;
    } else {
      // old bin j holds v with floor(v·h/M) = j − h; at 2M the index is h + floor((j − h)/2)
      const h = B / 2;
      for (let j = 0; j < B; j++) merged[h + Math.floor((j - h) / 2)]! += c[j]!;
    }
    c.set(merged);
    this.scale[i]! *= 2;
  }

  /** Latent i's histogram as the schema writes it: empty outer bins trimmed. */
  histogram(i: number, label: string): Histogram {
    const B = this.bins;
    const M = this.scale[i]!;
    const c = Array.from(this.counts.subarray(i * B, (i + 1) * B));
    let lo = 0;
    let hi = B;
    while (hi > 0 && c[hi - 1] === 0) hi--;
    if (this.signed) while (lo < hi && c[lo] === 0) lo++;
    if (hi <= lo) return { edges: [], counts: [], label };
    const edge = (j: number) => (this.signed ? ((j - B / 2) * M) / (B / 2) : (j * M) / B);
    const edges: number[] = [];
    for (let j = lo; j <= hi; j++) edges.push(edge(j));
    return { edges, counts: c.slice(lo, hi), label };
  }
}

/** A fixed-edge histogram of plain values (edges ascending; the last bin is closed). */
export function fixedHistogram(values: ArrayLike<number>, edges: number[], label: string): Histogram {
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (let n = 0; n < values.length; n++) {
    const v = values[n]!;
    if (!(v >= edges[0]! && v <= edges[edges.length - 1]!)) continue;
    let j = 0;
    while (j < counts.length - 1 && v >= edges[j + 1]!) j++;
    counts[j]! += 1;
  }
  return { edges, counts, label };
}

/** log10 firing density over latents: bins of width 0.25 from the lowest density seen up to 0. */
export function densityHistogram(densities: readonly number[]): { hist: Histogram; dead: number } {
  const alive = densities.filter((d) => d > 0).map((d) => Math.log10(d));
  const dead = densities.length - alive.length;
  const label = 'log10 firing density (fraction of held-out tokens)';
  if (alive.length === 0) return { hist: { edges: [], counts: [], label }, dead };
  const lo = Math.floor(Math.min(...alive) * 4) / 4;
  const edges: number[] = [];
  for (let e = lo; e < 0; e += 0.25) edges.push(e);
  edges.push(0);
  if (edges.length < 2) edges.unshift(-0.25);
  return { hist: fixedHistogram(alive, edges, label), dead };
}
