/**
 * gather / scatterAdd / takeAlongAxis / scatterAddAlongAxis / topkIndices on wasm against the
 * reference: any axis, repeated indices, out-of-range indices (same error), topk ties (lower index
 * first), ±Inf and NaN (same error).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import { backend, setBackend } from '../../../engine/engine.js';
import { errorOn, expectClose, expectNoFallback, on, randn, WASM, WASM_1T } from './helpers.js';

const REF = 'reference';
const SEED = 4242;
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/** topkIndices of x [rows, n] on wasm (two threads and one) against the reference: the same error (a NaN), else the same indices. */
function expectTopkAsReference(x: Float32Array, rows: number, n: number, k: number, label: string): void {
  const build = () => E.topkIndices(E.tensor(x, [rows, n]), k);
  const want = errorOn(REF, build);
  for (const be of [WASM, WASM_1T]) {
    expect(errorOn(be, build), `${label} on ${be}`).toBe(want);
    if (want === null) expectClose(on(be, build)[0]!, on(REF, build)[0]!, {}, `${label} on ${be}`);
  }
}

describe('wasm indexing ops match the reference', () => {
  afterAll(() => expectNoFallback(['gather', 'scatterAdd', 'takeAlongAxis', 'scatterAddAlongAxis', 'topkIndices'], [WASM]));

  it('gather and scatterAdd along any axis, with repeated indices', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.array(fc.nat(), { minLength: 0, maxLength: 7 }),
        fc.integer(),
        (s, axisRaw, idxRaw, seed) => {
          const axis = axisRaw % s.length;
          const idx = Int32Array.from(idxRaw, (i) => i % s[axis]!);
          const x = randn(size(s), seed);
          const gShape = [...s.slice(0, axis), idx.length, ...s.slice(axis + 1)];
          const u = randn(size(gShape), seed + 1);
          const build = () => [
            E.gather(E.tensor(x, s), E.tensor(idx, [idx.length], 'int32'), axis),
            E.scatterAdd(E.tensor(x, s), E.tensor(idx, [idx.length], 'int32'), E.tensor(u, gShape), axis),
            E.gather(E.tensor(Int32Array.from(x, (v) => v * 100), s, 'int32'), E.tensor(idx, [idx.length], 'int32'), axis),
          ];
          const ref = on(REF, build);
          on(WASM, build).forEach((g, i) => expectClose(g, ref[i]!, {}, `case ${i} [${s}] axis ${axis}`));
        },
      ),
      { numRuns: 50, seed: SEED },
    );
  });

  it('takeAlongAxis and scatterAddAlongAxis along any axis', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 0, max: 5 }), fc.integer(), (s, axisRaw, m, seed) => {
        const axis = axisRaw % s.length;
        const iShape = s.map((d, i) => (i === axis ? m : d));
        const idx = Int32Array.from(randn(size(iShape), seed), (v) => Math.abs(Math.round(v * 10)) % s[axis]!);
        const x = randn(size(s), seed + 1), u = randn(size(iShape), seed + 2);
        const build = () => [
          E.takeAlongAxis(E.tensor(x, s), E.tensor(idx, iShape, 'int32'), axis),
          E.scatterAddAlongAxis(E.tensor(x, s), E.tensor(idx, iShape, 'int32'), E.tensor(u, iShape), axis),
        ];
        const ref = on(REF, build);
        on(WASM, build).forEach((g, i) => expectClose(g, ref[i]!, {}, `case ${i} [${s}] axis ${axis}`));
      }),
      { numRuns: 50, seed: SEED },
    );
  });

  it('scatterAdd of many values into a vector (wasm float32 adds in order) equals the reference bit for bit', () => {
    // an SAE's per-latent sums: 32,768 updates into 4,096 slots, every slot hit many times;
    // magnitudes from 1e-30 to 1e30 make the order and the rounding of each add visible
    const n = 4096, m = 32768;
    const idx = Int32Array.from(randn(m, 21), (v, j) => (Math.abs(Math.round(v * 1e4)) + j * 7) % n);
    const upd = Float32Array.from(randn(m, 22), (v, j) => v * 10 ** ((j % 61) - 30));
    const x = randn(n, 23);
    const build = () => E.scatterAdd(E.tensor(x, [n]), E.tensor(idx, [m], 'int32'), E.tensor(upd, [m]));
    expect(on(WASM, build)[0]!.data).toEqual(on(REF, build)[0]!.data);
    const bad = () => E.scatterAdd(E.tensor(x, [n]), E.tensor(Int32Array.from(idx, (i, j) => (j === 20_000 ? n : i)), [m], 'int32'), E.tensor(upd, [m]));
    expect(errorOn(WASM, bad)).toBe(errorOn(REF, bad));
  });

  it('takeAlongAxis on the last axis at SAE size (two threads) moves the exact words, float32 and int32', () => {
    const [B, n, m] = [600, 517, 33]; // B·m ≥ 2 · 8192: two threads
    const idx = Int32Array.from(randn(B * m, 7), (v, i) => (Math.abs(Math.round(v * 1e4)) + i) % n);
    // NaNs with payloads and -0 must come through as words
    const xw = Uint32Array.from(randn(B * n, 8), (v, i) => (i % 97 === 0 ? 0x7fa00000 + i : i % 89 === 0 ? 0x80000000 : new Uint32Array(Float32Array.of(v).buffer)[0]!));
    const xf = new Float32Array(xw.buffer), xi = new Int32Array(xw.buffer);
    const build = () => [E.takeAlongAxis(E.tensor(xf, [B, n]), E.tensor(idx, [B, m], 'int32'), -1), E.takeAlongAxis(E.tensor(xi, [B, n], 'int32'), E.tensor(idx, [B, m], 'int32'), 1)];
    const want = Uint32Array.from({ length: B * m }, (_, p) => xw[Math.floor(p / m) * n + idx[p]!]!);
    // wasm moves words (payloads kept); the reference holds numbers, so it is compared by value
    const got = (be: string): number[][] => {
      const prev = backend().name;
      setBackend(be);
      try {
        return E.tidy(() => build().map((t) => {
          const a = t.toArray();
          if (be === WASM) expect(new Uint32Array(a.buffer, a.byteOffset, a.length), `wasm ${t.dtype}`).toEqual(want);
          return Array.from(a);
        }));
      } finally {
        setBackend(prev);
      }
    };
    expect(got(REF)).toEqual(got(WASM));
    // the first bad index in reading order is the one named, as on the reference
    const bad = Int32Array.from(idx);
    bad[200 * m + 5] = n + 3;
    bad[250 * m + 1] = -1;
    const err = (be: string) => errorOn(be, () => E.takeAlongAxis(E.tensor(xf, [B, n]), E.tensor(bad, [B, m], 'int32'), 1));
    expect(err(WASM)).toBe(err(REF));
    expect(err(WASM)).toMatch(/index 520 is out of range for axis 1 of size 517/);
  });

  it('out-of-range indices throw the same error as the reference', () => {
    const cases: (() => unknown)[] = [
      () => E.gather(E.zeros([4, 3]), E.tensor([1, 4, -1], [3], 'int32')),
      () => E.scatterAdd(E.zeros([4, 3]), E.tensor([-1], [1], 'int32'), E.zeros([1, 3])),
      () => E.takeAlongAxis(E.zeros([2, 3]), E.tensor([[0], [3]], [2, 1], 'int32'), 1),
      () => E.scatterAddAlongAxis(E.zeros([2, 3]), E.tensor([[5], [0]], [2, 1], 'int32'), E.zeros([2, 1]), 1),
    ];
    for (const c of cases) {
      const want = errorOn(REF, c);
      expect(want).toMatch(/out of range/);
      expect(errorOn(WASM, c)).toBe(want);
    }
  });

  it('topk: ties to the lower index, ±Inf, ±0, k = 0 and k = n (property)', () => {
    // few distinct values so that ties are common
    const val = fc.constantFrom(-Infinity, -1, -0, 0, 0.5, 2, Infinity);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 40 }), fc.nat(), fc.array(val, { minLength: 160, maxLength: 160 }), (rows, n, kRaw, vals) => {
        const k = n === 0 ? 0 : kRaw % (n + 1);
        const x = Float32Array.from(vals.slice(0, rows * n));
        const build = () => E.topkIndices(E.tensor(x, [rows, n]), k);
        expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, `topk rows ${rows} n ${n} k ${k}`);
      }),
      { numRuns: 80, seed: SEED },
    );
  });

  it('topk with the block screen (n ≥ 16k): ties, ±Inf, ±0, NaN anywhere, rows with blocks far below the rest (property)', () => {
    // blocks whose max is below the k-th largest block max are skipped whole: the selection and
    // the first NaN reported must still be the reference's
    const val = fc.constantFrom(-Infinity, -3, -1, -0, 0, 0.5, 2, 7, Infinity);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 64, max: 700 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(val, { minLength: 64, maxLength: 64 }),
        fc.nat(),
        fc.option(fc.nat(), { nil: undefined }),
        (rows, n, kRaw, vals, seed, nanAt) => {
          const k = Math.min(kRaw, Math.floor(n / 16));
          // a row: runs of one value, most of them low (so most blocks are skippable), some high
          const x = Float32Array.from({ length: rows * n }, (_, i) => {
            const run = Math.floor(((i * 2654435761 + seed) >>> 0) / 2 ** 32 * 64);
            const v = vals[(run + Math.floor(i / 23)) % 64]!;
            return (i + seed) % 7 === 0 ? v : Math.min(v, -1);
          });
          if (nanAt !== undefined) x[nanAt % x.length] = NaN;
          expectTopkAsReference(x, rows, n, k, `topk rows ${rows} n ${n} k ${k} NaN at ${nanAt === undefined ? '-' : nanAt % x.length}`);
        },
      ),
      { numRuns: 120, seed: SEED },
    );
  });

  it('topk fast path (block threshold by keys, vector compaction, rank counting): distinct values, ties at the threshold, ±0, ±Inf, tails, NaN anywhere (property)', () => {
    // mostly distinct values, so that few latents pass the threshold and the rank-counting path
    // runs (many ties send a row to the heap path instead); n not a multiple of the block size
    // leaves a tail that is compacted one latent at a time
    const special = fc.constantFrom(-Infinity, -0, 0, 1.5, Infinity);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 16, max: 900 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer(),
        fc.array(fc.tuple(fc.nat(), special), { maxLength: 12 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.boolean(),
        (rows, n, kRaw, seed, specials, nanAt, negate) => {
          const k = Math.max(1, Math.min(kRaw, Math.floor(n / 16)));
          const x = Float32Array.from(randn(rows * n, seed), (v) => (negate ? -Math.abs(v) : v));
          // copies of a row's largest value (ties at the top, often at the threshold) and specials
          for (let r = 0; r < rows; r++) {
            let best = 0;
            for (let i = 1; i < n; i++) if (x[r * n + i]! > x[r * n + best]!) best = i;
            x[r * n + ((best * 7 + seed) >>> 0) % n] = x[r * n + best]!;
          }
          for (const [at, v] of specials) x[at % x.length] = v;
          if (nanAt !== undefined) x[nanAt % x.length] = NaN;
          expectTopkAsReference(x, rows, n, k, `topk rows ${rows} n ${n} k ${k} NaN at ${nanAt === undefined ? '-' : nanAt % x.length}`);
        },
      ),
      { numRuns: 150, seed: SEED },
    );
  });

  it('topk with a large k (radix selection): ties, ±Inf, ±0, subnormals, NaN anywhere, k up to n (property)', () => {
    // k ≥ 64 with n ≤ 64·k goes to kernels/topk_radix.ts: keys from the float bits, three
    // histogram passes, a stable radix sort; −0 and +0 must tie (lower index first) as in the reference
    const val = fc.constantFrom(-Infinity, -3, -1e-40, -0, 0, 1e-40, 0.5, 2, 7, 3.4e38, Infinity);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 64, max: 3000 }),
        fc.nat(),
        fc.array(val, { minLength: 64, maxLength: 64 }),
        fc.nat(),
        fc.option(fc.nat(), { nil: undefined }),
        fc.boolean(),
        (rows, n, kRaw, vals, seed, nanAt, smooth) => {
          const k = 64 + (kRaw % (n - 63));
          // tie-heavy values from the set, or distinct values (every key bit matters)
          const x = Float32Array.from({ length: rows * n }, (_, i) =>
            smooth ? Math.sin(i * 12.9898 + seed) * 1e3 : vals[((i * 2654435761 + seed) >>> 0) % 64]!,
          );
          if (nanAt !== undefined) x[nanAt % x.length] = NaN;
          const build = () => E.topkIndices(E.tensor(x, [rows, n]), k);
          const label = `topk rows ${rows} n ${n} k ${k} ${smooth ? 'distinct' : 'ties'} NaN at ${nanAt === undefined ? '-' : nanAt % x.length}`;
          const want = errorOn(REF, build);
          for (const be of [WASM, WASM_1T]) {
            expect(errorOn(be, build), `${label} on ${be}`).toBe(want);
            if (want === null) expect(on(be, build)[0]!.data, `${label} on ${be}`).toEqual(on(REF, build)[0]!.data);
          }
        },
      ),
      { numRuns: 80, seed: SEED },
    );
    // BatchTopK's shape of problem: one long row, k a sizeable share of it
    const x = randn(1 << 18, 5);
    const build = () => E.topkIndices(E.tensor(x, [1, 1 << 18]), 8192);
    expect(on(WASM, build)[0]!.data).toEqual(on(REF, build)[0]!.data);
  });

  it('topk of one long row split over threads (radix passes per range, lists joined in order): ties, ±0, NaN (property)', () => {
    // rows < threads and n ≥ 2¹⁶: each pass runs on both threads' halves of the row
    fc.assert(
      fc.property(fc.integer({ min: 1 << 16, max: 140_000 }), fc.nat(5000), fc.nat(), fc.option(fc.nat(), { nil: undefined }), fc.boolean(), (n, kExtra, seed, nanAt, ties) => {
        const k = Math.min(n, Math.ceil(n / 64) + kExtra);
        const x = Float32Array.from({ length: n }, (_, i) => (ties ? [-Infinity, -1, -0, 0, 0.25, 3, Infinity][((i * 2654435761 + seed) >>> 0) % 7]! : Math.sin(i * 7.31 + seed)));
        if (nanAt !== undefined) x[nanAt % n] = NaN;
        const build = () => E.topkIndices(E.tensor(x, [1, n]), k);
        const want = errorOn(REF, build);
        const label = `topk n ${n} k ${k} ${ties ? 'ties' : 'distinct'} NaN at ${nanAt === undefined ? '-' : nanAt % n}`;
        for (const be of [WASM, WASM_1T]) {
          expect(errorOn(be, build), `${label} on ${be}`).toBe(want);
          if (want === null) expect(on(be, build)[0]!.data, `${label} on ${be}`).toEqual(on(REF, build)[0]!.data);
        }
      }),
      { numRuns: 10, seed: SEED },
    );
    // a NaN in each half: the first in index order is the one reported
    const n = 100_000, x = randn(n, 9);
    x[30_000] = NaN;
    x[80_000] = NaN;
    const build = () => E.topkIndices(E.tensor(x, [1, n]), 4096);
    expect(errorOn(WASM, build)).toBe(errorOn(REF, build));
    expect(errorOn(WASM, build)).toMatch(/row 0 contains NaN at position 30000/);
  });

  it('topk on SAE-sized rows, and NaN rows throw the reference error', () => {
    const x = randn(64 * 4096, 3);
    const build = () => E.topkIndices(E.tensor(x, [64, 4096]), 32);
    expectClose(on(WASM, build)[0]!, on(REF, build)[0]!, {}, 'topk 64x4096 k 32');
    const nan = () => E.topkIndices(E.tensor([[1, 2, 3], [4, NaN, 6]]), 0);
    expect(errorOn(WASM, nan)).toBe(errorOn(REF, nan));
    expect(errorOn(WASM, nan)).toMatch(/row 1 contains NaN at position 1/);
  });
});
