/**
 * A store built from a mixed corpus ('a+b', as the default model's Brown + tinyshakespeare stores
 * are) has its token ids recovered from every part; a missing part is named. `gsae explore` on the
 * main job's run failed here before: the '+'-joined source was checked as one file name.
 */
import { describe, expect, it } from 'vitest';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { CORPUS } from '../../experiments/default_model.js';
import { storeTokens } from '../../experiments/features/inputs.js';
import type { StoreManifest } from '../../sae/store/manifest.js';
import { tinyModel } from './helpers.js';

const manifest = (source: string, start: number, seqs: number, seqLen: number) =>
  ({ tokens: { source, start, end: start + seqs * seqLen }, totalSeqs: seqs, seqLen }) as unknown as StoreManifest;

describe('features: token ids of a store built from a mixed corpus', () => {
  it('re-tokenises every part of an a+b corpus', () => {
    const { model } = tinyModel();
    const mixed = `${CORPUS}+${CORPUS}`;
    const want = tokenizeCorpus(mixed, 'gpt2-restricted', 0.9, model.tokenizer).val;
    const got = storeTokens(manifest(`${mixed}#val`, 64, 3, 16), model, 'store');
    expect(Array.from(got)).toEqual(Array.from(want.slice(64, 64 + 48)));
  });

  it('names the part that is missing', () => {
    const { model } = tinyModel();
    expect(() => storeTokens(manifest(`${CORPUS}+data/nowhere.txt#train`, 0, 1, 16), model, 'store')).toThrow(/its corpus data\/nowhere\.txt \(tokens\.source .*\) does not exist here/);
  });
});
