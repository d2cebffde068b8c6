/**
 * Builds an activation-and-gradient store: runs the model over consecutive sequences of a token
 * range, captures x (and g = ∂L/∂x) at one hook, and writes them in shards. The manifest is
 * rewritten atomically after every shard, so an interrupted build resumes at the next shard and
 * loses at most one shard's work. Memory: one model batch plus one shard of rows.
 */
import { mkdirSync, existsSync } from 'node:fs';
import { removeStaleTemps } from '../../engine/io/atomic.js';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { encodeShard, StoreError, writeFileAtomic } from './shard.js';
import { MANIFEST, readManifest, writeManifest, type GradSource, type SpliceInfo, type StoreManifest } from './manifest.js';

export type CaptureFn = (tokens: E.Tensor) => { acts: E.Tensor; grads?: E.Tensor };

export interface BuildOptions {
  dir: string;
  hook: string;
  /** the corpus as token ids */
  tokens: Int32Array;
  source: string;
  range: [number, number];
  seqLen: number;
  /** sequences per model batch */
  batchSeqs: number;
  /** sequences per shard (a multiple of batchSeqs is simplest) */
  seqsPerShard: number;
  withGrad: boolean;
  /** the reduction of the loss the capture differentiates (recorded; the capture must use it) */
  gradReduction?: 'sum' | 'mean';
  /**
   * Where the capture takes its gradients (recorded; the capture must do it): 'clean' (default) or
   * 'spliced', with `splice` naming the SAE spliced in. See StoreManifest.gradSource.
   */
  gradSource?: GradSource;
  splice?: SpliceInfo;
  modelId: string;
  capture: CaptureFn;
  /** called after each shard with (sequences done, total) */
  onShard?: (done: number, total: number) => void;
}

function sameBuild(m: StoreManifest, o: BuildOptions): string | null {
  const want: Record<string, unknown> = {
    hook: o.hook, withGrad: o.withGrad, gradReduction: o.gradReduction ?? 'sum', modelId: o.modelId,
    seqLen: o.seqLen, seqsPerShard: o.seqsPerShard, tokens: JSON.stringify({ source: o.source, start: o.range[0], end: o.range[1] }),
    gradSource: o.gradSource ?? 'clean', splice: spliceKey(o.splice),
  };
  const have: Record<string, unknown> = { ...m, tokens: JSON.stringify(m.tokens), gradSource: m.gradSource ?? 'clean', splice: spliceKey(m.splice) };
  for (const k of Object.keys(want)) if (have[k] !== want[k]) return `${k}: store has ${JSON.stringify(have[k])}, asked for ${JSON.stringify(want[k])}`;
  return null;
}

/** What identifies a spliced SAE for resuming: its digest and the reduction it encoded with. */
const spliceKey = (s: SpliceInfo | undefined): string | null => (s ? JSON.stringify({ sha256: s.sha256, encodeGradReduction: s.encodeGradReduction }) : null);

function checkGradOptions(o: BuildOptions): void {
  const src = o.gradSource ?? 'clean';
  if (src !== 'clean' && src !== 'spliced') throw new StoreError(`store: gradSource must be 'clean' or 'spliced', got ${JSON.stringify(o.gradSource)}`);
  const red = o.gradReduction ?? 'sum';
  if (red !== 'sum' && red !== 'mean') throw new StoreError(`store: gradReduction must be 'sum' or 'mean', got ${JSON.stringify(o.gradReduction)}`);
  if (src === 'spliced' && !o.withGrad) throw new StoreError("store: gradSource 'spliced' describes gradients, but withGrad is off");
  if (src === 'spliced' && !o.splice) throw new StoreError("store: gradSource 'spliced' needs `splice` (which SAE was spliced in)");
  if (src === 'clean' && o.splice) throw new StoreError("store: `splice` given but gradSource is 'clean'");
}

/** Builds (or finishes) the store in one go. */
export function buildStore(o: BuildOptions): StoreManifest {
  const it = buildStoreSteps(o);
  for (let r = it.next(); ; r = it.next()) if (r.done) return r.value;
}

/**
 * buildStore, yielding to the event loop after every shard; once `stopRequested()` is true it
 * stops there (every finished shard is in the manifest) and returns null.
 */
export async function buildStoreInterruptible(o: BuildOptions, stopRequested: () => boolean): Promise<StoreManifest | null> {
  const it = buildStoreSteps(o);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return r.value;
    await new Promise((res) => setImmediate(res));
    if (stopRequested()) return null;
  }
}

/** The build, one yield after each shard (written, and recorded in the manifest). */
export function* buildStoreSteps(o: BuildOptions): Generator<void, StoreManifest, unknown> {
  const [start, end] = o.range;
  if (!(start >= 0 && end <= o.tokens.length && start < end)) throw new StoreError(`store: token range [${start}, ${end}) is not inside the corpus of ${o.tokens.length} tokens`);
  checkGradOptions(o);
  if (o.seqLen < 2) throw new StoreError(`store: seqLen ${o.seqLen} must be at least 2 (a next-token loss needs two positions)`);
  const totalSeqs = Math.floor((end - start) / o.seqLen);
  if (totalSeqs === 0) throw new StoreError(`store: range of ${end - start} tokens holds no sequence of ${o.seqLen}`);
  mkdirSync(o.dir, { recursive: true });
  // temporary files of a build killed mid-write (writeFileAtomic's `<file>.tmp-<pid>`)
  removeStaleTemps(o.dir);
  let m: StoreManifest;
  if (existsSync(join(o.dir, MANIFEST))) {
    m = readManifest(o.dir);
    const diff = sameBuild(m, o);
    if (diff) throw new StoreError(`store ${o.dir} was built with other settings (${diff}); use a new directory`);
  } else {
    m = {
      format: 'gsae-store', version: 1, hook: o.hook, d: 0, withGrad: o.withGrad, gradReduction: o.gradReduction ?? 'sum',
      ...(o.gradSource === 'spliced' ? { gradSource: 'spliced' as const, splice: o.splice } : { gradSource: 'clean' as const }),
      modelId: o.modelId, tokens: { source: o.source, start, end }, seqLen: o.seqLen, seqsPerShard: o.seqsPerShard,
      totalSeqs, shards: [], complete: false,
    };
  }
  let seq = m.shards.reduce((s, sh) => s + sh.seqs, 0);
  while (seq < totalSeqs) {
    const nSeq = Math.min(o.seqsPerShard, totalSeqs - seq);
    const xs: Float32Array[] = [];
    const gs: Float32Array[] = [];
    for (let b = 0; b < nSeq; b += o.batchSeqs) {
      const nb = Math.min(o.batchSeqs, nSeq - b);
      const first = start + (seq + b) * o.seqLen;
      E.tidy(() => {
        const toks = E.tensor(o.tokens.slice(first, first + nb * o.seqLen), [nb, o.seqLen], 'int32');
        const { acts, grads } = o.capture(toks);
        if (o.withGrad && !grads) throw new StoreError('store: capture returned no gradients but withGrad is set');
        xs.push(acts.toArray() as Float32Array);
        if (o.withGrad) gs.push(grads!.toArray() as Float32Array);
        m.d = acts.shape[acts.rank - 1]!;
      });
    }
    const rows = nSeq * o.seqLen;
    const cat = (parts: Float32Array[]) => {
      const out = new Float32Array(rows * m.d);
      let off = 0;
      for (const p of parts) { out.set(p, off); off += p.length; }
      return out;
    };
    const bytes = encodeShard({ rows, d: m.d, x: cat(xs), g: o.withGrad ? cat(gs) : null });
    const file = `shard_${String(m.shards.length).padStart(5, '0')}.bin`;
    writeFileAtomic(join(o.dir, file), bytes);
    m.shards.push({ file, rows, firstSeq: seq, seqs: nSeq, bytes: bytes.length });
    seq += nSeq;
    m.complete = seq >= totalSeqs;
    writeManifest(o.dir, m);
    o.onShard?.(seq, totalSeqs);
    if (seq < totalSeqs) yield;
  }
  if (!m.complete) {
    m.complete = true;
    writeManifest(o.dir, m);
  }
  return m;
}
