/**
 * What evaluation needs from a model and a dictionary, kept minimal so any GPT-2 checkpoint and
 * any SAE variant can be measured the same way.
 */
import type { Tensor } from '../../engine/index.js';

export type HookFn = (x: Tensor, name: string) => Tensor | void;

export interface EvalModel {
  /** logits [B, T, V] for int32 tokens [B, T], with hooks that may replace activations */
  logits(tokens: Tensor, hooks?: Record<string, HookFn>): Tensor;
  /** activation x and ∂L/∂x at `hook` on the clean model (L = sum of next-token CE), [B, T, d] each */
  actsAndGrads(tokens: Tensor, hook: string): { acts: Tensor; grads: Tensor };
  /** the unembedding [V, d] with the final LayerNorm's gain folded in (for steering's token sets) */
  unembedWithGain(): Tensor;
}

export interface EvalDictionary {
  readonly dIn: number;
  readonly dSae: number;
  /** true for g-SAEs: encoding needs the loss gradient at the hook */
  readonly needsGrad: boolean;
  /** codes f [N, m] for inputs x [N, d] (and gradients g [N, d] when needsGrad) */
  encode(x: Tensor, g?: Tensor): Tensor;
  /** reconstruction x̂ [N, d] */
  decode(f: Tensor): Tensor;
  /** decoder directions as rows [m, d] */
  decoderRows(): Tensor;
  /** value above which a latent counts as fired */
  readonly firedThreshold: number;
}
