/**
 * A trained SAE in SAELens form on raw activations: the variant's exported parameters with the
 * input normalisation folded in (W_enc·c, W_dec/c, b_dec/c), the SAELens spec built from the
 * training config, and the `gsae` extras (scale, steps, tokens, BatchTopK's k and θ).
 */
import type { SaeTrainConfig } from './config.js';
import { foldScale, type HostParams } from './common.js';
import type { SaeSpec } from './saelens.js';
import type { Variant } from './variant.js';

export interface ExportedSae {
  spec: SaeSpec;
  params: HostParams;
  extra: Record<string, unknown>;
}

/** What the export needs of a trainer: config, host copies of its state, and its progress. */
export interface ExportInput {
  cfg: SaeTrainConfig;
  variant: Variant;
  /** Parameters as trained (normalised space). */
  params: HostParams;
  /** The variant's buffers, without the dead-latent counters. */
  buffers: HostParams;
  scale: number;
  step: number;
  tokens: number;
}

export function exportSaeOf({ cfg, variant, params: trained, buffers, scale, step, tokens }: ExportInput): ExportedSae {
  const { architecture, params } = variant.exportParams(trained, buffers, cfg);
  const kind = cfg.variant === 'gsae' ? 'gsae' : architecture;
  const spec: SaeSpec = {
    kind,
    architecture,
    dIn: cfg.dIn,
    dSae: cfg.dSae,
    variant: cfg.variant,
    applyBDecToInput: true,
    normalizeActivations: 'none',
    modelName: cfg.modelName,
    hookName: cfg.hookName,
    hookLayer: cfg.hookLayer,
    hookHeadIndex: null,
    contextSize: cfg.contextSize,
    datasetPath: cfg.datasetPath,
    prependBos: true,
  };
  if (architecture === 'topk') spec.k = cfg.k;
  if (kind === 'gsae') Object.assign(spec, { beta: cfg.beta, valueSource: cfg.valueSource, gradNorm: cfg.gradNorm });
  const extra: Record<string, unknown> = { normalisationScale: scale, trainedSteps: step, trainedTokens: tokens };
  if (cfg.variant === 'batchtopk') Object.assign(extra, { k: cfg.k, threshold: buffers.threshold!.data[0] });
  return { spec, params: foldScale(params, scale), extra };
}
