/**
 * The default model of the SAE pipeline. Looked up, in order: an explicit directory; the copy
 * shipped in the repo (`data/default-model/`); a cached one (`.cache/default-model/`); otherwise
 * it is trained with the DEFAULT_PRESET preset (GPT-2 architecture, GPT-2 BPE restricted to the
 * corpus' tokens) into the cache, resuming if a previous attempt was cut off.
 *
 * The default is the 'mix' preset (6 × 128 on Brown + tinyshakespeare, shipped since issue 12);
 * the earlier 4 × 128 tinyshakespeare model ('tiny') ships in data/tiny-model/ for the tests.
 * A model's corpus is the one its train_summary.json names, so stores and held-out evaluation
 * always come from the text the model was trained on (tinyshakespeare when it names none).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { loadHfDir, type Gpt2Params } from '../models/gpt2/params.js';
import type { Gpt2Config } from '../models/gpt2/config.js';
import { loadTokenizer, type Tokenizer } from '../models/gpt2/tokenizer.js';
import { train } from '../models/gpt2/train.js';
import { PRESETS, PRESET_CORPUS } from '../models/gpt2/presets.js';
import { Progress } from '../engine/io/progress.js';

export const SHIPPED_MODEL = 'data/default-model';
/** The 4 × 128 tinyshakespeare model (`lm train --preset tiny`): what the tests use, whatever the default is. */
export const TINY_MODEL = 'data/tiny-model';
export const CORPUS = 'data/tinyshakespeare/input.txt';
/** The `lm train` preset the default model is trained with when neither the shipped nor a cached copy exists. */
export const DEFAULT_PRESET: 'tiny' | 'mix' = 'mix';

export interface LoadedModel {
  dir: string;
  cfg: Gpt2Config;
  params: Gpt2Params;
  tokenizer: Tokenizer;
  /** path + digest of the weights file, so caches never mix models */
  id: string;
  /** the corpus the model was trained on (its train_summary.json), which stores are built from */
  corpus: string;
}

/** The training corpus a model directory records (train_summary.json options.data), else tinyshakespeare. */
export function modelCorpus(dir: string): string {
  const f = join(dir, 'train_summary.json');
  if (!existsSync(f)) return CORPUS;
  const data = (JSON.parse(readFileSync(f, 'utf8')) as { options?: { data?: unknown } }).options?.data;
  return typeof data === 'string' && data.length > 0 ? data : CORPUS;
}

export function loadModelDir(dir: string): LoadedModel {
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`model directory ${dir} has no config.json (expected an HF GPT-2 directory)`);
  const { cfg, params } = loadHfDir(dir);
  const tokenizer = loadTokenizer(dir);
  const digest = createHash('sha256').update(readFileSync(join(dir, 'model.safetensors'))).digest('hex').slice(0, 16);
  return { dir, cfg, params, tokenizer, id: `gpt2-${digest}`, corpus: modelCorpus(dir) };
}

export async function defaultModel(opts: { model?: string; cacheDir: string; log: (s: string) => void }): Promise<LoadedModel> {
  if (opts.model) return loadModelDir(resolve(opts.model));
  if (existsSync(join(SHIPPED_MODEL, 'config.json'))) return loadModelDir(SHIPPED_MODEL);
  const cached = join(opts.cacheDir, (DEFAULT_PRESET as string) === 'tiny' ? 'default-model' : `default-model-${DEFAULT_PRESET}`);
  if (existsSync(join(cached, 'config.json')) && existsSync(join(cached, 'DONE'))) return loadModelDir(cached);
  opts.log(`no default model found (${SHIPPED_MODEL} or ${cached}); training one with the '${DEFAULT_PRESET}' preset`);
  let bar: Progress | null = null;
  const res = await train(
    { ...PRESETS[DEFAULT_PRESET]!, data: PRESET_CORPUS[DEFAULT_PRESET] ?? CORPUS, out: cached },
    {
      onStart: (i) => { bar = new Progress({ total: i.iters, label: 'default model', start: i.step }); },
      onStep: (s) => bar?.update({ done: s.step, loss: s.loss, tokensPerItem: s.tokensPerStep }),
      onEval: (e) => bar?.log(`step ${e.step}: train ${e.trainLoss.toFixed(4)}, val ${e.valLoss.toFixed(4)}`),
    },
    { resume: true },
  );
  (bar as Progress | null)?.finish(`val loss ${res.valLoss?.toFixed(4)}`);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(cached, 'DONE'), JSON.stringify({ valLoss: res.valLoss, steps: res.step }) + '\n');
  return loadModelDir(cached);
}
