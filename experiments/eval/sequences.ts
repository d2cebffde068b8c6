/** Held-out token sequences as engine batches (the runner's evaluation and the analyses share them). */
import * as E from '../../engine/index.js';

/** Splits a token array into [n, T] int32 batches of `per` sequences. */
export function sequenceBatches(tokens: Int32Array, T: number, nTokens: number, per: number): E.Tensor[] {
  const nSeq = Math.floor(Math.min(nTokens, tokens.length) / T);
  const out: E.Tensor[] = [];
  for (let s = 0; s < nSeq; s += per) {
    const n = Math.min(per, nSeq - s);
    out.push(E.keep(E.tensor(tokens.slice(s * T, (s + n) * T), [n, T], 'int32')));
  }
  return out;
}
