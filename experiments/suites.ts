/**
 * Experiment suites: which SAEs to train and compare, at a 'quick' preset (minutes on two cores)
 * and a 'full' preset. Each SAE run is a partial SaeTrainConfig plus an id; the suite also fixes
 * the hook, the token budgets and the evaluation sizes. Seeds multiply every run: both presets
 * train every configuration on three seeds, so every comparison has a seed-paired interval.
 */
import type { SaeTrainConfig } from '../sae/config.js';
import type { StoreOption } from './train_stores.js';

/**
 * One SAE run: an id, a report group, the SaeTrainConfig fields it sets and, optionally, the
 * training store it reads (`store`: see experiments/train_stores.ts; default: the suite's clean,
 * summed-loss store).
 */
/**
 * Whether a run id belongs to the TopK / g-SAE grid that `gsaeRun` names (`topk-k8`, `gsae-k32-b4`)
 * rather than to an option run built on it; β = 0 g-SAEs (`gsae-k16-b0`) are an option run: the
 * check that they equal TopK.
 */
export const isGridRun = (id: string): boolean => /^(topk-k\d+|gsae-k\d+-b(?!0$)[\d.]+)$/.test(id);

export type RunSpec = { id: string; group: string; store?: StoreOption } & Partial<SaeTrainConfig>;

const STORE_KEYS = new Set(['gradReduction', 'gradSource', 'spliceRun']);

/**
 * Checks a suite's run list: distinct ids, and every store option well formed. A spliced run
 * names a TopK or g-SAE run of the same suite that trains on a clean store and comes earlier in
 * the list (the runner trains runs in list order within a seed, so the reference exists first).
 */
export function validateRuns(runs: readonly RunSpec[]): void {
  const index = new Map<string, number>();
  runs.forEach((r, i) => {
    if (typeof r.id !== 'string' || !/^[\w.-]+$/.test(r.id)) throw new Error(`suite run ${i}: id must be a non-empty name of letters, digits, '.', '_' or '-', got ${JSON.stringify(r.id)}`);
    if (index.has(r.id)) throw new Error(`suite run '${r.id}' appears twice`);
    index.set(r.id, i);
  });
  runs.forEach((r, i) => {
    const st = r.store;
    if (st === undefined) return;
    const where = `suite run '${r.id}': store`;
    if (!st || typeof st !== 'object' || Array.isArray(st)) throw new Error(`${where} must be an object {gradReduction?, gradSource?, spliceRun?}, got ${JSON.stringify(st)}`);
    for (const k of Object.keys(st)) if (!STORE_KEYS.has(k)) throw new Error(`${where}: unknown field '${k}' (known: ${[...STORE_KEYS].join(', ')})`);
    if (st.gradReduction !== undefined && st.gradReduction !== 'sum' && st.gradReduction !== 'mean') throw new Error(`${where}.gradReduction must be 'sum' or 'mean', got ${JSON.stringify(st.gradReduction)}`);
    if (st.gradSource !== undefined && st.gradSource !== 'clean' && st.gradSource !== 'spliced') throw new Error(`${where}.gradSource must be 'clean' or 'spliced', got ${JSON.stringify(st.gradSource)}`);
    if (st.gradSource !== 'spliced') {
      if (st.spliceRun !== undefined) throw new Error(`${where}.spliceRun is only meaningful with gradSource 'spliced' (got gradSource ${JSON.stringify(st.gradSource ?? 'clean')})`);
      return;
    }
    if (typeof st.spliceRun !== 'string' || st.spliceRun === '') throw new Error(`${where}: gradSource 'spliced' needs spliceRun, the id of the run whose SAE is spliced in`);
    const j = index.get(st.spliceRun);
    if (j === undefined) throw new Error(`${where}.spliceRun '${st.spliceRun}' is not a run of this suite (runs: ${[...index.keys()].join(', ')})`);
    const ref = runs[j]!;
    if (ref.variant !== 'gsae' && ref.variant !== 'topk') throw new Error(`${where}.spliceRun '${st.spliceRun}' is a ${JSON.stringify(ref.variant ?? 'default')} run; only a g-SAE or TopK run can be spliced in`);
    if (ref.store?.gradSource === 'spliced') throw new Error(`${where}.spliceRun '${st.spliceRun}' itself trains on a spliced store; the spliced SAE must be trained on clean gradients`);
    if (j >= i) throw new Error(`${where}.spliceRun '${st.spliceRun}' must come before '${r.id}' in the run list (it is trained first)`);
  });
}

export interface SuiteConfig {
  hook: string;
  /** latents per input dimension */
  expansion: number;
  /** training tokens per SAE */
  trainTokens: number;
  batchSize: number;
  /** tokens in the training store (SAE runs cycle over it when trainTokens exceeds it) */
  storeTrainTokens: number;
  /** held-out tokens for reconstruction metrics and downstream loss */
  evalTokens: number;
  seqLen: number;
  steering: { latents: number; c: number; topN: number; contexts: number };
  seeds: number[];
  runs: RunSpec[];
  /** what the comparison is about, for the report */
  question: string;
  /**
   * Analyses over the trained SAEs after the runs (the 'paper' suite): the steering sweep of every
   * g-SAE vs TopK pair at the listed k (scale c × latent sample × associated-token rule) and the
   * dictionary comparison of each pair (Hungarian matching by decoder cosine, splitting at τ).
   */
  analyses?: {
    steering: { ks: number[]; betas: number[]; cs: number[]; latents: number; topN: number; batchSeqs: number };
    splitting: { tau: number };
  };
}

/** quick: minutes on two cores; full: the complete sweeps (hours); paper: the 'paper' suite's one preset. */
export type PresetName = 'quick' | 'full' | 'paper';
export const PRESET_NAMES: readonly PresetName[] = ['quick', 'full', 'paper'];

export interface Suite {
  name: string;
  describe: string;
  presets: Partial<Record<PresetName, SuiteConfig>>;
}

/** A suite's configuration for a preset, or an error naming the presets it has. */
export function suitePreset(suite: Suite, preset: PresetName): SuiteConfig {
  const p = suite.presets[preset];
  if (!p) throw new Error(`suite '${suite.name}' has no preset '${preset}' (its presets: ${Object.keys(suite.presets).join(', ')})`);
  return p;
}

/** The preset a suite runs when none is named: 'quick' where it has one, else its first. */
export function defaultPreset(suite: Suite): PresetName {
  return suite.presets.quick ? 'quick' : (Object.keys(suite.presets)[0] as PresetName);
}

/**
 * The suites' default hook: the residual stream entering the middle block of whatever model runs
 * (blocks.⌊L/2⌋.hook_resid_pre: blocks.2 of the shipped 4-layer model, blocks.3 of a 6-layer one),
 * where a model has both built features and work left to do with them.
 */
export const MIDDLE_HOOK = 'middle';

/** A suite's hook for a model of `nLayer` blocks: 'middle' resolved, any TransformerLens name as is. */
export function resolveHook(hook: string, nLayer: number): string {
  if (hook !== MIDDLE_HOOK) return hook;
  if (!(Number.isInteger(nLayer) && nLayer >= 1)) throw new Error(`hook 'middle': the model must have at least one layer, got n_layer ${nLayer}`);
  return `blocks.${Math.floor(nLayer / 2)}.hook_resid_pre`;
}

/**
 * Seeds of the quick presets: three, the fewest that give a seed-paired t interval with a usable
 * critical value (t_{0.975,2} = 4.303; two seeds give 12.706). Sized so the main job still fits
 * 15 minutes on two cores (estimate in the README).
 */
export const QUICK_SEEDS = [0, 1, 2];

const common = {
  hook: MIDDLE_HOOK,
  expansion: 8,
  seqLen: 64,
  lrWarmupSteps: 20,
};

function base(quick: boolean): Omit<SuiteConfig, 'runs' | 'question'> {
  return quick
    ? { hook: common.hook, expansion: common.expansion, trainTokens: 240_000, batchSize: 1024, storeTrainTokens: 120_000, evalTokens: 16_384, seqLen: common.seqLen, steering: { latents: 24, c: 1, topN: 10, contexts: 2 }, seeds: QUICK_SEEDS }
    : { hook: common.hook, expansion: common.expansion, trainTokens: 4_000_000, batchSize: 1024, storeTrainTokens: 290_000, evalTokens: 32_768, seqLen: common.seqLen, steering: { latents: 96, c: 1, topN: 10, contexts: 4 }, seeds: [0, 1, 2] };
}

// β multiplies |a| after RMS normalisation (gradNorm 'rms'), so the same β means the same
// relative weight of the gradient term whatever the loss scale; the report states this.
const gsaeRun = (k: number, beta: number, extra: Partial<SaeTrainConfig> = {}): RunSpec => ({
  id: beta === 0 ? `topk-k${k}` : `gsae-k${k}-b${beta}`,
  group: beta === 0 ? 'TopK' : `g-SAE β=${beta}`,
  variant: beta === 0 ? 'topk' : 'gsae',
  k,
  ...(beta === 0 ? {} : { beta, gradNorm: 'rms' as const }),
  lrWarmupSteps: common.lrWarmupSteps,
  ...extra,
});

/**
 * Sparsity settings of the penalty variants, calibrated on the default model with
 * experiments/scripts/variants_table.ts (sweep and table in sae/README.md; the defaults in
 * sae/config.ts are the middle values). Held-out L0 after 240k tokens at lr 4e-3, no warm-up (d_sae 1024):
 *   relu_l1 λ 1 → 28.7, 1.5 → 17.5, 2 → 11.9;   gated λ 1 → 62, 2 → 24.3, 4 → 10.0;
 *   jumprelu (θ0 0.5, ε 0.05) λ 0.1 → 23.2, 0.3 → 16.7, 1 → 11.6, 3 → 10.0.
 * After 1M tokens at the default lr the middle values give L0 21.3, 30.2 and 23.0, so the same
 * grids serve the full preset (4M tokens, default lr), extended at both ends.
 */
const PENALTY_GRID = {
  quick: { relu_l1: [1, 2], gated: [2, 4], jumprelu: [0.1, 1] },
  full: { relu_l1: [0.5, 1, 1.5, 2, 3], gated: [0.5, 1, 2, 3, 4], jumprelu: [0.03, 0.1, 0.3, 1, 3] },
};

/**
 * Every quick preset (all three suites) trains at lr 4e-3 (20 warm-up steps) instead of the
 * TopK rule's 8e-4 (d_sae 1024): 235 steps at 8e-4 leave every variant far from converged, and the
 * penalty variants worst of all (their L0 starts near m/2 and falls slowly; log θ and r_mag move
 * about lr per step). Held-out, 240k tokens, 8e-4 → 4e-3 (sae/README.md): TopK k16 FVU .055 →
 * .026, g-SAE k16 β1 .063 → .027, BatchTopK k16 .065 → .023; relu_l1 λ1.5 L0 126 → 19 (FVU .21 →
 * .094), gated λ2 L0 161 → 28 (.12 → .045), jumprelu λ0.3 L0 62 → 20 (.12 → .049). One LR for
 * all keeps the frontier comparable.
 */
const QUICK_OPT = { lr: 4e-3, lrWarmupSteps: 20 };

const penaltyRuns = (preset: 'quick' | 'full'): RunSpec[] => {
  const g = PENALTY_GRID[preset];
  const opt = preset === 'quick' ? QUICK_OPT : {};
  return [
    ...g.relu_l1.map((l) => ({ id: `relu-l1-${l}`, group: 'ReLU-L1', variant: 'relu_l1' as const, l1Coefficient: l, ...opt })),
    ...g.gated.map((l) => ({ id: `gated-${l}`, group: 'Gated', variant: 'gated' as const, l1Coefficient: l, ...opt })),
    // θ0 and ε are the config defaults, stated so the runs do not change if those do
    ...g.jumprelu.map((l) => ({ id: `jumprelu-${l}`, group: 'JumpReLU', variant: 'jumprelu' as const, l1Coefficient: l, initThreshold: 0.5, bandwidth: 0.05, ...opt })),
  ];
};

/**
 * The ablations of the training store (experiments/train_stores.ts), each against the β = 1
 * reference `gsae-k{k}-b1` (which must come earlier in the run list):
 * - `-spliced`: g = ∂L/∂x̂ with the reference SAE of the same seed spliced in at the hook;
 * - `-mean`: L averaged over the capture batch's scored positions instead of summed (gradNorm 'rms',
 *   where a uniform scale of g cancels in the normalisation);
 * - `-raw-mean`: the same with gradNorm 'none' (β's effective scale changes by 1/(B·(T−1))),
 *   to be read against `gsae-k{k}-raw` (gradNorm 'none', summed L).
 */
const storeAblations = (k: number, extra: Partial<SaeTrainConfig> = {}): RunSpec[] => [
  { ...gsaeRun(k, 1, extra), id: `gsae-k${k}-b1-spliced`, group: 'g-SAE β=1 g with SAE spliced in', store: { gradSource: 'spliced', spliceRun: `gsae-k${k}-b1` } },
  { ...gsaeRun(k, 1, extra), id: `gsae-k${k}-b1-mean`, group: 'g-SAE β=1 L mean over positions', store: { gradReduction: 'mean' } },
  { id: `gsae-k${k}-raw-mean`, group: "g-SAE β=1 gradNorm 'none' L mean over positions", variant: 'gsae', k, beta: 1, gradNorm: 'none', ...extra, store: { gradReduction: 'mean' } },
];

export const SUITES: Record<string, Suite> = {
  'gsae-vs-topk': {
    name: 'gsae-vs-topk',
    describe: 'g-SAE against TopK: k sweep × β sweep on one hook (FVU, loss added, dead latents, steering)',
    presets: {
      quick: { ...base(true), question: 'Does the gradient-aware selection lower loss added at equal k, leave fewer dead latents and steer more strongly?', runs: [8, 32].flatMap((k) => [0, 1, 4].map((b) => gsaeRun(k, b, QUICK_OPT))) },
      full: { ...base(false), question: 'Does the gradient-aware selection lower loss added at equal k, leave fewer dead latents and steer more strongly?', runs: [8, 16, 32, 64].flatMap((k) => [0, 0.5, 1, 2, 4].map((b) => gsaeRun(k, b))) },
    },
  },
  pareto: {
    name: 'pareto',
    describe: 'ReLU-L1, Gated, TopK, g-SAE, BatchTopK and JumpReLU at several sparsities (L0 vs fidelity, shrinkage γ)',
    presets: {
      quick: {
        ...base(true),
        question: 'Which architecture gives the best L0/fidelity frontier, and which shrinks its reconstructions?',
        runs: [
          ...[8, 32].map((k) => gsaeRun(k, 0, QUICK_OPT)),
          ...[8, 32].map((k) => gsaeRun(k, 1, QUICK_OPT)),
          ...[8, 32].map((k) => ({ id: `batchtopk-k${k}`, group: 'BatchTopK', variant: 'batchtopk' as const, k, ...QUICK_OPT })),
          ...penaltyRuns('quick'),
        ],
      },
      full: {
        ...base(false),
        question: 'Which architecture gives the best L0/fidelity frontier, and which shrinks its reconstructions?',
        runs: [
          ...[8, 16, 32, 64].map((k) => gsaeRun(k, 0)),
          ...[8, 16, 32, 64].map((k) => gsaeRun(k, 1)),
          ...[8, 16, 32, 64].map((k) => ({ id: `batchtopk-k${k}`, group: 'BatchTopK', variant: 'batchtopk' as const, k })),
          ...penaltyRuns('full'),
        ],
      },
    },
  },
  ablations: {
    name: 'ablations',
    describe: 'g-SAE options: valueSource z vs s, gradNorm none vs rms, gradients from the clean vs the SAE-spliced model, loss summed vs averaged over positions, and the β = 0 sanity check against TopK',
    presets: {
      quick: {
        ...base(true),
        question: 'Which g-SAE options matter, and does β = 0 reproduce TopK exactly?',
        runs: [
          gsaeRun(16, 0, QUICK_OPT),
          { id: 'gsae-k16-b0', group: 'g-SAE β=0', variant: 'gsae', k: 16, beta: 0, ...QUICK_OPT },
          gsaeRun(16, 1, QUICK_OPT),
          { ...gsaeRun(16, 1, QUICK_OPT), id: 'gsae-k16-b1-values', group: "g-SAE β=1 valueSource 's'", valueSource: 's' },
          { id: 'gsae-k16-raw', group: "g-SAE β=1 gradNorm 'none'", variant: 'gsae', k: 16, beta: 1, gradNorm: 'none', ...QUICK_OPT },
          ...storeAblations(16, QUICK_OPT),
        ],
      },
      full: {
        ...base(false),
        question: 'Which g-SAE options matter, and does β = 0 reproduce TopK exactly?',
        runs: [16, 32].flatMap((k) => [
          gsaeRun(k, 0),
          { id: `gsae-k${k}-b0`, group: 'g-SAE β=0', variant: 'gsae' as const, k, beta: 0 },
          gsaeRun(k, 1),
          { ...gsaeRun(k, 1), id: `gsae-k${k}-b1-values`, group: "g-SAE β=1 valueSource 's'", valueSource: 's' as const },
          { id: `gsae-k${k}-raw`, group: "g-SAE β=1 gradNorm 'none'", variant: 'gsae' as const, k, beta: 1, gradNorm: 'none' as const },
          ...storeAblations(k),
        ]),
      },
    },
  },
};

/**
 * The 'paper' preset: both papers' questions in one resumable run of three seeds, sized for an
 * hour on two cores with the default model (measured wall time in experiments/results/paper/).
 * - g-SAE vs TopK across k (8, 16, 32) and β (0 = TopK, 1, 4): the g-SAE paper's claims, with
 *   seed-paired verdicts;
 * - the g-SAE's open choices at k = 16 against the β = 1 reference (β = 0 g-SAE = TopK bit for bit,
 *   values from s, gradNorm 'none', gradients with the SAE spliced in, loss averaged over positions);
 * - ReLU-L1 and Gated at three λ each: the Gated paper's frontier (L0 vs loss recovered) and
 *   shrinkage γ (TopK and g-SAE give their points too);
 * - afterwards, the steering sweep (c × alive/random latents × W_U-top vs measured tokens) of the
 *   k = 8 and k = 32 pairs, decoder max-cosine distributions and feature splitting between matched
 *   latents of every g-SAE vs TopK pair.
 * Every run uses the quick presets' optimiser (QUICK_OPT) and token budget, so its rows are
 * comparable with the main job's.
 */
const PAPER: SuiteConfig = {
  ...base(true),
  question:
    'Does the gradient-aware selection (g-SAE) beat TopK at equal k across k and β — loss added, dead latents, steering, decoder similarity — and which of its choices matter; and does Gated beat ReLU-L1 on the L0/fidelity frontier while shrinking less?',
  runs: [
    ...[8, 16, 32].flatMap((k) => [0, 1, 4].map((b) => gsaeRun(k, b, QUICK_OPT))),
    { id: 'gsae-k16-b0', group: 'g-SAE β=0', variant: 'gsae', k: 16, beta: 0, ...QUICK_OPT },
    { ...gsaeRun(16, 1, QUICK_OPT), id: 'gsae-k16-b1-values', group: "g-SAE β=1 valueSource 's'", valueSource: 's' },
    { id: 'gsae-k16-raw', group: "g-SAE β=1 gradNorm 'none'", variant: 'gsae', k: 16, beta: 1, gradNorm: 'none', ...QUICK_OPT },
    ...storeAblations(16, QUICK_OPT),
    ...[1, 1.5, 2].map((l) => ({ id: `relu-l1-${l}`, group: 'ReLU-L1', variant: 'relu_l1' as const, l1Coefficient: l, ...QUICK_OPT })),
    ...[1, 2, 4].map((l) => ({ id: `gated-${l}`, group: 'Gated', variant: 'gated' as const, l1Coefficient: l, ...QUICK_OPT })),
  ],
  analyses: {
    // 16 latents × 2 samples × 5 c × 2 batches of 8 × 64 tokens per SAE, 18 SAEs: about a quarter of the hour
    steering: { ks: [8, 32], betas: [1, 4], cs: [0.5, 1, 2, 4, 8], latents: 16, topN: 10, batchSeqs: 8 },
    splitting: { tau: 0.7 },
  },
};

/** The ids of the paper preset's g-SAE option runs (compared with the β = 1 reference at k = 16). */
export const PAPER_ABLATION_IDS = ['gsae-k16-b0', 'gsae-k16-b1-values', 'gsae-k16-raw', 'gsae-k16-b1-spliced', 'gsae-k16-b1-mean', 'gsae-k16-raw-mean'];

SUITES.paper = {
  name: 'paper',
  describe: "both papers' questions in one run (g-SAE vs TopK across k and β, the g-SAE's options, Gated vs ReLU-L1 frontier and γ, steering sweep, feature splitting), 3 seeds, ≈ 1 h",
  presets: { paper: PAPER },
};

export function getSuite(name: string): Suite {
  const s = SUITES[name];
  if (!s) throw new Error(`unknown experiment suite '${name}' (known: ${Object.keys(SUITES).join(', ')})`);
  return s;
}
