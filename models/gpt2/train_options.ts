/**
 * The options of a language-model training run (train.ts), their validation (one error naming the
 * option), which of them a resumed run must share with its checkpoint, and the optimizer and
 * schedule settings they imply.
 */
import type { RngKind } from './batches.js';
import type { TokenizerKind } from './data.js';
import { validateAdamW, type AdamWConfig } from '../optim/adamw.js';
import { validateSchedule, type LrSchedule } from '../optim/schedule.js';

export interface TrainOptions {
  /** UTF-8 corpus; the first `trainFrac` of its characters train, the rest validate. */
  data: string;
  trainFrac: number;
  tokenizer: TokenizerKind;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Biases in Linear and LayerNorm layers (GPT-2: true; nanoGPT's default: false). */
  bias: boolean;
  /** MLP activation: 'gelu_new' (tanh GELU, GPT-2) or 'gelu' (exact erf GELU, nanoGPT). */
  activation: 'gelu_new' | 'gelu';
  /** Dropout probability at every site (HF resid/embd/attn_pdrop; nanoGPT's `dropout`); 0: none. */
  dropout: number;
  /** Context length (also the model's n_positions). */
  blockSize: number;
  batchSize: number;
  /** Optimizer steps in total. */
  iters: number;
  lr: number;
  minLr: number;
  warmupIters: number;
  decayIters: number;
  decay: 'cosine' | 'constant';
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global-norm clipping threshold (0: no clipping). */
  gradClip: number;
  /** Estimate train/val loss every this many steps (and at the end). */
  evalInterval: number;
  /** Batches per loss estimate. */
  evalIters: number;
  seed: number;
  /** Output directory (the checkpoint). */
  out: string;
  /** Write a checkpoint every this many steps (0: only at the end or when stopped). */
  checkpointInterval: number;
  /**
   * Random streams: 'gsae' (the project's generator) or 'torch' (PyTorch's generator in
   * nanoGPT's order: the same seed gives nanoGPT's initial weights and batches).
   */
  rng: RngKind;
}

/** Options that change the computation: a resumed run must use the same values. */
const RESUME_KEYS: (keyof TrainOptions)[] = [
  'data', 'trainFrac', 'tokenizer', 'nLayer', 'nHead', 'nEmbd', 'bias', 'activation', 'dropout', 'blockSize', 'batchSize', 'lr', 'minLr',
  'warmupIters', 'decayIters', 'decay', 'beta1', 'beta2', 'eps', 'weightDecay', 'gradClip', 'seed', 'rng',
];

export function validateTrainOptions(o: TrainOptions): void {
  const int = (k: keyof TrainOptions, min: number) => {
    const v = o[k] as number;
    if (!Number.isInteger(v) || v < min) throw new Error(`train: ${k} must be an integer >= ${min}, got ${v}`);
  };
  int('nLayer', 1);
  int('nHead', 1);
  int('nEmbd', 1);
  int('blockSize', 2);
  int('batchSize', 1);
  int('iters', 0);
  int('evalInterval', 1);
  int('evalIters', 1);
  int('checkpointInterval', 0);
  if (!Number.isSafeInteger(o.seed)) throw new Error(`train: seed must be a safe integer, got ${o.seed}`);
  if (o.rng !== 'gsae' && o.rng !== 'torch') throw new Error(`train: rng must be 'gsae' or 'torch', got ${JSON.stringify(o.rng)}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`train: dropout must be in [0, 1), got ${o.dropout}`);
  if (o.rng === 'torch' && o.dropout > 0) throw new Error("train: dropout with rng 'torch' would not follow PyTorch's dropout draws; use rng 'gsae' (or dropout 0)");
  if (o.rng === 'torch' && o.seed < 0) throw new Error(`train: with rng 'torch' the seed is torch.manual_seed's and must be >= 0, got ${o.seed}`);
  if (o.nEmbd % o.nHead !== 0) throw new Error(`train: nEmbd (${o.nEmbd}) must be divisible by nHead (${o.nHead})`);
  if (!(o.gradClip >= 0)) throw new Error(`train: gradClip must be >= 0 (0 disables clipping), got ${o.gradClip}`);
  validateSchedule(scheduleOf(o));
  validateAdamW(adamwOf(o));
}

export const scheduleOf = (o: TrainOptions): LrSchedule => ({ lr: o.lr, minLr: o.minLr, warmupIters: o.warmupIters, decayIters: o.decayIters, decay: o.decay });
export const adamwOf = (o: TrainOptions): AdamWConfig => ({ beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay });

/** The options as stored in a checkpoint's trainer state and in train_summary.json. */
export function optionsRecord(o: TrainOptions): Record<string, unknown> {
  return { ...o };
}

/**
 * The options that would make resuming a checkpoint saved with `saved` differ from an
 * uninterrupted run with `o`, each as "name (checkpoint X, now Y)"; empty when it may resume.
 */
export function resumeDiffs(saved: Record<string, unknown>, o: TrainOptions): string[] {
  // Checkpoints written before `bias`, `activation` and `rng` existed: biased, tanh GELU, own generator.
  const older: Partial<Record<keyof TrainOptions, unknown>> = { bias: true, activation: 'gelu_new', rng: 'gsae', dropout: 0 };
  const savedOf = (k: keyof TrainOptions) => (saved[k] !== undefined ? saved[k] : older[k]);
  const diffs = RESUME_KEYS.filter((k) => JSON.stringify(savedOf(k)) !== JSON.stringify(o[k]));
  return diffs.map((k) => `${k} (checkpoint ${JSON.stringify(saved[k])}, now ${JSON.stringify(o[k])})`);
}
