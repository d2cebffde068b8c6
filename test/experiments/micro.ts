/** Shared pieces of the runner's end-to-end tests: a 1-layer GPT-2 trained for two steps, and a suite sized to match it. */
import { join } from 'node:path';
import { train } from '../../models/gpt2/train.js';
import { TINY_MODEL_PRESET } from '../../models/gpt2/presets.js';
import { getSuite, suitePreset, type SuiteConfig } from '../../experiments/suites.js';

/** Trains a 1-layer, 16-wide GPT-2 for two steps into `<dir>/model` and returns that folder. */
export async function trainMicroModel(dir: string): Promise<string> {
  const modelDir = join(dir, 'model');
  await train({ ...TINY_MODEL_PRESET, data: 'data/tinyshakespeare/input.txt', out: modelDir, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16, batchSize: 2, iters: 2, evalInterval: 2, evalIters: 1, checkpointInterval: 0 });
  return modelDir;
}

/** A suite's quick (or named) preset scaled down to the micro model: 16-token sequences, 256-row batches. */
export function microSuiteConfig(suite: string, over: Partial<SuiteConfig> & Pick<SuiteConfig, 'runs'>, preset: 'quick' | 'paper' = 'quick'): SuiteConfig {
  return {
    ...suitePreset(getSuite(suite), preset),
    hook: 'blocks.0.hook_resid_post',
    expansion: 2,
    seqLen: 16,
    trainTokens: 256 * 2,
    batchSize: 256,
    storeTrainTokens: 1024,
    evalTokens: 256,
    steering: { latents: 2, c: 1, topN: 3, contexts: 1 },
    seeds: [0, 1],
    ...over,
  };
}
