/**
 * Experiment suites: which SAEs to train and compare, at a 'quick' preset (minutes on two cores)
 * and a 'full' preset. Each SAE run is a partial SaeTrainConfig plus an id; the suite also fixes
 * the hook, the token budgets and the evaluation sizes. Seeds multiply every run.
 */
import type { SaeTrainConfig } from '../sae/config.js';

export type RunSpec = { id: string; group: string } & Partial<SaeTrainConfig>;

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
}

export interface Suite {
  name: string;
  describe: string;
  presets: Record<'quick' | 'full', SuiteConfig>;
}

const common = {
  hook: 'blocks.2.hook_resid_pre',
  expansion: 8,
  seqLen: 64,
  lrWarmupSteps: 20,
};

function base(quick: boolean): Omit<SuiteConfig, 'runs' | 'question'> {
  return quick
    ? { hook: common.hook, expansion: common.expansion, trainTokens: 240_000, batchSize: 1024, storeTrainTokens: 120_000, evalTokens: 16_384, seqLen: common.seqLen, steering: { latents: 24, c: 1, topN: 10, contexts: 2 }, seeds: [0] }
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

export const SUITES: Record<string, Suite> = {
  'gsae-vs-topk': {
    name: 'gsae-vs-topk',
    describe: 'g-SAE against TopK: k sweep × β sweep on one hook (FVU, loss added, dead latents, steering)',
    presets: {
      quick: { ...base(true), question: 'Does the gradient-aware selection lower loss added at equal k, leave fewer dead latents and steer more strongly?', runs: [8, 32].flatMap((k) => [0, 1, 4].map((b) => gsaeRun(k, b))) },
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
          ...[8, 32].map((k) => gsaeRun(k, 0)),
          ...[8, 32].map((k) => gsaeRun(k, 1)),
          ...[8, 32].map((k) => ({ id: `batchtopk-k${k}`, group: 'BatchTopK', variant: 'batchtopk' as const, k })),
          ...[2, 8].map((l) => ({ id: `relu-l1-${l}`, group: 'ReLU-L1', variant: 'relu_l1' as const, l1Coefficient: l })),
          ...[0.5, 2].map((l) => ({ id: `gated-${l}`, group: 'Gated', variant: 'gated' as const, l1Coefficient: l })),
          ...[0.05, 0.3].map((l) => ({ id: `jumprelu-${l}`, group: 'JumpReLU', variant: 'jumprelu' as const, l1Coefficient: l })),
        ],
      },
      full: {
        ...base(false),
        question: 'Which architecture gives the best L0/fidelity frontier, and which shrinks its reconstructions?',
        runs: [
          ...[8, 16, 32, 64].map((k) => gsaeRun(k, 0)),
          ...[8, 16, 32, 64].map((k) => gsaeRun(k, 1)),
          ...[8, 16, 32, 64].map((k) => ({ id: `batchtopk-k${k}`, group: 'BatchTopK', variant: 'batchtopk' as const, k })),
          ...[1, 2, 4, 8, 16].map((l) => ({ id: `relu-l1-${l}`, group: 'ReLU-L1', variant: 'relu_l1' as const, l1Coefficient: l })),
          ...[0.25, 0.5, 1, 2, 4].map((l) => ({ id: `gated-${l}`, group: 'Gated', variant: 'gated' as const, l1Coefficient: l })),
          ...[0.02, 0.05, 0.1, 0.3, 1].map((l) => ({ id: `jumprelu-${l}`, group: 'JumpReLU', variant: 'jumprelu' as const, l1Coefficient: l })),
        ],
      },
    },
  },
  ablations: {
    name: 'ablations',
    describe: 'g-SAE options: valueSource z vs s, gradNorm none vs rms, and the β = 0 sanity check against TopK',
    presets: {
      quick: {
        ...base(true),
        question: 'Which g-SAE options matter, and does β = 0 reproduce TopK exactly?',
        runs: [
          gsaeRun(16, 0),
          { id: 'gsae-k16-b0', group: 'g-SAE β=0', variant: 'gsae', k: 16, beta: 0 },
          gsaeRun(16, 1),
          { ...gsaeRun(16, 1), id: 'gsae-k16-b1-values', group: "g-SAE β=1 valueSource 's'", valueSource: 's' },
          { id: 'gsae-k16-raw', group: "g-SAE β=1 gradNorm 'none'", variant: 'gsae', k: 16, beta: 1, gradNorm: 'none' },
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
        ]),
      },
    },
  },
};

export function getSuite(name: string): Suite {
  const s = SUITES[name];
  if (!s) throw new Error(`unknown experiment suite '${name}' (known: ${Object.keys(SUITES).join(', ')})`);
  return s;
}
