/**
 * The contract every SAE variant module fulfils, so the trainer, the SAELens writer and the
 * inference model treat them alike.
 */
import type * as E from '../engine/index.js';
import type { SaeTrainConfig, VariantName } from './config.js';
import type { HostParams, Params } from './common.js';

/** One training batch: activations x [B, d] and, for the g-SAE, ∂L/∂x at the same hook [B, d]. */
export interface Batch {
  x: E.Tensor;
  g: E.Tensor | null;
}

export interface LossContext {
  cfg: SaeTrainConfig;
  /** λ at this step (after warm-up), a 0-d tensor; unused by the TopK family. */
  coeff: E.Tensor;
  /** [d_sae] 0/1 of dead latents when AuxK runs this step (some latent is dead), else null. */
  deadMask: E.Tensor | null;
}

export interface LossResult {
  loss: E.Tensor;
  /** Weighted loss terms (they sum to `loss`) by SAELens name without the "losses/" prefix:
   *  mse_loss, l1_loss (λ·penalty), auxk_loss (α·AuxK), auxiliary_reconstruction_loss, l0_loss. */
  parts: Record<string, E.Tensor>;
  /** Latent activations [B, d_sae] and the reconstruction [B, d]. */
  f: E.Tensor;
  xHat: E.Tensor;
  /** Variant-specific tensors for `updateBuffers` (BatchTopK: the smallest kept value). */
  extra: Record<string, E.Tensor>;
}

/** SAELens architectures we read and write. */
export type SaelensArch = 'standard' | 'topk' | 'gated' | 'jumprelu';

export interface Variant {
  readonly name: VariantName;
  /** Encoding needs the gradient g as well as x (the g-SAE). */
  readonly needsGrad: boolean;
  /** Decoder rows are kept at unit norm, with parallel-gradient removal. */
  unitNormDecoder(cfg: SaeTrainConfig): boolean;
  /** Trainable parameters at initialisation (b_dec already chosen by the trainer). */
  init(cfg: SaeTrainConfig, rng: E.Rng, bDec: HostParams[string]): HostParams;
  /** Non-trainable state carried between steps (BatchTopK's threshold); {} when none. */
  initBuffers(cfg: SaeTrainConfig): HostParams;
  loss(p: Params, batch: Batch, ctx: LossContext): LossResult;
  /** New buffers after a step; `tau` is the EMA rate for this step (1 on the first step). */
  updateBuffers(buffers: Params, res: LossResult, tau: E.Tensor): Params;
  /** SAELens inference weights (unfolded) and the architecture they are loaded as. */
  exportParams(p: HostParams, buffers: HostParams, cfg: SaeTrainConfig): { architecture: SaelensArch; params: HostParams };
}
