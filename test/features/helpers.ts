/** Small real inputs for the features tests: the shipped 4L/128d model, a tiny held-out store, random SAEs. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { CORPUS, loadModelDir, TINY_MODEL, type LoadedModel } from '../../experiments/default_model.js';
import { activationsAndGrads } from '../../models/gpt2/model.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { buildStore } from '../../sae/store/build.js';
import { writeSaelens, type SaeSpec } from '../../sae/saelens.js';
import type { HostParams } from '../../sae/common.js';

export const HOOK = 'blocks.2.hook_resid_pre';
export const tmp = () => mkdtempSync(join(tmpdir(), 'gsae-features-'));

let cached: { model: LoadedModel; val: Int32Array; train: Int32Array } | null = null;
export function tinyModel(): { model: LoadedModel; val: Int32Array; train: Int32Array } {
  if (!cached) {
    const model = loadModelDir(TINY_MODEL);
    const c = tokenizeCorpus(CORPUS, 'gpt2-restricted', 0.9, model.tokenizer);
    cached = { model, val: c.val, train: c.train };
  }
  return cached;
}

/** A store of `seqs` sequences of `seqLen` from the validation split, starting at token `start`. */
export function tinyStore(dir: string, o: { seqs: number; seqLen: number; start?: number; withGrad?: boolean; seqsPerShard?: number; split?: 'val' | 'train' }): string {
  const { model, val, train } = tinyModel();
  const split = o.split ?? 'val';
  const start = o.start ?? 0;
  buildStore({
    dir, hook: HOOK, tokens: split === 'val' ? val : train, source: `${CORPUS}#${split}`, range: [start, start + o.seqs * o.seqLen], seqLen: o.seqLen,
    batchSeqs: 4, seqsPerShard: o.seqsPerShard ?? 4, withGrad: o.withGrad ?? true, modelId: model.id,
    capture: (toks) => {
      const r = activationsAndGrads(model.params, model.cfg, toks, [HOOK], { reduction: 'sum', checkTokens: false });
      return { acts: r.acts[HOOK]!, grads: o.withGrad === false ? undefined : r.grads[HOOK]! };
    },
  });
  return dir;
}

/** A random TopK or g-SAE (W_dec rows unit norm, W_enc = W_decᵀ, small b_enc) written as a SAELens folder. */
export function randomSae(dir: string, o: { kind: 'topk' | 'gsae'; dIn: number; dSae: number; k: number; seed: number; datasetPath?: string }): string {
  const rng = new E.Rng(o.seed);
  const dec = Float32Array.from({ length: o.dSae * o.dIn }, () => rng.normal());
  for (let i = 0; i < o.dSae; i++) {
    let s = 0;
    for (let j = 0; j < o.dIn; j++) s += dec[i * o.dIn + j]! ** 2;
    for (let j = 0; j < o.dIn; j++) dec[i * o.dIn + j]! /= Math.sqrt(s);
  }
  const enc = new Float32Array(o.dIn * o.dSae);
  for (let i = 0; i < o.dSae; i++) for (let j = 0; j < o.dIn; j++) enc[j * o.dSae + i] = dec[i * o.dIn + j]!;
  const params: HostParams = {
    W_enc: { shape: [o.dIn, o.dSae], data: enc },
    b_enc: { shape: [o.dSae], data: Float32Array.from({ length: o.dSae }, () => 0.1 * rng.normal()) },
    W_dec: { shape: [o.dSae, o.dIn], data: dec },
    b_dec: { shape: [o.dIn], data: Float32Array.from({ length: o.dIn }, () => 0.1 * rng.normal()) },
  };
  const spec: SaeSpec = {
    kind: o.kind, architecture: 'topk', dIn: o.dIn, dSae: o.dSae, k: o.k, applyBDecToInput: true, normalizeActivations: 'none',
    modelName: 'test', hookName: HOOK, hookLayer: 2, hookHeadIndex: null, contextSize: 16, datasetPath: o.datasetPath ?? '', prependBos: true,
    ...(o.kind === 'gsae' ? { variant: 'gsae' as const, beta: 1, valueSource: 'z' as const, gradNorm: 'none' as const } : {}),
  };
  writeSaelens(dir, spec, params);
  return dir;
}
