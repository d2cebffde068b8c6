/**
 * The resumable state of a `gsae features` pass (features/state.msgpack, msgpackr): every
 * accumulator, the reservoirs' RNG state and the cursor (store sequences done), plus a key naming
 * the SAE weights, the store and the options, so a state is never continued under other settings.
 * Typed arrays are stored as raw bytes; the captured contexts column-wise (one array per field
 * over all lists), which keeps the file compact and the (un)packing fast. Written atomically.
 */
import { existsSync, readFileSync } from 'node:fs';
import { pack, unpack } from 'msgpackr';
import { writeFileAtomic } from '../../engine/io/atomic.js';
import type { FeatureAccumulators } from './accumulators.js';
import type { CapturedContext } from './top_contexts.js';

export const STATE_FILE = 'state.msgpack';
const STATE_FORMAT = 'gsae-features-state';
const STATE_VERSION = 1;

const bytes = (a: Float64Array | Float32Array | Int32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
// copies: unpacked bytes need not be aligned for a typed-array view
const f64 = (b: Uint8Array) => new Float64Array(new Uint8Array(b).buffer);
const f32 = (b: Uint8Array) => new Float32Array(new Uint8Array(b).buffer);
const i32 = (b: Uint8Array) => new Int32Array(new Uint8Array(b).buffer);

interface PackedContexts {
  /** contexts per list */
  counts: Uint8Array;
  act: Uint8Array;
  seq: Uint8Array;
  pos: Uint8Array;
  start: Uint8Array;
  len: Uint8Array;
  acts: Uint8Array;
  attr: Uint8Array | null;
}

function packContexts(lists: CapturedContext[][], withAttr: boolean): PackedContexts {
  const all = lists.flat();
  const total = all.reduce((s, c) => s + c.acts.length, 0);
  const acts = new Float32Array(total);
  const attr = withAttr ? new Float32Array(total) : null;
  let off = 0;
  for (const c of all) {
    acts.set(c.acts, off);
    if (attr) attr.set(c.attr!, off);
    off += c.acts.length;
  }
  return {
    counts: bytes(Int32Array.from(lists, (l) => l.length)),
    act: bytes(Float32Array.from(all, (c) => c.act)),
    seq: bytes(Int32Array.from(all, (c) => c.seq)),
    pos: bytes(Int32Array.from(all, (c) => c.pos)),
    start: bytes(Int32Array.from(all, (c) => c.start)),
    len: bytes(Int32Array.from(all, (c) => c.acts.length)),
    acts: bytes(acts),
    attr: attr ? bytes(attr) : null,
  };
}

function unpackContexts(p: PackedContexts): CapturedContext[][] {
  const counts = i32(p.counts);
  const [act, seq, pos, start, len, acts] = [f32(p.act), i32(p.seq), i32(p.pos), i32(p.start), i32(p.len), f32(p.acts)];
  const attr = p.attr ? f32(p.attr) : null;
  const out: CapturedContext[][] = [];
  let n = 0;
  let off = 0;
  for (const c of counts) {
    const list: CapturedContext[] = [];
    for (let k = 0; k < c; k++, n++) {
      const l = len[n]!;
      list.push({ act: act[n]!, seq: seq[n]!, pos: pos[n]!, start: start[n]!, acts: acts.slice(off, off + l), attr: attr ? attr.slice(off, off + l) : null });
      off += l;
    }
    out.push(list);
  }
  return out;
}

export function saveState(path: string, acc: FeatureAccumulators, key: string): void {
  const withAttr = acc.attrHist !== null;
  const body = {
    format: STATE_FORMAT, version: STATE_VERSION, key,
    tokens: acc.tokens, sumNorm: acc.sumNorm, seqsDone: acc.seqsDone, rng: acc.rng.getState(),
    fired: bytes(acc.fired), sumAct: bytes(acc.sumAct), maxAct: bytes(acc.maxAct), sumAbsAttr: bytes(acc.sumAbsAttr),
    actCounts: bytes(acc.actHist.counts), actScale: bytes(acc.actHist.scale),
    attrCounts: withAttr ? bytes(acc.attrHist!.counts) : null, attrScale: withAttr ? bytes(acc.attrHist!.scale) : null,
    top: packContexts(acc.top.lists, withAttr),
    intervalCounts: bytes(acc.intervals.counts), intervalSamples: packContexts(acc.intervals.samples, withAttr),
  };
  writeFileAtomic(path, pack(body));
}

/** Restores a saved state into a fresh accumulator; false when there is none. Refuses another key. */
export function loadState(path: string, acc: FeatureAccumulators, key: string): boolean {
  if (!existsSync(path)) return false;
  let b: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    b = unpack(readFileSync(path)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  } catch (e) {
    throw new Error(`${path}: unreadable features state (${(e as Error).message}); delete it to start the pass over`);
  }
  if (b.format !== STATE_FORMAT || b.version !== STATE_VERSION) throw new Error(`${path}: not a gsae features state (format ${JSON.stringify(b.format)}, version ${b.version})`);
  if (b.key !== key) throw new Error(`${path} was written for other settings (SAE, store or options differ); delete it, or rerun with the same ones`);
  const fill = (dst: Float64Array, src: Uint8Array, what: string) => {
    const v = f64(src);
    if (v.length !== dst.length) throw new Error(`${path}: '${what}' has ${v.length} entries, expected ${dst.length} (corrupt file)`);
    dst.set(v);
  };
  acc.tokens = b.tokens;
  acc.sumNorm = b.sumNorm;
  acc.seqsDone = b.seqsDone;
  acc.rng.setState(b.rng);
  fill(acc.fired, b.fired, 'fired');
  fill(acc.sumAct, b.sumAct, 'sumAct');
  fill(acc.maxAct, b.maxAct, 'maxAct');
  fill(acc.sumAbsAttr, b.sumAbsAttr, 'sumAbsAttr');
  fill(acc.actHist.counts, b.actCounts, 'actCounts');
  fill(acc.actHist.scale, b.actScale, 'actScale');
  if (acc.attrHist) {
    fill(acc.attrHist.counts, b.attrCounts, 'attrCounts');
    fill(acc.attrHist.scale, b.attrScale, 'attrScale');
  }
  acc.top.restore(unpackContexts(b.top));
  fill(acc.intervals.counts, b.intervalCounts, 'intervalCounts');
  unpackContexts(b.intervalSamples).forEach((l, k) => (acc.intervals.samples[k] = l));
  return true;
}
