/** Adapters from the project's GPT-2 and SAE modules to the evaluation interfaces. */
import * as E from '../engine/index.js';
import { activationsAndGrads, forward, type LossReduction } from '../models/gpt2/model.js';
import type { Gpt2Config } from '../models/gpt2/config.js';
import type { Gpt2Params } from '../models/gpt2/params.js';
import { decodeSae, encodeSae, type SaeModel } from '../sae/model.js';
import type { EvalDictionary, EvalModel } from './eval/interfaces.js';

/**
 * `reduction`: the loss whose gradient `actsAndGrads` returns (what a g-SAE encodes with during
 * evaluation): 'sum' over positions (METHODS default), or 'mean' for an SAE trained on a store of
 * the mean loss, so it is evaluated with gradients on the scale it was trained with.
 */
export function gpt2EvalModel(params: Gpt2Params, cfg: Gpt2Config, reduction: LossReduction = 'sum'): EvalModel {
  return {
    logits: (tokens, hooks) => forward(params, cfg, tokens, { hooks, checkTokens: false }),
    actsAndGrads: (tokens, hook) => {
      const r = activationsAndGrads(params, cfg, tokens, [hook], { reduction, checkTokens: false });
      return { acts: r.acts[hook]!, grads: r.grads[hook]! };
    },
    // W_U · (γ ⊙ d): the final LayerNorm's gain scales each residual direction before the tied unembedding
    unembedWithGain: () => E.mul(params['wte.weight']!, params['ln_f.weight']!),
  };
}

export function saeEvalDictionary(sae: SaeModel): EvalDictionary {
  const { spec } = sae;
  return {
    dIn: spec.dIn,
    dSae: spec.dSae,
    needsGrad: spec.kind === 'gsae',
    firedThreshold: 0,
    encode: (x, g) => encodeSae(sae, x, g ?? null),
    decode: (f) => decodeSae(sae, f),
    decoderRows: () => sae.params['W_dec']!,
  };
}
