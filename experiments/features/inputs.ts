/**
 * What `gsae features` reads, checked before any work: the SAE, the held-out store (complete,
 * non-empty, the SAE's width, with gradients for a g-SAE, captured from this model, at the SAE's
 * hook, and not overlapping the SAE's training tokens when those are recorded: a store named by
 * cfg.json dataset_path, or for an experiment's SAE the suite's results.json), and the store's
 * token ids, which the store does not hold: they are recovered from the manifest (tokens.source
 * `<corpus>#<split>`, the range and seqLen) by tokenising the corpus exactly as `gsae cache` does
 * (tokenizeCorpus(corpus, 'gpt2-restricted', 0.9, model tokenizer)). The recovery is verified by
 * recomputing the hook activations of the store's first sequence and comparing them with the stored x.
 *
 * Each problem is one Error with one line naming the file, flag or shape.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as E from '../../engine/index.js';
import type { LoadedModel } from '../default_model.js';
import { runWithCache } from '../../models/gpt2/model.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { loadSae, type SaeModel } from '../../sae/model.js';
import { MANIFEST, readManifest, type StoreManifest } from '../../sae/store/manifest.js';
import { readShard } from '../../sae/store/shard.js';

export interface FeatureInputs {
  sae: SaeModel;
  manifest: StoreManifest;
  storeDir: string;
  /** the store's token ids, sequence after sequence: [totalSeqs · seqLen] */
  tokens: Int32Array;
  /** how the held-out requirement was checked (written into index.json) */
  heldOut: { checked: boolean; note: string };
}

/** The SAE's training token range, when its cfg.json (or its run's checkpoint cfg) names a store. */
export function trainingRange(saeDir: string, spec: { datasetPath: string }): { tokens: StoreManifest['tokens']; store: string } | null {
  const candidates = [spec.datasetPath];
  // `gsae sae train --out R` writes R/sae/cfg.json; its training config (gsae.train) repeats datasetPath
  try {
    const cfg = JSON.parse(readFileSync(join(saeDir, 'cfg.json'), 'utf8')) as { gsae?: { train?: { datasetPath?: string } } };
    if (cfg.gsae?.train?.datasetPath) candidates.push(cfg.gsae.train.datasetPath);
  } catch {
    // cfg.json was already read by loadSae; an unreadable extra block just gives no candidate
  }
  for (const c of candidates) {
    if (!c) continue;
    for (const dir of [c, resolve(dirname(saeDir), c)]) {
      if (existsSync(join(dir, MANIFEST)) && statSync(dir).isDirectory()) return { tokens: readManifest(dir).tokens, store: `training store ${dir}` };
    }
  }
  return experimentRange(saeDir, spec.datasetPath);
}

/**
 * `gsae experiment` writes <suite>/runs/<run>/sae/ and records the corpus file as dataset_path;
 * its SAEs train on the train split's first `storeTrainTokens` tokens (runner.ts storeFor), which
 * the suite's results.json records (meta.config.storeTrainTokens).
 */
function experimentRange(saeDir: string, datasetPath: string): { tokens: StoreManifest['tokens']; store: string } | null {
  const runsDir = dirname(dirname(resolve(saeDir)));
  if (basename(runsDir) !== 'runs' || !datasetPath) return null;
  const results = join(dirname(runsDir), 'results.json');
  if (!existsSync(results)) return null;
  try {
    const r = JSON.parse(readFileSync(results, 'utf8')) as { meta?: { config?: { storeTrainTokens?: unknown } } };
    const n = r.meta?.config?.storeTrainTokens;
    if (typeof n !== 'number' || !(n > 0)) return null;
    return { tokens: { source: `${datasetPath}#train`, start: 0, end: n }, store: `the experiment's training store, per ${results}: storeTrainTokens ${n}` };
  } catch {
    return null;
  }
}

const corpusCache = new Map<string, { train: Int32Array; val: Int32Array }>();

/** Token ids of the store's sequences, re-tokenised from its source corpus split. */
export function storeTokens(m: StoreManifest, model: LoadedModel, storeDir: string): Int32Array {
  const src = m.tokens.source;
  const hash = src.lastIndexOf('#');
  const split = hash >= 0 ? src.slice(hash + 1) : '';
  if (split !== 'train' && split !== 'val') {
    throw new Error(`store ${storeDir}: its token source ${JSON.stringify(src)} is not '<corpus>#train' or '<corpus>#val', so its token ids cannot be recovered (build it with 'gsae cache')`);
  }
  const path = src.slice(0, hash);
  // a mixed corpus is named 'a+b' (models/gpt2/data.ts): every part must be here
  const missing = path.split('+').filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`store ${storeDir}: its corpus ${missing.join(', ')} (tokens.source ${path}) does not exist here; run from the directory the store was built in`);
  const key = `${path}\0${model.id}`;
  let corpus = corpusCache.get(key);
  if (!corpus) {
    const t = tokenizeCorpus(path, 'gpt2-restricted', 0.9, model.tokenizer);
    corpus = { train: t.train, val: t.val };
    corpusCache.set(key, corpus);
  }
  const ids = corpus[split];
  const n = m.totalSeqs * m.seqLen;
  if (m.tokens.start + n > ids.length) throw new Error(`store ${storeDir}: token range starts at ${m.tokens.start} with ${n} tokens but ${src} has only ${ids.length}`);
  return ids.slice(m.tokens.start, m.tokens.start + n);
}

/** Recomputes x for the store's first sequence from the recovered ids and compares. */
function verifyTokens(m: StoreManifest, model: LoadedModel, storeDir: string, tokens: Int32Array): void {
  const shard = readShard(join(storeDir, m.shards[0]!.file));
  const T = m.seqLen;
  const x = E.tidy(() => {
    const r = runWithCache(model.params, model.cfg, E.tensor(tokens.slice(0, T), [1, T], 'int32'), [m.hook], { checkTokens: false });
    return r.acts[m.hook]!.toArray() as Float32Array;
  });
  let err = 0;
  let norm = 0;
  for (let j = 0; j < T * m.d; j++) {
    err = Math.max(err, Math.abs(x[j]! - shard.x[j]!));
    norm = Math.max(norm, Math.abs(shard.x[j]!));
  }
  if (!(err <= 1e-3 * Math.max(1, norm))) {
    throw new Error(`store ${storeDir}: the token ids recovered from ${m.tokens.source} do not reproduce the stored activations (max |Δx| ${err.toPrecision(3)}); was it built with another tokenizer or corpus?`);
  }
}

export function openFeatureInputs(saeDir: string, storeDir: string, model: LoadedModel): FeatureInputs {
  if (!existsSync(storeDir)) throw new Error(`--store ${storeDir}: no such directory`);
  const manifest = readManifest(storeDir);
  if (!manifest.complete) throw new Error(`--store ${storeDir}: the store is incomplete (an interrupted build); run 'gsae cache' again to finish it`);
  const seqs = manifest.shards.reduce((s, sh) => s + sh.seqs, 0);
  if (seqs === 0 || manifest.shards.length === 0) throw new Error(`--store ${storeDir}: the store holds no sequences`);
  const sae = loadSae(saeDir);
  try {
    const { spec } = sae;
    if (spec.dIn !== manifest.d) throw new Error(`SAE ${saeDir} has d_in = ${spec.dIn} but store ${storeDir} holds rows of width ${manifest.d}: they do not belong together`);
    if (spec.dIn !== model.cfg.n_embd) throw new Error(`SAE ${saeDir} has d_in = ${spec.dIn} but the model ${model.dir} has d_model = ${model.cfg.n_embd}`);
    if (spec.kind === 'gsae' && !manifest.withGrad) throw new Error(`SAE ${saeDir} is a g-SAE (encoding needs the loss gradient) but store ${storeDir} holds no gradients; build it with 'gsae cache --grad'`);
    if (spec.hookName && spec.hookName !== manifest.hook) throw new Error(`SAE ${saeDir} reads hook ${spec.hookName} but store ${storeDir} was captured at ${manifest.hook}`);
    if (manifest.modelId !== model.id) throw new Error(`store ${storeDir} was captured from model ${manifest.modelId}, not from ${model.dir} (${model.id}); pass the store's model with --model`);
    const train = trainingRange(saeDir, spec);
    let heldOut: FeatureInputs['heldOut'];
    if (train) {
      const a = train.tokens;
      const b = manifest.tokens;
      if (a.source === b.source && a.start < b.end && b.start < a.end) {
        throw new Error(`--store ${storeDir} is not held out: its tokens [${b.start}, ${b.end}) of ${b.source} overlap the SAE's training tokens [${a.start}, ${a.end}) (${train.store})`);
      }
      heldOut = { checked: true, note: `disjoint from the SAE's training tokens [${a.start}, ${a.end}) of ${a.source} (${train.store})` };
    } else {
      heldOut = { checked: false, note: `the SAE's cfg.json (dataset_path ${JSON.stringify(spec.datasetPath)}) records no training store, so the store could not be checked against its training tokens` };
    }
    const tokens = storeTokens(manifest, model, storeDir);
    verifyTokens(manifest, model, storeDir, tokens);
    return { sae, manifest, storeDir, tokens, heldOut };
  } catch (e) {
    E.dispose(sae.params);
    throw e;
  }
}
