/**
 * What `gsae sae eval` and `gsae steer` both need before they measure anything: the model (given
 * or the default), the SAE checked against it, the hook to splice at, and the corpus tokenised
 * with the model's own tokenizer. One place, so both commands refuse the same mistakes the same way.
 */
import type { LoadedModel } from '../../experiments/default_model.js';
import { defaultModel } from '../../experiments/default_model.js';
import { tokenizeCorpus, type TokenizedCorpus } from '../../models/gpt2/data.js';
import { loadSae, type SaeModel } from '../../sae/model.js';

export interface SaeContext {
  model: LoadedModel;
  sae: SaeModel;
  hook: string;
  corpus: TokenizedCorpus;
}

export async function openSaeContext(a: { sae: string; model?: string | undefined; hook?: string | undefined; cache: string }, log: (s: string) => void): Promise<SaeContext> {
  const model = checkTokenizer(await defaultModel({ model: a.model, cacheDir: a.cache, log }));
  const sae = loadSae(a.sae);
  const hook = a.hook ?? sae.spec.hookName;
  if (!hook) throw new Error(`${a.sae}: the SAE names no hook (cfg.json hook_name); pass --hook`);
  if (sae.spec.dIn !== model.cfg.n_embd) {
    throw new Error(`SAE ${a.sae} has d_in = ${sae.spec.dIn} but the model's d_model is ${model.cfg.n_embd}: they do not belong together`);
  }
  // the model's own corpus (train_summary.json), so a Brown + Shakespeare model is evaluated on its text
  const corpus = tokenizeCorpus(model.corpus, 'gpt2-restricted', 0.9, model.tokenizer);
  return { model, sae, hook, corpus };
}

/**
 * Refuses a model whose tokenizer can produce ids beyond its embedding (e.g. a restricted-vocabulary
 * model copied without gsae_vocab.json, which then falls back to the full GPT-2 BPE).
 */
export function checkTokenizer(model: LoadedModel): LoadedModel {
  if (model.tokenizer.vocabSize > model.cfg.vocab_size) {
    throw new Error(`model ${model.dir}: its tokenizer has ${model.tokenizer.vocabSize} tokens but config.json has vocab_size ${model.cfg.vocab_size} (a restricted-vocabulary model needs its gsae_vocab.json)`);
  }
  return model;
}
