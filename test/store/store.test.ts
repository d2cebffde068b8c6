import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { buildStore, type CaptureFn } from '../../sae/store/build.js';
import { StoreReader } from '../../sae/store/reader.js';
import { decodeShard, encodeShard } from '../../sae/store/shard.js';
import { assertDisjoint } from '../../sae/store/manifest.js';
import { StoreSource } from '../../sae/store/source.js';

/** A fake "model": activation = token-dependent vector, gradient = a different function of it. */
const D = 3;
const capture: CaptureFn = (tokens) => {
  const t = E.cast(tokens, 'float32');
  const acts = E.stack([t, E.mul(t, 2), E.add(t, 0.5)], -1);
  return { acts, grads: E.neg(acts) };
};

const corpus = Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 23);
const tmp = () => mkdtempSync(join(tmpdir(), 'gsae-store-'));
const opts = (dir: string, over = {}) => ({
  dir, hook: 'blocks.0.hook_resid_pre', tokens: corpus, source: 'test', range: [0, 100] as [number, number],
  seqLen: 8, batchSeqs: 2, seqsPerShard: 3, withGrad: true, modelId: 'fake', capture, ...over,
});

describe('activation-and-gradient store', () => {
  it('shard encoding round-trips (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), (rows, d, withG) => {
        const x = Float32Array.from({ length: rows * d }, (_, i) => i * 0.5 - 1);
        const g = withG ? Float32Array.from({ length: rows * d }, (_, i) => -i) : null;
        const back = decodeShard(encodeShard({ rows, d, x, g }), 'mem');
        expect(back.rows).toBe(rows);
        expect(Array.from(back.x)).toEqual(Array.from(x));
        expect(back.g ? Array.from(back.g) : null).toEqual(g ? Array.from(g) : null);
      }),
      { numRuns: 30 },
    );
  });

  it('what is written is what is read, in order, with disjoint ranges', () => {
    const dir = tmp();
    try {
      const m = buildStore(opts(dir));
      expect(m.complete).toBe(true);
      expect(m.totalSeqs).toBe(12); // floor(100 / 8)
      const r = new StoreReader(dir);
      const xs: number[] = [];
      const gs: number[] = [];
      for (const b of r.sequential(5)) {
        xs.push(...b.x);
        gs.push(...b.g!);
      }
      const want: number[] = [];
      for (let i = 0; i < 96; i++) want.push(corpus[i]!, 2 * corpus[i]!, corpus[i]! + 0.5);
      expect(xs).toEqual(want);
      expect(gs).toEqual(want.map((v) => -v));
      expect(() => assertDisjoint(m.tokens, { source: 'test', start: 90, end: 150 })).toThrow(/overlap: tokens \[0, 100\) and \[90, 150\)/);
      expect(() => assertDisjoint(m.tokens, { source: 'test', start: 100, end: 150 })).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('an interrupted build resumes and equals an uninterrupted one', () => {
    const a = tmp();
    const b = tmp();
    try {
      buildStore(opts(a));
      let calls = 0;
      const failing: CaptureFn = (t) => {
        if (++calls === 4) throw new Error('killed');
        return capture(t);
      };
      expect(() => buildStore(opts(b, { capture: failing }))).toThrow('killed');
      expect(() => new StoreReader(b)).toThrow(/incomplete/);
      buildStore(opts(b));
      for (const f of readdirSync(a)) expect(readFileSync(join(b, f))).toEqual(readFileSync(join(a, f)));
      expect(() => buildStore(opts(b, { hook: 'blocks.1.hook_resid_pre' }))).toThrow(/other settings \(hook/);
    } finally {
      rmSync(a, { recursive: true });
      rmSync(b, { recursive: true });
    }
  });

  it('shuffled stream is deterministic per seed and serves only stored rows', () => {
    const dir = tmp();
    try {
      buildStore(opts(dir));
      const r = new StoreReader(dir);
      const take = (seed: number, n: number) => {
        const out: number[][] = [];
        const it = r.shuffled(4, seed, 16);
        for (let i = 0; i < n; i++) out.push(Array.from(it.next().value!.x));
        return out;
      };
      const a = take(1, 30);
      expect(take(1, 30)).toEqual(a);
      expect(take(2, 30)).not.toEqual(a);
      const valid = new Set(corpus.slice(0, 96));
      for (const batch of a) {
        for (let i = 0; i < batch.length; i += D) {
          expect(valid.has(batch[i]!)).toBe(true);
          expect(batch[i + 1]).toBe(2 * batch[i]!);
        }
      }
      // the first epoch's worth of rows is a permutation-like mix: every batch is full
      expect(a.every((x) => x.length === 4 * D)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('validates shards: truncated, foreign, non-finite; bad ranges', () => {
    const dir = tmp();
    try {
      buildStore(opts(dir));
      const f = join(dir, 'shard_00000.bin');
      const bytes = readFileSync(f);
      writeFileSync(f, bytes.subarray(0, bytes.length - 4));
      expect(() => [...new StoreReader(dir).sequential(4)]).toThrow(/shard_00000.bin: shard is \d+ bytes but its header .* needs \d+ \(truncated\)/);
      writeFileSync(f, 'hello world, this is not a shard at all....');
      expect(() => [...new StoreReader(dir).sequential(4)]).toThrow(/not a gsae store shard/);
      const bad = encodeShard({ rows: 1, d: 1, x: Float32Array.of(NaN), g: null });
      expect(() => decodeShard(bad, 'x.bin')).toThrow(/x.bin: non-finite value at element 0/);
      expect(() => buildStore(opts(tmp(), { range: [0, 500] }))).toThrow(/not inside the corpus of 200 tokens/);
      expect(() => new StoreReader(tmp())).toThrow(/not an activation store/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('as a trainer source, a restored cursor continues the stream exactly', () => {
    const dir = tmp();
    try {
      buildStore(opts(dir));
      const a = new StoreSource(dir, 4, 7, 16);
      for (let i = 0; i < 5; i++) a.next(4);
      const state = JSON.parse(JSON.stringify(a.getState()));
      const rest = Array.from({ length: 6 }, () => Array.from(a.next(4).x));
      const b = new StoreSource(dir, 4, 7, 16);
      b.setState(state);
      expect(Array.from({ length: 6 }, () => Array.from(b.next(4).x))).toEqual(rest);
      expect(b.hasGrad).toBe(true);
      expect(b.dIn).toBe(D);
      // any request size is served from the same stream: 3 + 5 rows equal the next 8 of a fresh copy
      const c = new StoreSource(dir, 4, 7, 16);
      c.setState(b.getState());
      const odd = [...b.next(3).x, ...b.next(5).x];
      expect(odd).toEqual([...c.next(8).x]);
      expect(() => b.next(0)).toThrow(/cannot serve 0 rows/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
