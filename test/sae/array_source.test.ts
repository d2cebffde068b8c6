/**
 * ArraySource.next copies whole in-order runs in one block and shuffled rows word by word; both
 * must give exactly the rows the definition names (epoch e's order = Rng(seed).fork('epoch:e')
 * .permutation(rows), or 0..rows-1 without shuffling), across epoch ends, bit for bit (NaN
 * payloads included), with the cursor where a row-by-row read leaves it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import { ArraySource } from '../../sae/data.js';

/** The rows a reader of `sizes` batches must get, one row at a time from the definition. */
function expectedRows(rows: number, seed: number, shuffle: boolean, total: number): number[] {
  const out: number[] = [];
  for (let e = 0; out.length < total; e++) {
    const perm = shuffle ? new E.Rng(seed).fork(`epoch:${e}`).permutation(rows) : Int32Array.from({ length: rows }, (_, i) => i);
    for (let p = 0; p < rows && out.length < total; p++) out.push(perm[p]!);
  }
  return out;
}

describe('ArraySource.next', () => {
  it('gives the defined rows, bit for bit, across epochs, in order and shuffled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }), // rows
        fc.integer({ min: 1, max: 5 }), // d
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 6 }),
        (rows, d, shuffle, withG, seed, sizes) => {
          // distinct bit patterns per word, some of them NaNs with payloads
          const xw = Uint32Array.from({ length: rows * d }, (_, i) => (i % 3 === 0 ? 0x7fc00000 + i + 1 : 0x3f800000 + i));
          const gw = Uint32Array.from({ length: rows * d }, (_, i) => 0xbf000000 + 7 * i);
          const x = new Float32Array(xw.buffer), g = new Float32Array(gw.buffer);
          const src = new ArraySource(x, d, withG ? g : null, { seed, shuffle });
          const want = expectedRows(rows, seed, shuffle, sizes.reduce((a, b) => a + b, 0));
          let at = 0;
          for (const n of sizes) {
            const b = src.next(n);
            expect(b.rows).toBe(n);
            const bx = new Uint32Array(b.x.buffer, b.x.byteOffset, b.x.length);
            const bg = b.g ? new Uint32Array(b.g.buffer, b.g.byteOffset, b.g.length) : null;
            expect(bg !== null).toBe(withG);
            for (let r = 0; r < n; r++) {
              const s = want[at + r]!;
              expect(Array.from(bx.subarray(r * d, r * d + d))).toEqual(Array.from(xw.subarray(s * d, s * d + d)));
              if (bg) expect(Array.from(bg.subarray(r * d, r * d + d))).toEqual(Array.from(gw.subarray(s * d, s * d + d)));
            }
            at += n;
          }
          // the cursor: epoch and position of a row-by-row reader (an exact epoch end stays at pos = rows)
          const st = src.getState() as { epoch: number; pos: number };
          expect(st.epoch * rows + st.pos).toBe(at);
          expect(st.pos).toBeGreaterThan(0);
          expect(st.pos).toBeLessThanOrEqual(rows);
        },
      ),
      { numRuns: 200 },
    );
  });
});
