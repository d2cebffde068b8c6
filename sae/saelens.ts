/**
 * SAELens on-disk format: a folder with `cfg.json` and `sae_weights.safetensors`.
 *
 * Weights use SAELens' names and orientations: W_enc [d_in, d_sae], W_dec [d_sae, d_in],
 * b_enc [d_sae], b_dec [d_in]; gated: W_enc (the gate weights), b_gate, r_mag, b_mag, W_dec,
 * b_dec; JumpReLU: W_enc, b_enc, threshold, W_dec, b_dec.
 *
 * cfg.json is written in the pre-6.0 layout (SAEConfig.to_dict of SAELens 5.x: flat fields,
 * `activation_fn_str`, `activation_fn_kwargs: {k}`, `hook_layer`, no `sae_lens_version`). SAELens
 * 5 reads it directly and SAELens ≥ 6 converts it on load (its `handle_pre_6_0_config` moves
 * `activation_fn_kwargs.k` to `k` and the hook fields into `metadata`). Our own settings go in an
 * extra `gsae` block that SAELens ignores: a g-SAE is therefore loadable by SAELens as the plain
 * TopK SAE it contains (encoding without g), and by us as the g-SAE. We read both the 5.x layout
 * and the 6.x one (`k` and `metadata.*`).
 *
 * Everything we write is in raw activation space: input normalisation is folded into the weights
 * before saving (`normalize_activations: "none"`).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../engine/io/atomic.js';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import type { GradNorm, SaeTrainConfig, ValueSource, VariantName } from './config.js';
import type { HostParams } from './common.js';
import type { SaelensArch } from './variant.js';

export const SAE_CFG_FILENAME = 'cfg.json';
export const SAE_WEIGHTS_FILENAME = 'sae_weights.safetensors';

/** How to encode with a saved SAE: SAELens' architecture plus the g-SAE's own options. */
export type InferenceKind = 'standard' | 'topk' | 'gsae' | 'gated' | 'jumprelu';

export interface SaeSpec {
  kind: InferenceKind;
  architecture: SaelensArch;
  dIn: number;
  dSae: number;
  /** TopK and g-SAE */
  k?: number;
  /** g-SAE */
  beta?: number;
  valueSource?: ValueSource;
  gradNorm?: GradNorm;
  /** Which of our variants trained it (batchtopk is saved as jumprelu), when it is ours. */
  variant?: VariantName;
  applyBDecToInput: boolean;
  normalizeActivations: string;
  modelName: string;
  hookName: string;
  hookLayer: number;
  hookHeadIndex: number | null;
  contextSize: number | null;
  datasetPath: string;
  prependBos: boolean;
}

export class SaelensFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaelensFormatError';
  }
}

const PARAM_NAMES: Record<SaelensArch, readonly string[]> = {
  standard: ['W_enc', 'b_enc', 'W_dec', 'b_dec'],
  topk: ['W_enc', 'b_enc', 'W_dec', 'b_dec'],
  gated: ['W_enc', 'b_gate', 'r_mag', 'b_mag', 'W_dec', 'b_dec'],
  jumprelu: ['W_enc', 'b_enc', 'threshold', 'W_dec', 'b_dec'],
};

export function expectedShapes(arch: SaelensArch, dIn: number, dSae: number): Record<string, number[]> {
  const s: Record<string, number[]> = {};
  for (const n of PARAM_NAMES[arch]) {
    s[n] = n === 'W_enc' ? [dIn, dSae] : n === 'W_dec' ? [dSae, dIn] : n === 'b_dec' ? [dIn] : [dSae];
  }
  return s;
}

function checkParams(arch: SaelensArch, dIn: number, dSae: number, params: HostParams, where: string): void {
  const want = expectedShapes(arch, dIn, dSae);
  for (const [n, shape] of Object.entries(want)) {
    const t = params[n];
    if (!t) throw new SaelensFormatError(`${where}: ${arch} SAE needs tensor '${n}' ${E.fmtShape(shape)}; found ${Object.keys(params).join(', ') || 'none'}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SaelensFormatError(`${where}: tensor '${n}' has shape ${E.fmtShape(t.shape)}, expected ${E.fmtShape(shape)} for d_in = ${dIn}, d_sae = ${dSae}`);
    }
    if (t.data.length !== shape.reduce((a, b) => a * b, 1)) throw new SaelensFormatError(`${where}: tensor '${n}' data length ${t.data.length} does not match its shape`);
  }
  const extra = Object.keys(params).filter((n) => !(n in want));
  if (extra.length) throw new SaelensFormatError(`${where}: unexpected tensors for a ${arch} SAE: ${extra.join(', ')}`);
}

/** The cfg.json object for a spec (5.x layout plus our `gsae` block). */
export function saelensCfg(spec: SaeSpec, trainCfg?: SaeTrainConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const topk = spec.architecture === 'topk';
  const cfg: Record<string, unknown> = {
    architecture: spec.architecture,
    d_in: spec.dIn,
    d_sae: spec.dSae,
    dtype: 'float32',
    device: 'cpu',
    model_name: spec.modelName,
    hook_name: spec.hookName,
    hook_layer: spec.hookLayer,
    hook_head_index: spec.hookHeadIndex,
    activation_fn_str: topk ? 'topk' : 'relu',
    activation_fn_kwargs: topk ? { k: spec.k } : {},
    apply_b_dec_to_input: spec.applyBDecToInput,
    finetuning_scaling_factor: false,
    sae_lens_training_version: null,
    prepend_bos: spec.prependBos,
    dataset_path: spec.datasetPath,
    dataset_trust_remote_code: false,
    context_size: spec.contextSize,
    normalize_activations: spec.normalizeActivations,
    neuronpedia_id: null,
    model_from_pretrained_kwargs: {},
  };
  if (spec.variant) {
    const block: Record<string, unknown> = { formatVersion: 1, variant: spec.variant, ...extra };
    if (spec.kind === 'gsae') Object.assign(block, { k: spec.k, beta: spec.beta, valueSource: spec.valueSource, gradNorm: spec.gradNorm });
    if (trainCfg) block.train = trainCfg;
    cfg.gsae = block;
  }
  return cfg;
}

const atomicWrite = writeFileAtomic;

/** Writes `dir/cfg.json` and `dir/sae_weights.safetensors` (each atomically). */
export function writeSaelens(dir: string, spec: SaeSpec, params: HostParams, trainCfg?: SaeTrainConfig, extra?: Record<string, unknown>): void {
  checkParams(spec.architecture, spec.dIn, spec.dSae, params, `writing SAELens folder ${dir}`);
  mkdirSync(dir, { recursive: true });
  const tensors: E.SafetensorsInput = {};
  for (const n of PARAM_NAMES[spec.architecture]) tensors[n] = { shape: params[n]!.shape, data: params[n]!.data };
  E.writeSafetensors(join(dir, SAE_WEIGHTS_FILENAME), tensors);
  atomicWrite(join(dir, SAE_CFG_FILENAME), `${JSON.stringify(saelensCfg(spec, trainCfg, extra), null, 2)}\n`);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Reads a SAELens folder (ours or SAELens' own, 5.x or 6.x cfg). Unsupported settings
 * (runtime normalisations, fine-tuning scaling factors, other architectures) are errors that
 * say which field; weights are checked against d_in/d_sae and converted to float32.
 */
export function readSaelens(dir: string): { spec: SaeSpec; params: HostParams; cfg: Record<string, unknown> } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new SaelensFormatError(`SAE folder ${dir} does not exist`);
  const cfgPath = join(dir, SAE_CFG_FILENAME);
  const wPath = join(dir, SAE_WEIGHTS_FILENAME);
  if (!existsSync(cfgPath)) throw new SaelensFormatError(`SAE folder ${dir} has no ${SAE_CFG_FILENAME}`);
  if (!existsSync(wPath)) throw new SaelensFormatError(`SAE folder ${dir} has no ${SAE_WEIGHTS_FILENAME}`);
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new SaelensFormatError(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  const where = cfgPath;
  const meta = (cfg.metadata ?? cfg.meta ?? {}) as Record<string, unknown>;
  const pick = (k: string): unknown => (cfg[k] !== undefined ? cfg[k] : meta[k]);
  let arch = str(cfg.architecture) ?? 'standard';
  const actFn = str(cfg.activation_fn_str) ?? str(cfg.activation_fn) ?? 'relu';
  const kwargs = (cfg.activation_fn_kwargs ?? {}) as Record<string, unknown>;
  // SAELens 5.x wrote TopK SAEs as 'standard' with activation_fn_str 'topk'.
  if (arch === 'standard' && actFn === 'topk') arch = 'topk';
  if (!['standard', 'topk', 'gated', 'jumprelu'].includes(arch)) {
    throw new SaelensFormatError(`${where}: architecture '${arch}' is not supported (supported: standard, topk, gated, jumprelu)`);
  }
  if (arch === 'standard' && actFn !== 'relu') throw new SaelensFormatError(`${where}: activation_fn '${actFn}' is not supported for a standard SAE (only relu)`);
  const dIn = num(cfg.d_in);
  const dSae = num(cfg.d_sae);
  if (!dIn || !dSae) throw new SaelensFormatError(`${where}: d_in and d_sae must be positive integers, got ${JSON.stringify(cfg.d_in)}, ${JSON.stringify(cfg.d_sae)}`);
  let normalize = cfg.normalize_activations;
  if (normalize === null || normalize === undefined || normalize === false) normalize = 'none';
  if (normalize === true) normalize = 'expected_average_only_in';
  if (normalize === 'constant_norm_rescale' || normalize === 'layer_norm') {
    throw new SaelensFormatError(`${where}: normalize_activations '${String(normalize)}' (a per-token runtime normalisation) is not supported`);
  }
  if (cfg.finetuning_scaling_factor === true) throw new SaelensFormatError(`${where}: finetuning_scaling_factor = true is not supported`);
  if (cfg.reshape_activations !== undefined && cfg.reshape_activations !== 'none') {
    throw new SaelensFormatError(`${where}: reshape_activations '${String(cfg.reshape_activations)}' (hook_z SAEs) is not supported`);
  }

  const file = E.readSafetensors(wPath);
  const params: HostParams = {};
  for (const [name, t] of file.tensors) {
    if (name === 'scaling_factor') {
      // SAELens drops an all-ones scaling factor; anything else changes the encoder.
      if ([...t.data].some((v) => v !== 1)) throw new SaelensFormatError(`${wPath}: a 'scaling_factor' other than all ones is not supported`);
      continue;
    }
    if (t.dtype === 'I32' || t.dtype === 'I64') throw new SaelensFormatError(`${wPath}: tensor '${name}' is ${t.dtype}; SAE weights must be floating point`);
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    // a diverged or corrupt SAE would give NaN everywhere downstream; JumpReLU's θ may be +Inf (a latent that never fires)
    const bad = data.findIndex((v) => Number.isNaN(v) || (!Number.isFinite(v) && name !== 'threshold'));
    if (bad >= 0) throw new SaelensFormatError(`${wPath}: tensor '${name}' holds a non-finite value (${data[bad]}) at element ${bad}`);
    params[name] = { shape: [...t.shape], data };
  }
  checkParams(arch as SaelensArch, dIn, dSae, params, wPath);

  const ours = (cfg.gsae ?? null) as Record<string, unknown> | null;
  const variant = ours ? (str(ours.variant) as VariantName | undefined) : undefined;
  let kind: InferenceKind = arch as InferenceKind;
  const spec: SaeSpec = {
    kind,
    architecture: arch as SaelensArch,
    dIn,
    dSae,
    variant,
    applyBDecToInput: cfg.apply_b_dec_to_input === undefined ? true : Boolean(cfg.apply_b_dec_to_input),
    normalizeActivations: String(normalize),
    modelName: str(pick('model_name')) ?? '',
    hookName: str(pick('hook_name')) ?? str(pick('hook_point')) ?? '',
    hookLayer: num(pick('hook_layer')) ?? num(pick('hook_point_layer')) ?? 0,
    hookHeadIndex: num(pick('hook_head_index')) ?? null,
    contextSize: num(pick('context_size')) ?? null,
    datasetPath: str(pick('dataset_path')) ?? '',
    prependBos: pick('prepend_bos') === undefined ? true : Boolean(pick('prepend_bos')),
  };
  if (arch === 'topk') {
    const k = num(cfg.k) ?? num(kwargs.k) ?? num(ours?.k);
    if (!k || !Number.isInteger(k) || k > dSae) throw new SaelensFormatError(`${where}: a topk SAE needs an integer k in [1, d_sae] (activation_fn_kwargs.k or k), got ${JSON.stringify(k)}`);
    spec.k = k;
    if (variant === 'gsae') {
      kind = 'gsae';
      const beta = num(ours!.beta);
      if (beta === undefined || beta < 0) throw new SaelensFormatError(`${where}: gsae.beta must be a number >= 0, got ${JSON.stringify(ours!.beta)}`);
      const vs = ours!.valueSource ?? 'z';
      const gn = ours!.gradNorm ?? 'none';
      if (vs !== 'z' && vs !== 's') throw new SaelensFormatError(`${where}: gsae.valueSource must be 'z' or 's', got ${JSON.stringify(vs)}`);
      if (gn !== 'none' && gn !== 'rms') throw new SaelensFormatError(`${where}: gsae.gradNorm must be 'none' or 'rms', got ${JSON.stringify(gn)}`);
      Object.assign(spec, { beta, valueSource: vs, gradNorm: gn });
    }
  }
  spec.kind = kind;
  return { spec, params, cfg };
}
