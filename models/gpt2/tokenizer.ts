/**
 * Tokenizers for GPT-2 models:
 *  - `Gpt2BpeTokenizer`: GPT-2's byte-level BPE, exact, from js-tiktoken's bundled `gpt2` ranks
 *    (no network). Text is encoded as ordinary text: "<|endoftext|>" inside the text is not
 *    turned into the special token (like tiktoken's encode_ordinary), so any string round-trips.
 *  - `RestrictedBpeTokenizer`: the same BPE, then a mapping from the GPT-2 ids a corpus uses to
 *    dense ids 0..n-1, so a small model does not pay for 50,257 embedding rows it never sees.
 *  - `CharTokenizer`: one id per character of a fixed alphabet (nanoGPT's char-level setup).
 *
 * A model directory records its tokenizer in `gsae_vocab.json` (absent: full GPT-2 BPE):
 *   {"kind": "gpt2-restricted", "gpt2_ids": [g0, g1, ...]}   dense id i ↔ GPT-2 id g_i (sorted)
 *   {"kind": "char", "chars": ["\n", " ", "!", ...]}          id i ↔ chars[i]
 *   {"kind": "gpt2"}                                          the full vocabulary
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { writeFileAtomic } from './params.js';

export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_EOT = 50256;
export const VOCAB_FILE = 'gsae_vocab.json';

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

export interface Tokenizer {
  readonly kind: 'gpt2' | 'gpt2-restricted' | 'char';
  readonly vocabSize: number;
  /** The end-of-text id, if the vocabulary has one. */
  readonly eot: number | null;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** The JSON written to gsae_vocab.json. */
  toJson(): Record<string, unknown>;
}

let bpe: Tiktoken | null = null;
/** The shared GPT-2 BPE (building the rank table takes ~0.25 s, so it is done once). */
function gpt2Bpe(): Tiktoken {
  bpe ??= new Tiktoken(gpt2Ranks);
  return bpe;
}

export class Gpt2BpeTokenizer implements Tokenizer {
  readonly kind = 'gpt2' as const;
  readonly vocabSize = GPT2_VOCAB_SIZE;
  readonly eot = GPT2_EOT;
  encode(text: string): number[] {
    // allowedSpecial = [] and disallowedSpecial = []: special-token text is plain text.
    return gpt2Bpe().encode(text, [], []);
  }
  decode(ids: readonly number[]): string {
    for (const [i, id] of ids.entries()) {
      if (!Number.isInteger(id) || id < 0 || id >= GPT2_VOCAB_SIZE) throw new TokenizerError(`gpt2 decode: id ${id} at position ${i} is not a GPT-2 token (0..${GPT2_VOCAB_SIZE - 1})`);
    }
    return gpt2Bpe().decode([...ids]);
  }
  toJson(): Record<string, unknown> {
    return { kind: 'gpt2' };
  }
}

/** GPT-2 BPE followed by a dense renumbering of the GPT-2 ids a corpus uses. */
export class RestrictedBpeTokenizer implements Tokenizer {
  readonly kind = 'gpt2-restricted' as const;
  readonly vocabSize: number;
  readonly eot: number | null;
  private readonly toDense = new Map<number, number>();
  private readonly full = new Gpt2BpeTokenizer();

  /** `gpt2Ids[i]` is the GPT-2 id of dense id i (strictly increasing). */
  constructor(readonly gpt2Ids: readonly number[]) {
    if (gpt2Ids.length === 0) throw new TokenizerError('restricted vocabulary is empty');
    gpt2Ids.forEach((g, i) => {
      if (!Number.isInteger(g) || g < 0 || g >= GPT2_VOCAB_SIZE) throw new TokenizerError(`restricted vocabulary: entry ${i} (${g}) is not a GPT-2 id`);
      if (i > 0 && g <= gpt2Ids[i - 1]!) throw new TokenizerError(`restricted vocabulary: ids must be strictly increasing (entry ${i} = ${g} after ${gpt2Ids[i - 1]})`);
      this.toDense.set(g, i);
    });
    this.vocabSize = gpt2Ids.length;
    this.eot = this.toDense.get(GPT2_EOT) ?? null;
  }

  /** The vocabulary of every GPT-2 token in `texts`, plus end-of-text. */
  static fromCorpus(texts: readonly string[]): RestrictedBpeTokenizer {
    const full = new Gpt2BpeTokenizer();
    const used = new Set<number>([GPT2_EOT]);
    for (const t of texts) for (const id of full.encode(t)) used.add(id);
    return new RestrictedBpeTokenizer([...used].sort((a, b) => a - b));
  }

  encode(text: string): number[] {
    const ids = this.full.encode(text);
    return ids.map((g) => {
      const d = this.toDense.get(g);
      if (d === undefined) {
        throw new TokenizerError(
          `text contains the GPT-2 token ${g} (${JSON.stringify(this.full.decode([g]))}), which is not in this model's restricted vocabulary of ${this.vocabSize} tokens`,
        );
      }
      return d;
    });
  }

  decode(ids: readonly number[]): string {
    return this.full.decode(
      ids.map((d, i) => {
        const g = this.gpt2Ids[d];
        if (!Number.isInteger(d) || g === undefined) throw new TokenizerError(`decode: id ${d} at position ${i} is outside the restricted vocabulary (0..${this.vocabSize - 1})`);
        return g;
      }),
    );
  }

  toJson(): Record<string, unknown> {
    return { kind: 'gpt2-restricted', gpt2_ids: [...this.gpt2Ids] };
  }
}

/** One id per character (by code point), alphabet sorted like nanoGPT's `sorted(set(text))`. */
export class CharTokenizer implements Tokenizer {
  readonly kind = 'char' as const;
  readonly vocabSize: number;
  readonly eot = null;
  private readonly index = new Map<string, number>();

  constructor(readonly chars: readonly string[]) {
    if (chars.length === 0) throw new TokenizerError('char vocabulary is empty');
    chars.forEach((c, i) => {
      if ([...c].length !== 1) throw new TokenizerError(`char vocabulary: entry ${i} (${JSON.stringify(c)}) is not a single character`);
      if (this.index.has(c)) throw new TokenizerError(`char vocabulary: ${JSON.stringify(c)} appears twice`);
      this.index.set(c, i);
    });
    this.vocabSize = chars.length;
  }

  static fromCorpus(texts: readonly string[]): CharTokenizer {
    const set = new Set<string>();
    for (const t of texts) for (const c of t) set.add(c);
    // Code-point order, as Python's sorted() on str.
    return new CharTokenizer([...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const c of text) {
      const id = this.index.get(c);
      if (id === undefined) throw new TokenizerError(`character ${JSON.stringify(c)} is not in this model's ${this.vocabSize}-character vocabulary`);
      out.push(id);
    }
    return out;
  }

  decode(ids: readonly number[]): string {
    return ids
      .map((d, i) => {
        const c = this.chars[d];
        if (!Number.isInteger(d) || c === undefined) throw new TokenizerError(`decode: id ${d} at position ${i} is outside the char vocabulary (0..${this.vocabSize - 1})`);
        return c;
      })
      .join('');
  }

  toJson(): Record<string, unknown> {
    return { kind: 'char', chars: [...this.chars] };
  }
}

export function tokenizerFromJson(j: unknown, source = VOCAB_FILE): Tokenizer {
  const o = j as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw new TokenizerError(`${source}: expected a JSON object`);
  switch (o.kind) {
    case 'gpt2':
      return new Gpt2BpeTokenizer();
    case 'gpt2-restricted':
      if (!Array.isArray(o.gpt2_ids)) throw new TokenizerError(`${source}: 'gpt2_ids' must be an array of GPT-2 ids`);
      return new RestrictedBpeTokenizer(o.gpt2_ids as number[]);
    case 'char':
      if (!Array.isArray(o.chars) || !o.chars.every((c) => typeof c === 'string')) throw new TokenizerError(`${source}: 'chars' must be an array of strings`);
      return new CharTokenizer(o.chars as string[]);
    default:
      throw new TokenizerError(`${source}: unknown tokenizer kind ${JSON.stringify(o.kind)} (expected 'gpt2', 'gpt2-restricted' or 'char')`);
  }
}

/** The tokenizer of a model directory: gsae_vocab.json if present, else full GPT-2 BPE. */
export function loadTokenizer(dir: string): Tokenizer {
  const path = join(dir, VOCAB_FILE);
  if (!existsSync(path)) return new Gpt2BpeTokenizer();
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TokenizerError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return tokenizerFromJson(j, path);
}

/** Writes gsae_vocab.json beside a model (atomically). */
export function saveTokenizer(dir: string, tok: Tokenizer): void {
  writeFileAtomic(join(dir, VOCAB_FILE), `${JSON.stringify(tok.toJson())}\n`);
}
