/**
 * The Brown corpus cleaner (experiments/scripts/brown_corpus.ts), the shipped cleaned text, and
 * reading gzip'd and mixed corpora.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { cleanTaggedText, detokenize, interleaveByGenre, stripTag } from '../../experiments/scripts/brown_corpus.js';
import { readCorpusSplit } from '../../models/gpt2/data.js';

describe('Brown corpus cleaning', () => {
  it('strips tags at the last slash and names a token without one', () => {
    expect(stripTag('Atlanta\'s/np$')).toBe("Atlanta's");
    expect(stripTag('1-1/2/cd')).toBe('1-1/2');
    expect(stripTag('Mayor-nominate/nn-tl')).toBe('Mayor-nominate');
    expect(() => stripTag('word')).toThrow(/"word" has no '\/tag'/);
  });

  it('detokenises the first sentence of ca01 to ordinary spacing', () => {
    const tagged = "\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd ``/`` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n\n\n\t``/`` Only/rb a/at handful/nn ''/'' ,/, the/at jury/nn said/vbd (/( in/in part/nn )/) ;/. $/$ 60/cd ./.\n";
    expect(cleanTaggedText(tagged)).toEqual([
      'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
      '"Only a handful", the jury said (in part); $60.',
    ]);
    expect(detokenize([])).toBe('');
  });

  it('interleaves texts by their position within their genre', () => {
    const files = ['ca01', 'ca02', 'ca03', 'ca04', 'cb01', 'cb02'];
    // positions: ca 1/8, 3/8, 5/8, 7/8; cb 1/4, 3/4
    expect(interleaveByGenre(files)).toEqual(['ca01', 'cb01', 'ca02', 'ca03', 'cb02', 'ca04']);
  });

  it('the shipped text has 500 texts, no tags left, and every genre in both splits', () => {
    const text = gunzipSync(readFileSync('data/brown/brown.txt.gz')).toString('utf8');
    expect(text.split('\n\n')).toHaveLength(500);
    expect(text).not.toMatch(/[A-Za-z]\/(?:nn|vbd?|at|in|jj|np|cc|rb)\b/);
    // quote tokens became ", but inch marks inside numbers (4' 10'') are text and stay
    expect(text).not.toMatch(/``|(?:^|\s)''/m);
    // 'Fulton County Grand Jury' (press, ca01) is early in its genre: in the training 90%;
    // the last press text (ca44) sits in the last 10%
    const { train, val } = readCorpusSplit('data/brown/brown.txt.gz', 0.9);
    expect(train).toContain('The Fulton County Grand Jury said Friday');
    expect(train.length + val.length).toBe(text.length);
  });
});

describe('gzip and mixed corpora', () => {
  it('a .gz corpus reads as its text, and a+b splits each part on its own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gsae-corpus-'));
    try {
      const a = join(dir, 'a.txt.gz');
      const b = join(dir, 'b.txt');
      writeFileSync(a, gzipSync(Buffer.from('0123456789', 'utf8')));
      writeFileSync(b, 'abcdefghijklmnopqrst');
      expect(readCorpusSplit(a, 0.9)).toEqual({ train: '012345678', val: '9' });
      expect(readCorpusSplit(`${a}+${b}`, 0.9)).toEqual({ train: '012345678\nabcdefghijklmnopqr', val: '9\nst' });
      expect(() => readCorpusSplit(`${a}+${join(dir, 'missing.txt')}`, 0.9)).toThrow(/missing\.txt' does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
