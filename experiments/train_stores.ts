/**
 * The store options of an experiment run (RunSpec.store): which loss the stored gradients are of
 * ('sum' or 'mean' of next-token CE over positions) and where they are taken ('clean' model, or
 * with a reference SAE's reconstruction spliced in at the hook). Here are the capture functions
 * for both sources, the stores' cache folders (one per distinct option, so caches never mix) and
 * the digest that identifies a spliced SAE.
 *
 * Spliced capture, for one batch of sequences:
 *   1. clean pass: x and g_clean = ∂L_r/∂x with L_r the splice SAE's own training reduction;
 *   2. spliced pass: the hook returns x̂ = decode(encode(x, g_clean)) (a g-SAE needs g to encode;
 *      g_clean is a constant there), and the stored gradient is g = ∂L/∂x̂ with L of the run's
 *      reduction, taken at the hook's output (the zero-probe of activationsAndGrads);
 *   the stored activations are the clean x of pass 1 (activationsAndGrads records the hook's
 *   output, x̂, which is not what the SAE should reconstruct).
 * The encoding in pass 2 runs over the whole capture batch at once (B·T rows), as evaluation's
 * spliced CE does, so a gradNorm 'rms' reference normalises `a` over the same kind of batch.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { activationsAndGrads, type LossReduction } from '../models/gpt2/model.js';
import type { Gpt2Config } from '../models/gpt2/config.js';
import type { Gpt2Params } from '../models/gpt2/params.js';
import { loadSae, type SaeModel } from '../sae/model.js';
import { SAE_WEIGHTS_FILENAME } from '../sae/saelens.js';
import type { CaptureFn } from '../sae/store/build.js';
import type { GradSource } from '../sae/store/manifest.js';

/** A run's store option as written in a suite (every field optional; defaults: sum, clean). */
export interface StoreOption {
  /** the loss whose gradient is stored: sum over positions (METHODS default) or mean over the capture batch's scored positions */
  gradReduction?: LossReduction;
  /** 'clean' (METHODS §1.3) or 'spliced' (∂L/∂x̂ with `spliceRun`'s SAE spliced in at the hook) */
  gradSource?: GradSource;
  /** for 'spliced': the id of the suite's run whose SAE (same seed) is spliced in */
  spliceRun?: string;
}

export interface ResolvedStoreOption {
  gradReduction: LossReduction;
  gradSource: GradSource;
  spliceRun: string | null;
}

export function resolveStoreOption(o: StoreOption | undefined): ResolvedStoreOption {
  return { gradReduction: o?.gradReduction ?? 'sum', gradSource: o?.gradSource ?? 'clean', spliceRun: o?.spliceRun ?? null };
}

/** Replaces the activation x [B,T,d] at the hook, given the clean gradient g_clean [B,T,d] there. */
export type SpliceFn = (x: E.Tensor, gClean: E.Tensor) => E.Tensor;

/** x and ∂L/∂x at `hook` on the clean model, L the `reduction` of next-token CE. */
export function cleanCapture(params: Gpt2Params, cfg: Gpt2Config, hook: string, reduction: LossReduction): CaptureFn {
  return (toks) => {
    const r = activationsAndGrads(params, cfg, toks, [hook], { reduction, checkTokens: false });
    return { acts: r.acts[hook]!, grads: r.grads[hook]! };
  };
}

/**
 * Clean x and g = ∂L/∂x̂ at `hook` with `splice(x, g_clean)` replacing x at every position
 * (L: `reduction`; g_clean: the clean gradient of the `cleanReduction` loss, what the splice
 * encodes with). See the file comment.
 */
export function splicedCapture(params: Gpt2Params, cfg: Gpt2Config, hook: string, reduction: LossReduction, cleanReduction: LossReduction, splice: SpliceFn): CaptureFn {
  return (toks) => {
    const clean = activationsAndGrads(params, cfg, toks, [hook], { reduction: cleanReduction, checkTokens: false });
    const gClean = clean.grads[hook]!;
    const spliced = activationsAndGrads(params, cfg, toks, [hook], { reduction, checkTokens: false, hooks: { [hook]: (x) => splice(x, gClean) } });
    return { acts: clean.acts[hook]!, grads: spliced.grads[hook]! };
  };
}

/** sha256 of an SAE folder's weights and its inference-relevant spec: what identifies a splice. */
export function saeDigest(saeDir: string, sae: SaeModel = loadSae(saeDir)): string {
  const s = sae.spec;
  const h = createHash('sha256');
  h.update(JSON.stringify({ kind: s.kind, dIn: s.dIn, dSae: s.dSae, k: s.k, beta: s.beta, valueSource: s.valueSource, gradNorm: s.gradNorm, applyBDecToInput: s.applyBDecToInput, normalizeActivations: s.normalizeActivations }));
  h.update(readFileSync(join(saeDir, SAE_WEIGHTS_FILENAME)));
  return h.digest('hex');
}

/**
 * The folder-name suffix of a store option: '' for the default (sum, clean: the folder name
 * stores always had), '-mean' for the mean loss, '-spliced-<run>-s<seed>-<digest12>' for a
 * spliced source (the digest of the spliced SAE, so a retrained reference never reuses the store).
 */
export function storeSuffix(o: ResolvedStoreOption, splice?: { run: string; seed: number; sha256: string }): string {
  let s = o.gradReduction === 'mean' ? '-mean' : '';
  if (o.gradSource === 'spliced') {
    if (!splice) throw new Error('store: a spliced store needs the spliced run, seed and digest for its folder name');
    s += `-spliced-${splice.run}-s${splice.seed}-${splice.sha256.slice(0, 12)}`;
  }
  return s;
}
