/**
 * Text corpora for language-model training: the standard character split (first `trainFrac` of
 * the characters train, the rest validation, as nanoGPT's prepare.py), tokenisation of each split,
 * and random [B, T] batches drawn like nanoGPT's get_batch.
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type * as E from '../../engine/index.js';
import { CharTokenizer, Gpt2BpeTokenizer, RestrictedBpeTokenizer, type Tokenizer } from './tokenizer.js';

export type TokenizerKind = 'char' | 'gpt2' | 'gpt2-restricted';

/**
 * Reads a UTF-8 text file (gzip'd when the name ends in .gz) and splits it at floor(n · trainFrac)
 * characters (code points). A mixed corpus is named `a+b+…`: each part is split on its own and the
 * train parts, then the validation parts, are joined in order (so validation holds every part).
 */
export function readCorpusSplit(path: string, trainFrac: number): { train: string; val: string } {
  if (!(trainFrac > 0 && trainFrac < 1)) throw new Error(`corpus split: train fraction must be in (0, 1), got ${trainFrac}`);
  if (path.includes('+')) {
    const parts = path.split('+').map((p) => readCorpusSplit(p, trainFrac));
    return { train: parts.map((p) => p.train).join('\n'), val: parts.map((p) => p.val).join('\n') };
  }
  if (!existsSync(path)) throw new Error(`corpus file '${path}' does not exist`);
  const text = path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
  if (text.length === 0) throw new Error(`corpus file '${path}' is empty`);
  // Split by code points, as Python's len()/slicing do (equal to UTF-16 units for ASCII text).
  const cps = /[\uD800-\uDFFF]/.test(text) ? Array.from(text) : null;
  const n = cps ? cps.length : text.length;
  const cut = Math.floor(n * trainFrac);
  return cps ? { train: cps.slice(0, cut).join(''), val: cps.slice(cut).join('') } : { train: text.slice(0, cut), val: text.slice(cut) };
}

export interface TokenizedCorpus {
  tokenizer: Tokenizer;
  train: Int32Array;
  val: Int32Array;
}

/**
 * Tokenises both splits. 'char' and 'gpt2-restricted' build their vocabulary from the whole
 * corpus (both splits, so validation text is always encodable), as nanoGPT's char prepare does.
 */
export function tokenizeCorpus(path: string, kind: TokenizerKind, trainFrac = 0.9, tokenizer?: Tokenizer): TokenizedCorpus {
  const { train, val } = readCorpusSplit(path, trainFrac);
  let tok: Tokenizer;
  if (tokenizer) tok = tokenizer;
  else if (kind === 'char') tok = CharTokenizer.fromCorpus([train, val]);
  else if (kind === 'gpt2-restricted') tok = RestrictedBpeTokenizer.fromCorpus([train, val]);
  else if (kind === 'gpt2') tok = new Gpt2BpeTokenizer();
  else throw new Error(`unknown tokenizer kind ${JSON.stringify(kind)} (expected char, gpt2 or gpt2-restricted)`);
  return { tokenizer: tok, train: Int32Array.from(tok.encode(train)), val: Int32Array.from(tok.encode(val)) };
}

/** Host batch: inputs and next-token targets, row-major [B, T]. */
export interface HostBatch {
  x: Int32Array;
  y: Int32Array;
  shape: [number, number];
}

/** B random windows of T+1 tokens (start uniform in [0, len − T)), as nanoGPT's get_batch. */
export function randomBatch(data: Int32Array, B: number, T: number, rng: E.Rng): HostBatch {
  const n = startCount(data, T);
  const starts: number[] = [];
  for (let b = 0; b < B; b++) starts.push(rng.int(n));
  return batchFromStarts(data, starts, T);
}

/** How many window starts a split offers for block size T (len − T), or an error when none. */
export function startCount(data: Int32Array, T: number, split = 'the split'): number {
  if (data.length <= T) throw new Error(`batch: ${split} has ${data.length} tokens, too few for block size ${T} (needs more than ${T})`);
  return data.length - T;
}

/** The windows data[i .. i+T) (inputs) and data[i+1 .. i+T+1) (targets) for each start i. */
export function batchFromStarts(data: Int32Array, starts: readonly number[], T: number): HostBatch {
  const B = starts.length;
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  starts.forEach((i, b) => {
    if (!(Number.isInteger(i) && i >= 0 && i + T < data.length)) throw new Error(`batch: start ${i} out of range for a split of ${data.length} tokens and block size ${T}`);
    x.set(data.subarray(i, i + T), b * T);
    y.set(data.subarray(i + 1, i + 1 + T), b * T);
  });
  return { x, y, shape: [B, T] };
}

/**
 * Every non-overlapping window of T+1 tokens (stride T), grouped into batches of up to B rows:
 * a deterministic pass over the whole split (the last partial window is dropped).
 */
export function* sequentialBatches(data: Int32Array, B: number, T: number): Generator<HostBatch> {
  const starts: number[] = [];
  for (let i = 0; i + T + 1 <= data.length; i += T) starts.push(i);
  for (let k = 0; k < starts.length; k += B) {
    const rows = starts.slice(k, k + B);
    const x = new Int32Array(rows.length * T);
    const y = new Int32Array(rows.length * T);
    rows.forEach((i, r) => {
      x.set(data.subarray(i, i + T), r * T);
      y.set(data.subarray(i + 1, i + 1 + T), r * T);
    });
    yield { x, y, shape: [rows.length, T] };
  }
}
