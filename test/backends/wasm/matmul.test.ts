/**
 * The wasm GEMM against the reference: all four transpose combinations, batched with broadcast
 * batch dims, ragged sizes (not multiples of the 6×8 register tile), size-1 and empty dims, K = 0;
 * a backend with tiny cache blocks (KC 16, MC 12, NC 16) exercises every blocking edge on small
 * matrices; results must not depend on the number of threads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import { expectClose, expectNoFallback, on, randn, WASM, WASM_1T, WASM_SMALL_BLOCKS, wasmVariant, type Result } from './helpers.js';

const NO_RELAXED = wasmVariant('wasm-no-relaxed-gemv', { threads: 2, relaxed: false });

const REF = 'reference';

/** Tolerance of a float32 dot product of length K: relative to Σ|a_k b_k| (summation order differs). */
function dotScale(a: Float32Array, b: Float32Array, M: number, K: number, N: number, tA: boolean, tB: boolean, batchA: number, batchB: number, nb: number): number[] {
  const out: number[] = [];
  for (let bi = 0; bi < nb; bi++) {
    const ao = (batchA === 1 ? 0 : bi) * M * K, bo = (batchB === 1 ? 0 : bi) * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += Math.abs(a[ao + (tA ? k * M + i : i * K + k)]! * b[bo + (tB ? j * K + k : k * N + j)]!);
        out.push(s);
      }
    }
  }
  return out;
}

function check(M: number, K: number, N: number, tA: boolean, tB: boolean, nbA: number, nbB: number, backends: string[], seed: number): void {
  const nb = Math.max(nbA, nbB);
  const a = randn(nbA * M * K, seed), b = randn(nbB * K * N, seed + 1);
  const sa = [...(nbA > 1 || nbB > 1 ? [nbA] : []), ...(tA ? [K, M] : [M, K])];
  const sb = [...(nbA > 1 || nbB > 1 ? [nbB] : []), ...(tB ? [N, K] : [K, N])];
  const build = () => E.matmul(E.tensor(a, sa), E.tensor(b, sb), tA, tB);
  const ref = on(REF, build)[0]!;
  const scale = dotScale(a, b, M, K, N, tA, tB, nbA, nbB, nb);
  const tol = { rel: (K + 2) * 2 ** -23, scale, atol: 1e-30 };
  for (const be of backends) expectClose(on(be, build)[0]!, ref, tol, `matmul ${M}x${K}x${N} tA=${tA} tB=${tB} batch ${nbA}/${nbB} on ${be}`);
}

describe('wasm matmul matches the reference', () => {
  afterAll(() => expectNoFallback(['matmul'], [WASM, WASM_1T, WASM_SMALL_BLOCKS]));

  it('ragged sizes, all transposes, broadcast batches (property)', () => {
    const d = fc.integer({ min: 0, max: 40 });
    fc.assert(
      fc.property(d, d, d, fc.boolean(), fc.boolean(), fc.constantFrom([1, 1], [3, 3], [1, 4], [4, 1]), fc.integer(), (M, K, N, tA, tB, [nbA, nbB], seed) => {
        check(M, K, N, tA, tB, nbA!, nbB!, [WASM, WASM_1T, WASM_SMALL_BLOCKS], seed);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('sizes that cross the cache blocks of the default kernel (K > 256, M > 96), threaded', () => {
    check(203, 300, 77, false, false, 1, 1, [WASM, WASM_1T], 1);
    check(130, 257, 199, true, true, 1, 1, [WASM], 2);
    check(37, 520, 261, false, true, 1, 1, [WASM], 3);
    check(97, 64, 45, true, false, 5, 5, [WASM], 4); // batch split over threads
  });

  it('size-1 dims, vectors, rank-4 batches and broadcasting of leading dims', () => {
    const x = randn(2 * 3 * 5 * 4, 9), w = randn(4 * 6, 10), v = randn(4, 11);
    const cases: [string, () => E.Tensor][] = [
      ['rank-4 @ matrix', () => E.matmul(E.tensor(x, [2, 3, 5, 4]), E.tensor(w, [4, 6]))],
      ['row vector', () => E.matmul(E.tensor(v, [4]), E.tensor(w, [4, 6]))],
      ['column vector', () => E.matmul(E.tensor(w, [6, 4]), E.tensor(v, [4]))],
      ['[2,1,5,4] @ [3,4,6]', () => E.matmul(E.tensor(x.subarray(0, 40), [2, 1, 5, 4]), E.tensor(randn(72, 12), [3, 4, 6]))],
      ['1x1x1', () => E.matmul(E.tensor([[3]]), E.tensor([[-2]]))],
    ];
    for (const [what, build] of cases) {
      const ref = on(REF, build)[0]!;
      expectClose(on(WASM, build)[0]!, ref, { rel: 1e-5, atol: 1e-5 }, what);
    }
  });

  it('K = 0 gives zeros, empty M or N gives an empty result', () => {
    const build = () => [E.matmul(E.zeros([3, 0]), E.zeros([0, 5])), E.matmul(E.zeros([0, 4]), E.zeros([4, 5]))];
    const [z, empty] = on(WASM, build) as [Result, Result];
    expect(z.shape).toEqual([3, 5]);
    expect(z.data.every((v) => Object.is(v, 0))).toBe(true);
    expect(empty.shape).toEqual([0, 5]);
  });

  it('results are bit-identical with 1 or 2 threads and with any blocking-independent split', () => {
    const a = randn(300 * 260, 5), b = randn(260 * 190, 6);
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const build = () => E.matmul(E.tensor(a, tA ? [260, 300] : [300, 260]), E.tensor(b, tB ? [190, 260] : [260, 190]), tA, tB);
      expectClose(on(WASM, build)[0]!, on(WASM_1T, build)[0]!, {}, `threads tA=${tA} tB=${tB}`);
    }
  });

  it('a matrix–vector product (N = 1, its own kernel) is the GEMM column bit for bit: tails, several K-blocks, ±0, relaxed on and off, 1 and 2 threads', () => {
    // column 0 of A·[x | u] goes through the GEMM (N = 2); A·x through the gemv kernel
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 700 }), fc.boolean(), fc.nat(), (M, K, col, seed) => {
        const a = randn(M * K, seed), x = randn(K, seed + 1), u = randn(K, seed + 2);
        // some exact zeros and negative zeros: the chain starts from +0 as the GEMM's does
        for (let i = 0; i < a.length; i += 7) a[i] = i % 2 ? -0 : 0;
        const x2 = Float32Array.from({ length: 2 * K }, (_, i) => (i % 2 === 0 ? x[i >> 1]! : u[i >> 1]!));
        for (const be of [WASM, WASM_1T, WASM_SMALL_BLOCKS, NO_RELAXED]) {
          const [v, two] = on(be, () => [
            E.matmul(E.tensor(a, [M, K]), col ? E.tensor(x, [K, 1]) : E.tensor(x, [1, K]), false, !col),
            E.matmul(E.tensor(a, [M, K]), E.tensor(x2, [K, 2])),
          ]) as [Result, Result];
          expect(v.shape).toEqual([M, 1]);
          expect(v.data, `${be} M ${M} K ${K}`).toEqual(two.data.filter((_, i) => i % 2 === 0));
        }
      }),
      { numRuns: 60, seed: 77 },
    );
    // the SAE's shape (d 256, m 4096): rows split over two threads
    const a = randn(256 * 4096, 3), x = randn(4096, 4);
    const x2 = Float32Array.from({ length: 2 * 4096 }, (_, i) => (i % 2 === 0 ? x[i >> 1]! : 1));
    const [v, two] = on(WASM, () => [E.matmul(E.tensor(a, [256, 4096]), E.tensor(x, [4096, 1])), E.matmul(E.tensor(a, [256, 4096]), E.tensor(x2, [4096, 2]))]) as [Result, Result];
    expect(v.data).toEqual(two.data.filter((_, i) => i % 2 === 0));
  });
});
