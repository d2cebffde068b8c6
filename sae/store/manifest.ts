/** The store's manifest: what was captured, from which model and token range, in which shards. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError, writeFileAtomic } from './shard.js';

export interface ShardEntry {
  file: string;
  rows: number;
  /** index of the first sequence of the range stored in this shard */
  firstSeq: number;
  seqs: number;
  bytes: number;
}

export interface StoreManifest {
  format: 'gsae-store';
  version: 1;
  hook: string;
  d: number;
  withGrad: boolean;
  /** the loss whose gradient is stored: 'sum' (METHODS default) or 'mean' of next-token CE */
  gradReduction: 'sum' | 'mean';
  /** identifies the model (path + config digest); a store is never extended with another model's rows */
  modelId: string;
  /** token range [start, end) of the corpus the sequences were cut from */
  tokens: { source: string; start: number; end: number };
  seqLen: number;
  seqsPerShard: number;
  totalSeqs: number;
  shards: ShardEntry[];
  complete: boolean;
}

export const MANIFEST = 'manifest.json';

export function readManifest(dir: string): StoreManifest {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) throw new StoreError(`${dir} is not an activation store (no ${MANIFEST}); build one with 'gsae cache'`);
  let m: StoreManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as StoreManifest;
  } catch (e) {
    throw new StoreError(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (m.format !== 'gsae-store' || m.version !== 1) throw new StoreError(`${path}: not a gsae store manifest (format ${JSON.stringify(m.format)}, version ${m.version})`);
  for (const k of ['hook', 'd', 'seqLen', 'shards', 'tokens'] as const) {
    if (m[k] === undefined) throw new StoreError(`${path}: missing field '${k}'`);
  }
  return m;
}

export function writeManifest(dir: string, m: StoreManifest): void {
  writeFileAtomic(join(dir, MANIFEST), JSON.stringify(m, null, 2));
}

/** Throws if two token ranges overlap (train and evaluation data must be disjoint). */
export function assertDisjoint(a: StoreManifest['tokens'], b: StoreManifest['tokens'], what = 'train and eval stores'): void {
  if (a.source === b.source && a.start < b.end && b.start < a.end) {
    throw new StoreError(`${what} overlap: tokens [${a.start}, ${a.end}) and [${b.start}, ${b.end}) of ${a.source}`);
  }
}
