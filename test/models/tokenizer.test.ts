import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCorpusSplit } from '../../models/gpt2/data.js';
import {
  CharTokenizer,
  Gpt2BpeTokenizer,
  RestrictedBpeTokenizer,
  loadTokenizer,
  saveTokenizer,
} from '../../models/gpt2/tokenizer.js';

const CORPUS = 'data/tinyshakespeare/input.txt';

describe('GPT-2 byte-level BPE', () => {
  const tok = new Gpt2BpeTokenizer();

  it('gives the published GPT-2 ids', () => {
    // Ids from the GPT-2 vocabulary (openai/gpt-2 encoder.json): "Hello" 15496, " world" 995, "<|endoftext|>" 50256.
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.decode([50256])).toBe('<|endoftext|>');
    // Special-token text inside ordinary text is encoded as text, never as the special id.
    expect(tok.encode('<|endoftext|>')).not.toContain(50256);
  });

  it('round-trips arbitrary Unicode text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
      { numRuns: 300, seed: 3 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
      { numRuns: 300, seed: 4 },
    );
  });

  it('matches the token counts of the standard tinyshakespeare split', () => {
    // data/README.md: GPT-2 BPE gives 301,966 / 36,059 tokens on the 90/10 character split.
    const { train, val } = readCorpusSplit(CORPUS, 0.9);
    expect(tok.encode(train).length).toBe(301966);
    expect(tok.encode(val).length).toBe(36059);
  });

  it('rejects ids outside the vocabulary when decoding', () => {
    expect(() => tok.decode([50257])).toThrow(/50257.*not a GPT-2 token/);
  });
});

describe('restricted vocabulary', () => {
  const texts = ['To be, or not to be: that is the question.', 'Whether tis nobler in the mind'];
  const tok = RestrictedBpeTokenizer.fromCorpus(texts);
  const full = new Gpt2BpeTokenizer();

  it('maps the corpus tokens densely and round-trips the corpus', () => {
    const used = new Set(texts.flatMap((t) => full.encode(t)));
    expect(tok.vocabSize).toBe(used.size + 1); // + end-of-text
    for (const t of texts) {
      const ids = tok.encode(t);
      expect(ids.every((i) => i >= 0 && i < tok.vocabSize)).toBe(true);
      expect(tok.decode(ids)).toBe(t);
      // Dense ids map back to exactly the GPT-2 ids of the full tokenizer.
      expect(ids.map((i) => tok.gpt2Ids[i])).toEqual(full.encode(t));
    }
    expect(tok.eot).toBe(tok.gpt2Ids.indexOf(50256));
  });

  it('names a token outside the vocabulary', () => {
    expect(() => tok.encode('xylophone')).toThrow(/not in this model's restricted vocabulary/);
    expect(() => tok.decode([tok.vocabSize])).toThrow(/outside the restricted vocabulary/);
  });

  it('is saved beside a model and loaded back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gsae-tok-'));
    try {
      expect(loadTokenizer(dir).kind).toBe('gpt2'); // no file: full GPT-2
      saveTokenizer(dir, tok);
      const back = loadTokenizer(dir);
      expect(back.kind).toBe('gpt2-restricted');
      expect(back.encode(texts[0]!)).toEqual(tok.encode(texts[0]!));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses malformed mappings', () => {
    expect(() => new RestrictedBpeTokenizer([5, 3])).toThrow(/strictly increasing/);
    expect(() => new RestrictedBpeTokenizer([60000])).toThrow(/not a GPT-2 id/);
  });
});

describe('char-level tokenizer', () => {
  it('has the 65 symbols of tinyshakespeare and round-trips', () => {
    const { train, val } = readCorpusSplit(CORPUS, 0.9);
    // data/README.md: 65 symbols, 1,003,854 / 111,540 characters.
    expect(train.length).toBe(1003854);
    expect(val.length).toBe(111540);
    const tok = CharTokenizer.fromCorpus([train, val]);
    expect(tok.vocabSize).toBe(65);
    const sample = val.slice(0, 2000);
    expect(tok.decode(tok.encode(sample))).toBe(sample);
    expect(tok.encode('\n')).toEqual([0]); // '\n' is the smallest code point in the corpus
    expect(() => tok.encode('é')).toThrow(/not in this model's 65-character vocabulary/);
  });
});
