/**
 * Context windows captured during the pass, and the per-latent top-K selection.
 *
 * A window is cut when a position is kept (a top-K entry or a reservoir sample), from the batch in
 * hand: the latent's activation (and g-SAE attribution) at every position of [pos − N, pos + N]
 * clipped to the position's own sequence. Token ids are filled in when writing (from the corpus).
 *
 * Top-K order: activation descending, then store order (seq·T + pos) ascending — so ties resolve
 * to the earliest position, the same answer a sort of every firing position gives.
 */

export interface CapturedContext {
  act: number;
  seq: number;
  pos: number;
  /** first position of the window in its sequence */
  start: number;
  acts: Float32Array;
  attr: Float32Array | null;
}

/** What a capture reads: one batch of whole sequences, dense codes [rows × m]. */
export interface BatchView {
  /** index (in the store) of the batch's first sequence */
  firstSeq: number;
  seqLen: number;
  m: number;
  f: Float32Array;
  attr: Float32Array | null;
}

export function captureWindow(b: BatchView, row: number, latent: number, halfWidth: number): CapturedContext {
  const T = b.seqLen;
  const s = Math.floor(row / T);
  const pos = row - s * T;
  const start = Math.max(0, pos - halfWidth);
  const end = Math.min(T, pos + halfWidth + 1);
  const acts = new Float32Array(end - start);
  const attr = b.attr ? new Float32Array(end - start) : null;
  for (let p = start; p < end; p++) {
    const at = (s * T + p) * b.m + latent;
    acts[p - start] = b.f[at]!;
    if (attr) attr[p - start] = b.attr![at]!;
  }
  return { act: b.f[row * b.m + latent]!, seq: b.firstSeq + s, pos, start, acts, attr };
}

/** Per-latent top-K by (activation desc, store order asc). */
export class TopContexts {
  readonly lists: CapturedContext[][];
  /** current worst kept activation per latent (−∞ until the list is full) */
  private readonly worst: Float64Array;

  constructor(readonly latents: number, readonly k: number, lists?: CapturedContext[][]) {
    this.lists = lists ?? Array.from({ length: latents }, () => []);
    this.worst = new Float64Array(latents).fill(-Infinity);
    for (let i = 0; i < latents; i++) this.refreshWorst(i);
  }

  /** Replaces every list (a restored checkpoint). */
  restore(lists: CapturedContext[][]): void {
    for (let i = 0; i < this.latents; i++) {
      this.lists[i] = lists[i]!;
      this.refreshWorst(i);
    }
  }

  /** Cheap pre-check before cutting a window: would (latent, v) enter the list? */
  wants(i: number, v: number): boolean {
    // a later position with an equal activation ranks below every kept one
    return this.k > 0 && (this.lists[i]!.length < this.k || v > this.worst[i]!);
  }

  offer(i: number, c: CapturedContext): void {
    const list = this.lists[i]!;
    if (list.length < this.k) list.push(c);
    else list[this.worstIndex(i)] = c;
    this.refreshWorst(i);
  }

  /** The kept contexts, best first. */
  sorted(i: number): CapturedContext[] {
    return [...this.lists[i]!].sort(rankOrder);
  }

  private worstIndex(i: number): number {
    const list = this.lists[i]!;
    let w = 0;
    for (let j = 1; j < list.length; j++) if (rankOrder(list[j]!, list[w]!) > 0) w = j;
    return w;
  }

  private refreshWorst(i: number): void {
    const list = this.lists[i]!;
    this.worst[i] = list.length < this.k ? -Infinity : list[this.worstIndex(i)]!.act;
  }
}

/** Sort order of contexts: larger activation first, then earlier in the store. */
export function rankOrder(a: { act: number; seq: number; pos: number }, b: { act: number; seq: number; pos: number }): number {
  return b.act - a.act || a.seq - b.seq || a.pos - b.pos;
}
