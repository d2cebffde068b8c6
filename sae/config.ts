/**
 * SAE and training configuration: one flat, JSON-serialisable object per run, its defaults
 * (METHODS.md §1–§2) and validation with errors that name the offending field.
 *
 * The model part (variant, sizes, k, g-SAE options) is what inference needs; the rest only
 * matters while training. Both live in one object so a checkpoint or `--config file.json`
 * describes a run completely.
 */

export type VariantName = 'topk' | 'gsae' | 'gated' | 'relu_l1' | 'batchtopk' | 'jumprelu';
export const VARIANTS: readonly VariantName[] = ['topk', 'gsae', 'gated', 'relu_l1', 'batchtopk', 'jumprelu'];

export type ValueSource = 'z' | 's';
export type GradNorm = 'none' | 'rms';
export type BDecInit = 'geometric_median' | 'mean' | 'zeros';
export type LrDecay = 'none' | 'cosine' | 'linear';
export type NormalizeActivations = 'none' | 'expected_average_only_in';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface SaeTrainConfig {
  variant: VariantName;
  /** Input width d (the model's d_model at the hook). */
  dIn: number;
  /** Number of latents m. */
  dSae: number;

  // ---- TopK family (topk, gsae, batchtopk)
  /** Latents kept per token (batchtopk: average per token, B·k over the batch). */
  k: number;

  // ---- g-SAE (METHODS §1.3)
  /** Weight of the gradient term in the score s = z ⊙ (1 + β|a|); β = 0 is TopK. */
  beta: number;
  valueSource: ValueSource;
  gradNorm: GradNorm;

  // ---- sparsity penalties (relu_l1, gated, jumprelu)
  /** λ of the L1 (relu_l1, gated) or L0 (jumprelu) penalty. */
  l1Coefficient: number;
  /** λ rises linearly from 0 over this many steps (0: no warm-up). */
  lambdaWarmupSteps: number;
  /**
   * relu_l1 'April update' (Anthropic 2024): no unit-norm constraint, penalty λ Σ f_i ||d_i||,
   * decoder rows initialised at norm `aprilDecoderInitNorm`. For gated, `april` switches to the
   * decoder-norm-weighted penalty (METHODS §1.4 option) instead of unit-norm rows.
   */
  april: boolean;
  aprilDecoderInitNorm: number;
  /** Neuron resampling (relu_l1): steps at which dead latents are re-initialised. */
  resampleSteps: number[];
  /** Rows drawn from the stream to pick resampling inputs from. */
  resampleSamples: number;
  /** LR warm-up (steps) after each resampling. */
  resampleWarmupSteps: number;

  // ---- JumpReLU
  bandwidth: number;
  initThreshold: number;

  // ---- BatchTopK
  /**
   * EMA rate of the inference threshold (running estimate of the smallest kept value; the first
   * batch sets it). 0 = auto: max(0.01, 20 / totalSteps), capped at 1, i.e. SAELens' 0.01 on
   * long runs and a time constant of 5% of the run on short ones (see `autoThresholdLr`).
   */
  thresholdLr: number;

  // ---- AuxK (topk, gsae, batchtopk)
  /** A latent is dead when it has not fired for this many training tokens (default: 10M, or a
   *  tenth of the run's tokens when that is less). */
  deadTokens: number;
  /** Dead latents used by AuxK per token; 0 = default d/2. */
  kAux: number;
  /** α of the AuxK term; 0 disables AuxK. */
  auxkCoefficient: number;
  /**
   * topk/gsae/batchtopk: train through the sparse row kernels (gatherDot/embeddingBag/scatterOuter;
   * BatchTopK's variable picks per row as flat picks b·m + r): the
   * dense encoder matmul only ranks latents; the kept values, the decoder and every gradient touch
   * only the k (and k_aux) selected latents, O(B·k·d) instead of O(B·m·d). Same loss and gradients
   * as the dense path up to float32 summation order; false = the dense path.
   */
  sparseKernels: boolean;
  /**
   * gsae with sparseKernels, valueSource 'z' and gradNorm 'none': rank with the screened primitive
   * `gsaeTopkIndices`, which selects exactly what the dense score s = z ⊙ (1 + β|W_decᵀg|) selects
   * (bit for bit, ties included) without computing W_decᵀg for every latent; false = the dense
   * score. Other g-SAE options always use the dense score (they need every a_i: gradNorm 'rms'
   * divides by its RMS over the batch, valueSource 's' reads it at the picks).
   */
  screenedTopk: boolean;

  // ---- init
  bDecInit: BDecInit;
  /** Rows read from the start of the stream to initialise b_dec and the normalisation factor. */
  initSamples: number;

  // ---- input normalisation (METHODS §2)
  normalizeActivations: NormalizeActivations;

  // ---- optimisation
  /** 0 = the default, 2e-4 / sqrt(m / 2^14) (see defaultLr). */
  lr: number;
  lrWarmupSteps: number;
  lrDecay: LrDecay;
  /** Decay happens over the last `lrDecaySteps` steps (0: the last 20%). */
  lrDecaySteps: number;
  /** The decayed LR ends at lr · minLrFactor. */
  minLrFactor: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  /** Decoupled weight decay (AdamW); 0 = Adam. */
  weightDecay: number;

  // ---- run
  batchSize: number;
  totalSteps: number;
  seed: number;
  logEvery: number;
  /** 0 = no periodic checkpoints (the final state is still written when outDir is set). */
  checkpointEvery: number;

  // ---- provenance, written to cfg.json
  modelName: string;
  hookName: string;
  hookLayer: number;
  contextSize: number;
  datasetPath: string;
}

/** Defaults common to every variant (variant-specific ones are applied in `resolveConfig`). */
export const BASE_DEFAULTS: Omit<SaeTrainConfig, 'variant' | 'dIn' | 'dSae'> = {
  k: 32,
  beta: 1,
  valueSource: 'z',
  gradNorm: 'none',
  l1Coefficient: 1.5,
  lambdaWarmupSteps: 0,
  april: false,
  aprilDecoderInitNorm: 0.1,
  resampleSteps: [],
  resampleSamples: 4096,
  resampleWarmupSteps: 100,
  bandwidth: 0.001,
  initThreshold: 0.001,
  thresholdLr: 0,
  deadTokens: 10_000_000,
  kAux: 0,
  auxkCoefficient: 1 / 32,
  sparseKernels: true,
  screenedTopk: true,
  bDecInit: 'geometric_median',
  initSamples: 4096,
  normalizeActivations: 'expected_average_only_in',
  lr: 0,
  lrWarmupSteps: 0,
  lrDecay: 'none',
  lrDecaySteps: 0,
  minLrFactor: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEps: 1e-8,
  weightDecay: 0,
  batchSize: 4096,
  totalSteps: 1000,
  seed: 0,
  logEvery: 10,
  checkpointEvery: 0,
  modelName: 'gpt2',
  hookName: 'blocks.6.hook_resid_pre',
  hookLayer: 6,
  contextSize: 128,
  datasetPath: '',
};

/**
 * Variant-specific defaults that differ from BASE_DEFAULTS.
 *
 * The sparsity coefficients are calibrated on the default model (blocks.2.hook_resid_pre,
 * d_in 128, d_sae 1024, inputs normalised to E||x||² = d, seed 0) with
 * experiments/scripts/variants_table.ts (table and sweep in sae/README.md): each gives held-out
 * L0 ≈ 16–35, comparable to TopK k = 16, both after 240k tokens at lr 4e-3 and after 1M tokens
 * at the default lr (8e-4 for d_sae 1024), which agree within ~25% (the L0 a λ converges to does
 * not depend much on the LR; short runs at the default LR have not got there yet: at 240k tokens
 * and 8e-4 the old defaults gave L0 201 (gated λ 1) and L0 21 at FVU 0.70 (relu_l1 λ 5)):
 *   relu_l1  λ 1.5  L0 17.5 (240k, lr 4e-3) / 21.3 (1M, 8e-4); λ 1 → 28.7, λ 2 → 11.9
 *   gated    λ 2    L0 24.3 / 30.2;  λ 1 → 62, λ 4 → 10
 *   jumprelu λ 0.3  L0 16.7 / 23.0;  λ 0.1 → 23, λ 1 → 11.6, λ 3 → 10 (θ0 0.5, ε 0.05)
 * JumpReLU's θ is trained as log θ, which Adam moves by about lr per step, so a short run keeps
 * θ near its initial value: Gemma Scope's θ0 = 0.001 would need ~10^4 steps to reach the O(1)
 * thresholds that z (≈ unit scale after normalisation) needs, and left L0 ≈ 450 of 1024 after
 * 120k tokens. θ0 = 0.5 starts in range; the bandwidth ε barely matters (0.02–0.1 give the same L0).
 */
const VARIANT_DEFAULTS: Record<VariantName, Partial<SaeTrainConfig>> = {
  topk: {},
  gsae: {},
  batchtopk: {},
  gated: { l1Coefficient: 2 },
  relu_l1: { l1Coefficient: 1.5 },
  jumprelu: { l1Coefficient: 0.3, initThreshold: 0.5, bandwidth: 0.05 },
};

export const isTopkFamily = (v: VariantName): boolean => v === 'topk' || v === 'gsae' || v === 'batchtopk';

/**
 * Default learning rate: Gao et al.'s TopK scaling 2e-4 / sqrt(m / 2^14) (METHODS §2). The
 * penalty-based variants use the same rule for want of a better-established one (SAELens and the
 * Gated/JumpReLU papers tune LR per run); pass `lr` to override.
 */
export function defaultLr(dSae: number): number {
  return 2e-4 / Math.sqrt(dSae / 2 ** 14);
}

/**
 * Default EMA rate of BatchTopK's inference threshold for a run of `totalSteps` steps:
 * max(0.01, 20 / totalSteps), at most 1. SAELens' fixed 0.01 (time constant 100 steps) is meant
 * for runs of 10^4–10^5 steps; the smallest kept value drifts during training (on the default
 * model's blocks.2.hook_resid_pre, d_sae 1024, k 16, batch 1024, it falls from 2.0 at init to
 * 1.03 after 118 steps), so with 0.01 a 118-step run exported θ = 1.46, held-out L0 7.6 instead of
 * 16. A time constant of 5% of the run (20 / 118 = 0.17) exports θ = 1.04, held-out L0 15.3.
 */
export function autoThresholdLr(totalSteps: number): number {
  return Math.min(1, Math.max(0.01, 20 / totalSteps));
}

const KEYS = new Set<string>(['variant', 'dIn', 'dSae', ...Object.keys(BASE_DEFAULTS)]);

function fail(field: string, msg: string): never {
  throw new ConfigError(`config '${field}': ${msg}`);
}
function posInt(c: Record<string, unknown>, f: string, allowZero = false): void {
  const v = c[f];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (!allowZero && v === 0)) {
    fail(f, `must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(v)}`);
  }
}
function finiteNum(c: Record<string, unknown>, f: string, min = -Infinity, minInclusive = true): void {
  const v = c[f];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(f, `must be a finite number, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
  if (minInclusive ? v < min : v <= min) fail(f, `must be ${minInclusive ? '>=' : '>'} ${min}, got ${v}`);
}
function oneOf<T extends string>(c: Record<string, unknown>, f: string, options: readonly T[]): void {
  if (!options.includes(c[f] as T)) fail(f, `must be one of ${options.map((o) => `'${o}'`).join(', ')}, got ${JSON.stringify(c[f])}`);
}

/**
 * Fills defaults (base, then the variant's) and validates every field. Unknown keys are errors
 * (a typo in a config file must not be silently ignored). `lr = 0` and `kAux = 0` are resolved
 * to their computed defaults, so the returned config states the values actually used.
 */
export function resolveConfig(partial: Partial<SaeTrainConfig> & Record<string, unknown>): SaeTrainConfig {
  for (const key of Object.keys(partial)) {
    if (!KEYS.has(key)) throw new ConfigError(`config: unknown field '${key}' (known: ${[...KEYS].sort().join(', ')})`);
  }
  if (partial.variant === undefined) throw new ConfigError(`config 'variant': required (one of ${VARIANTS.join(', ')})`);
  oneOf(partial, 'variant', VARIANTS);
  const variant = partial.variant as VariantName;
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c = { ...BASE_DEFAULTS, ...VARIANT_DEFAULTS[variant], ...defined } as SaeTrainConfig;
  const r = c as unknown as Record<string, unknown>;
  posInt(r, 'dIn');
  posInt(r, 'dSae');
  if (partial.k === undefined) c.k = Math.min(c.k, c.dSae); // the default 32 never exceeds m
  if (isTopkFamily(variant)) {
    posInt(r, 'k');
    if (c.k > c.dSae) fail('k', `${c.k} exceeds dSae = ${c.dSae}`);
  }
  finiteNum(r, 'beta', 0);
  oneOf(r, 'valueSource', ['z', 's'] as const);
  oneOf(r, 'gradNorm', ['none', 'rms'] as const);
  finiteNum(r, 'l1Coefficient', 0);
  posInt(r, 'lambdaWarmupSteps', true);
  // The April update warms λ up over the first 5% of steps unless told otherwise.
  if (c.april && partial.lambdaWarmupSteps === undefined) c.lambdaWarmupSteps = Math.round(0.05 * c.totalSteps);
  if (typeof c.april !== 'boolean') fail('april', `must be true or false, got ${JSON.stringify(c.april)}`);
  finiteNum(r, 'aprilDecoderInitNorm', 0, false);
  if (!Array.isArray(c.resampleSteps) || c.resampleSteps.some((s) => !Number.isInteger(s) || s <= 0)) {
    fail('resampleSteps', `must be a list of positive step numbers, got ${JSON.stringify(c.resampleSteps)}`);
  }
  if (c.resampleSteps.length > 0 && variant !== 'relu_l1') fail('resampleSteps', `neuron resampling is implemented for relu_l1 only, not '${variant}'`);
  posInt(r, 'resampleSamples');
  posInt(r, 'resampleWarmupSteps', true);
  finiteNum(r, 'bandwidth', 0, false);
  finiteNum(r, 'initThreshold', 0, false);
  finiteNum(r, 'thresholdLr', 0);
  if (c.thresholdLr > 1) fail('thresholdLr', `must be in [0, 1] (0: auto), got ${c.thresholdLr}`);
  if (c.thresholdLr === 0 && Number.isInteger(c.totalSteps) && c.totalSteps > 0) c.thresholdLr = autoThresholdLr(c.totalSteps);
  // METHODS §1.2: 10M tokens, scaled down for small runs: a run of T tokens calls a latent dead
  // after min(10M, T/10) tokens without firing (at least one batch), unless deadTokens is given.
  if (partial.deadTokens === undefined && Number.isInteger(c.totalSteps) && Number.isInteger(c.batchSize) && c.totalSteps > 0 && c.batchSize > 0) {
    c.deadTokens = Math.min(BASE_DEFAULTS.deadTokens, Math.max(c.batchSize, Math.round(0.1 * c.totalSteps * c.batchSize)));
  }
  posInt(r, 'deadTokens');
  // dead counters are float32 tensors: they are exact integers only up to 2^24.
  if (c.deadTokens > 2 ** 24) fail('deadTokens', `must be at most 2^24 = ${2 ** 24} (counters are float32), got ${c.deadTokens}`);
  posInt(r, 'kAux', true);
  if (c.kAux === 0) c.kAux = Math.max(1, Math.min(c.dSae, Math.floor(c.dIn / 2)));
  if (c.kAux > c.dSae) fail('kAux', `${c.kAux} exceeds dSae = ${c.dSae}`);
  finiteNum(r, 'auxkCoefficient', 0);
  if (typeof c.sparseKernels !== 'boolean') fail('sparseKernels', `must be true or false, got ${JSON.stringify(c.sparseKernels)}`);
  if (typeof c.screenedTopk !== 'boolean') fail('screenedTopk', `must be true or false, got ${JSON.stringify(c.screenedTopk)}`);
  oneOf(r, 'bDecInit', ['geometric_median', 'mean', 'zeros'] as const);
  posInt(r, 'initSamples');
  oneOf(r, 'normalizeActivations', ['none', 'expected_average_only_in'] as const);
  finiteNum(r, 'lr', 0);
  if (c.lr === 0) c.lr = defaultLr(c.dSae);
  posInt(r, 'lrWarmupSteps', true);
  oneOf(r, 'lrDecay', ['none', 'cosine', 'linear'] as const);
  posInt(r, 'lrDecaySteps', true);
  finiteNum(r, 'minLrFactor', 0);
  if (c.minLrFactor > 1) fail('minLrFactor', `must be in [0, 1], got ${c.minLrFactor}`);
  for (const f of ['adamBeta1', 'adamBeta2'] as const) {
    finiteNum(r, f, 0);
    if (c[f] >= 1) fail(f, `must be in [0, 1), got ${c[f]}`);
  }
  finiteNum(r, 'adamEps', 0, false);
  finiteNum(r, 'weightDecay', 0);
  posInt(r, 'batchSize');
  posInt(r, 'totalSteps');
  posInt(r, 'seed', true);
  posInt(r, 'logEvery');
  posInt(r, 'checkpointEvery', true);
  for (const f of ['modelName', 'hookName', 'datasetPath'] as const) {
    if (typeof c[f] !== 'string') fail(f, `must be a string, got ${JSON.stringify(c[f])}`);
  }
  posInt(r, 'hookLayer', true);
  posInt(r, 'contextSize');
  return c;
}

/** The layer number in a TransformerLens hook name (`blocks.6.hook_resid_pre` → 6), else 0. */
export function hookLayerOf(hookName: string): number {
  const m = /^blocks\.(\d+)\./.exec(hookName);
  return m ? Number(m[1]) : 0;
}
