/** The store's manifest: what was captured, from which model and token range, in which shards. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError, writeFileAtomic } from './shard.js';

export type GradSource = 'clean' | 'spliced';

/** Identifies the SAE whose reconstruction was spliced in while the gradients were captured. */
export interface SpliceInfo {
  /** sha256 of the SAE's files (cfg.json and weights), hex: what a resumed build must match */
  sha256: string;
  /** the reduction of the loss whose clean gradient the spliced SAE encoded with (g-SAEs need one) */
  encodeGradReduction: 'sum' | 'mean';
  /** where the SAE was read from (for the record; not compared on resume) */
  sae?: string;
  /** the experiment run and seed that trained it (for the record) */
  run?: string;
  seed?: number;
}

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
  /**
   * Where the stored gradients were taken (absent in stores built before the option: 'clean').
   * 'clean': g = ∂L/∂x on the unmodified model (METHODS §1.3). 'spliced': g = ∂L/∂x̂ at the hook
   * with an SAE's reconstruction x̂ replacing x at every position (`splice` says which SAE); the
   * stored activations x are the clean ones either way.
   */
  gradSource?: GradSource;
  /** for gradSource 'spliced': the SAE spliced in */
  splice?: SpliceInfo;
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
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new StoreError(`${path}: not a gsae store manifest (a JSON object was expected)`);
  if (m.format !== 'gsae-store' || m.version !== 1) throw new StoreError(`${path}: not a gsae store manifest (format ${JSON.stringify(m.format)}, version ${m.version})`);
  for (const k of ['hook', 'd', 'seqLen', 'shards', 'tokens'] as const) {
    if (m[k] === undefined) throw new StoreError(`${path}: missing field '${k}'`);
  }
  validateManifest(m, path);
  return m;
}

/** Types and ranges of every field a reader or a resumed build relies on; errors name the field. */
function validateManifest(m: StoreManifest, path: string): void {
  const fail = (msg: string): never => {
    throw new StoreError(`${path}: ${msg}`);
  };
  const nat = (v: unknown, what: string, min = 0) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`field '${what}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  };
  if (typeof m.hook !== 'string') fail(`field 'hook' must be a string, got ${JSON.stringify(m.hook)}`);
  nat(m.d, 'd');
  nat(m.seqLen, 'seqLen', 1);
  if (typeof m.withGrad !== 'boolean') fail(`field 'withGrad' must be true or false, got ${JSON.stringify(m.withGrad)}`);
  if (m.gradReduction !== undefined && m.gradReduction !== 'sum' && m.gradReduction !== 'mean') fail(`field 'gradReduction' must be 'sum' or 'mean', got ${JSON.stringify(m.gradReduction)}`);
  if (m.gradSource !== undefined && m.gradSource !== 'clean' && m.gradSource !== 'spliced') fail(`field 'gradSource' must be 'clean' or 'spliced', got ${JSON.stringify(m.gradSource)}`);
  if (m.gradSource === 'spliced') {
    const sp = m.splice as unknown as Record<string, unknown> | undefined;
    if (!sp || typeof sp !== 'object' || typeof sp.sha256 !== 'string' || (sp.encodeGradReduction !== 'sum' && sp.encodeGradReduction !== 'mean')) {
      fail(`gradSource 'spliced' needs field 'splice' = {sha256, encodeGradReduction, ...}, got ${JSON.stringify(m.splice)}`);
    }
  } else if (m.splice !== undefined) fail(`field 'splice' is only meaningful with gradSource 'spliced' (gradSource is ${JSON.stringify(m.gradSource ?? 'clean')})`);
  if (typeof m.complete !== 'boolean') fail(`field 'complete' must be true or false, got ${JSON.stringify(m.complete)}`);
  const t = m.tokens as unknown as Record<string, unknown>;
  if (!t || typeof t !== 'object' || typeof t.source !== 'string') fail(`field 'tokens' must be {source, start, end}, got ${JSON.stringify(m.tokens)}`);
  nat(t.start, 'tokens.start');
  nat(t.end, 'tokens.end');
  if (!Array.isArray(m.shards)) fail(`field 'shards' must be a list of shard entries, got ${JSON.stringify(m.shards)}`);
  if (m.complete && m.shards.length === 0) fail("the store is marked complete but lists no shards");
  if (m.complete && m.d < 1) fail(`field 'd' must be >= 1 in a complete store, got ${m.d}`);
  const names = new Set<string>();
  m.shards.forEach((sh, i) => {
    if (!sh || typeof sh !== 'object') fail(`shards[${i}] must be an object, got ${JSON.stringify(sh)}`);
    // a shard file name is a plain name inside the store folder, never a path out of it
    if (typeof sh.file !== 'string' || !/^[\w.-]+$/.test(sh.file) || sh.file.startsWith('.')) fail(`shards[${i}].file must be a file name in the store folder, got ${JSON.stringify(sh.file)}`);
    if (names.has(sh.file)) fail(`shards[${i}].file '${sh.file}' is listed twice`);
    names.add(sh.file);
    nat(sh.rows, `shards[${i}].rows`, 1);
    nat(sh.seqs, `shards[${i}].seqs`, 1);
    nat(sh.firstSeq, `shards[${i}].firstSeq`);
  });
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
