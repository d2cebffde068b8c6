/**
 * The named training configurations of `gsae lm train --preset`: nanoGPT's char-level baby GPT
 * (the anchor for the implementation), the shipped 4 × 128 tinyshakespeare model, and the
 * 6 × 128 Brown + tinyshakespeare default model (`mix`); and the corpus each is meant for.
 * The options themselves are defined and validated in train_options.ts.
 */
import type { TrainOptions } from './train_options.js';

/** nanoGPT's published char-level CPU configuration (README "baby GPT" on a laptop). */
export const NANOGPT_CHAR_PRESET: Omit<TrainOptions, 'data' | 'out'> = {
  trainFrac: 0.9,
  tokenizer: 'char',
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  bias: false, // nanoGPT's train.py default (`bias = False`), which its published 1.88 used
  activation: 'gelu', // nanoGPT's MLP uses nn.GELU(), the exact erf GELU
  dropout: 0, // the README's CPU run: --dropout=0.0
  blockSize: 64,
  batchSize: 12,
  iters: 2000,
  lr: 1e-3,
  minLr: 1e-4,
  warmupIters: 100,
  decayIters: 2000,
  decay: 'cosine',
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 1.0,
  evalInterval: 250,
  evalIters: 20,
  seed: 1337,
  checkpointInterval: 500,
  rng: 'torch', // torch.manual_seed(1337): nanoGPT's own initial weights and batch sequence
};

/**
 * The tiny model (data/tiny-model; the SAE pipeline's default until the `mix` model): GPT-2 architecture, GPT-2 BPE restricted to the 11,706
 * tokens of tinyshakespeare + end-of-text (vocab 11,707), 4 layers × 128 wide, context 128.
 * 600 steps of 8 × 128 tokens are ~2 epochs of the 302k training tokens, sized for the 15-minute
 * budget on two shared cores (measured ~750 tokens/s with the wasm backend under load, ~1.3 s a
 * step; the 128 × 11,707 LM head is the largest cost, so width rather than depth sets the time).
 */
export const TINY_MODEL_PRESET: Omit<TrainOptions, 'data' | 'out'> = {
  ...NANOGPT_CHAR_PRESET,
  tokenizer: 'gpt2-restricted',
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  bias: true, // GPT-2 proper: its checkpoints load in any GPT-2 implementation unchanged
  activation: 'gelu_new',
  rng: 'gsae',
  blockSize: 128,
  batchSize: 8,
  iters: 600,
  warmupIters: 30,
  decayIters: 600,
  evalInterval: 100,
  evalIters: 10,
  checkpointInterval: 200,
};

/** Brown + tinyshakespeare, each split 90/10 on its own (data/README.md). */
export const MIXED_CORPUS = 'data/brown/brown.txt.gz+data/tinyshakespeare/input.txt';

/**
 * The default model of the SAE pipeline from issue 12 on: 6 layers × 128 wide, 4 heads of 32,
 * context 128, on Brown + tinyshakespeare (GPT-2 BPE restricted to the mix: vocab 33,719; 1.50M
 * training tokens). 1,400 steps of 16 × 128 tokens (≈ 1.9 epochs), lr 1e-3 → 1e-4 cosine after 50
 * warm-up steps (nanoGPT's small-model rate, as the tiny preset). Why this size and not 6 × 256:
 * the pilots (experiments/scripts/lm_pilots.ts, models/gpt2/README.md) found the narrow model ahead
 * per CPU-second at every budget they reached; width sets the cost (the 33,719-row tied LM head
 * is most of it), so 6 × 256 costs ≈ 2.4× per token for a budget of about one CPU-hour, and it
 * would double the main job's capture and evaluation time (its 15-minute limit) and the SAEs'
 * d_in. Depth is what the SAEs' hook needs: the middle hook blocks.3 has three blocks each side.
 */
export const MIX_MODEL_PRESET: Omit<TrainOptions, 'data' | 'out'> = {
  ...TINY_MODEL_PRESET,
  nLayer: 6,
  nHead: 4,
  nEmbd: 128,
  blockSize: 128,
  batchSize: 16,
  lr: 1e-3,
  minLr: 1e-4,
  iters: 1400,
  warmupIters: 50,
  decayIters: 1400,
  evalInterval: 100,
  evalIters: 20,
  checkpointInterval: 50,
};

export const PRESETS: Record<string, Omit<TrainOptions, 'data' | 'out'>> = {
  'nanogpt-char': NANOGPT_CHAR_PRESET,
  /** the default model of the SAE pipeline (data/default-model): the 6 × 128 Brown + tinyshakespeare one */
  default: MIX_MODEL_PRESET,
  /** the 4 × 128 tinyshakespeare model (data/tiny-model), kept for tests and quick checks */
  tiny: TINY_MODEL_PRESET,
  mix: MIX_MODEL_PRESET,
};

/** The corpus a preset is meant for (`lm train`'s --data default); others use tinyshakespeare. */
export const PRESET_CORPUS: Record<string, string> = { default: MIXED_CORPUS, mix: MIXED_CORPUS };
