/**
 * The wasm jit rewrites (backends/wasm/fuse.ts):
 * - `matmul` + bias `add` → one `matmulBias` launch (ops/matmul.ts): a compiled step gives the
 *   values of the two launches bit for bit (edge tiles, several K blocks and column blocks,
 *   transposes, either operand order, one and two threads, relaxed SIMD on and off), fuses only a
 *   row-vector bias whose matmul nothing else reads, and plans that do not fit run as recorded;
 * - `sum(mul(x, 0))` → one `sumTimesZero` launch (ops/reduce.ts): 0 for finite x, NaN otherwise,
 *   as the composite.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import { getBackend } from '../../../engine/engine.js';
import type { PlanInfo, PlanStep } from '../../../engine/backend.js';
import type { WasmBackend } from '../../../engine/backends/wasm/index.js';
import { fuseMatmulBias, fuseSumTimesZero } from '../../../engine/backends/wasm/fuse.js';
import { on, randn, WASM, WASM_1T, WASM_SMALL_BLOCKS, wasmVariant } from './helpers.js';

const NO_RELAXED = wasmVariant('wasm-no-relaxed-bias', { threads: 2, relaxed: false });
/** A float32 slot's meta, for the recorded plans below. */
const f32 = (shape: number[]) => ({ shape, dtype: 'float32' as const });
const SEED = 777;

/** The ops a backend ran while `fn` ran (its profile), with `fn`'s results. */
function opsRun(name: string, fn: () => E.Tensor | E.Tensor[]): string[] {
  const be = getBackend(name) as WasmBackend;
  be.startProfile();
  try {
    on(name, fn);
  } finally {
    return be.stopProfile().map((p) => p.op);
  }
}

describe('wasm jit rewrites', () => {
  it('a jit step fuses it and gives the two launches bit for bit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2, max: 50 }), fc.integer({ min: 0, max: 70 }),
        fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer(),
        (M, N, K, tA, tB, biasFirst, rowBias, seed) => {
          const a = randn(M * K, seed), b = randn(K * N, seed + 1), bias = randn(N, seed + 2);
          // exact zeros and −0 in the bias: the add's rounding and sign rules must hold
          if (N > 3) (bias[1] = 0), (bias[2] = -0);
          const args = () => [
            E.tensor(a, tA ? [K, M] : [M, K]),
            E.tensor(b, tB ? [N, K] : [K, N]),
            E.tensor(bias, rowBias ? [1, N] : [N]),
          ] as const;
          const f = (x: E.Tensor, w: E.Tensor, c: E.Tensor) => {
            const y = E.matmul(x, w, tA, tB);
            return biasFirst ? E.add(c, y) : E.add(y, c);
          };
          const step = E.jit(f);
          try {
            for (const be of [WASM, WASM_1T, WASM_SMALL_BLOCKS, NO_RELAXED]) {
              const want = on(be, () => f(...args()))[0]!;
              const got = on(be, () => step(...args()))[0]!;
              const label = `M ${M} N ${N} K ${K} tA ${tA} tB ${tB} biasFirst ${biasFirst} on ${be}`;
              expect(got.shape, label).toEqual(want.shape);
              // bit for bit, ±0 included
              expect(Float32Array.from(got.data).map((v) => v), label).toEqual(Float32Array.from(want.data));
              expect(got.data.map((v) => Object.is(v, -0)), label).toEqual(want.data.map((v) => Object.is(v, -0)));
            }
          } finally {
            step.dispose();
          }
        },
      ),
      { numRuns: 60, seed: SEED },
    );
  });

  it('the compiled step runs matmulBias, not matmul then add; a GEMM of SAE size too', () => {
    const [M, K, N] = [64, 256, 4096];
    const x = randn(M * K, 1), w = randn(K * N, 2), c = randn(N, 3);
    const f = (xx: E.Tensor, ww: E.Tensor, cc: E.Tensor) => E.add(E.matmul(xx, ww), cc);
    const step = E.jit(f);
    try {
      const args = () => [E.tensor(x, [M, K]), E.tensor(w, [K, N]), E.tensor(c, [N])] as const;
      on(WASM, () => step(...args())); // trace
      const ops = opsRun(WASM, () => step(...args()));
      expect(ops).toContain('matmulBias');
      expect(ops).not.toContain('matmul');
      expect(ops).not.toContain('add');
      const got = on(WASM, () => step(...args()))[0]!.data, want = on(WASM, () => f(...args()))[0]!.data;
      // a count, not toEqual: a diff of 262,144 numbers takes vitest minutes to print
      expect(got.filter((v, i) => !Object.is(v, want[i])).length).toBe(0);
    } finally {
      step.dispose();
    }
  });

  it('K = 0 (no GEMM): the fused launch falls back to the two ops and gives the bias in every row', () => {
    const f = (xx: E.Tensor, ww: E.Tensor, cc: E.Tensor) => E.add(E.matmul(xx, ww), cc);
    const step = E.jit(f);
    try {
      const args = () => [E.zeros([3, 0]), E.zeros([0, 4]), E.tensor([1, -0, 2.5, -3], [4])] as const;
      const got = on(WASM, () => step(...args()))[0]!;
      // the empty product is +0 everywhere, and +0 + −0 = +0
      expect(got.data).toEqual([1, 0, 2.5, -3, 1, 0, 2.5, -3, 1, 0, 2.5, -3]);
      expect(got.data.some((v) => Object.is(v, -0))).toBe(false);
      expect(got.data).toEqual(on(WASM, () => f(...args()))[0]!.data);
      expect(opsRun(WASM, () => step(...args()))).toContain('matmulBias');
    } finally {
      step.dispose();
    }
  });

  describe('fuseMatmulBias on recorded plans', () => {
    const mm = (ins: number[], out: number, shape: number[]): PlanStep => ({ op: 'matmul', ins, outs: [out], outMeta: [f32(shape)], attrs: { transA: false, transB: false } });
    const add = (ins: number[], out: number, shape: number[]): PlanStep => ({ op: 'add', ins, outs: [out], outMeta: [f32(shape)], attrs: {} });
    const info = (meta: [number, number[]][], escapes: number[] = []): PlanInfo => ({
      escapes: new Set(escapes), scalarConsts: new Map(), slotMeta: new Map(meta.map(([s, shape]) => [s, f32(shape)])),
    });
    // slots: 0 x [4, 3], 1 w [3, 5], 2 bias, 3 x@w [4, 5], 4 the sum
    const base: [number, number[]][] = [[0, [4, 3]], [1, [3, 5]], [3, [4, 5]], [4, [4, 5]]];

    it('fuses a [N] or [1, N] bias, either operand order', () => {
      for (const [shape, ins] of [[[5], [3, 2]], [[1, 5], [2, 3]]] as const) {
        const out = fuseMatmulBias([mm([0, 1], 3, [4, 5]), add([...ins], 4, [4, 5])], info([...base, [2, [...shape]]]));
        expect(out).toHaveLength(1);
        expect(out[0]).toMatchObject({ op: 'matmulBias', ins: [0, 1, 2], outs: [4], attrs: { transA: false, transB: false, biasFirst: ins[0] === 2 } });
      }
    });

    it('leaves the plan as recorded: a full [M, N] term, a product read twice or returned, add(y, y), N = 1', () => {
      const steps = [mm([0, 1], 3, [4, 5]), add([3, 2], 4, [4, 5])];
      expect(fuseMatmulBias(steps, info([...base, [2, [4, 5]]]))).toEqual(steps); // gradient-like sum
      expect(fuseMatmulBias(steps, info([...base, [2, [5]]], [3]))).toEqual(steps); // x@w escapes
      const twice = [...steps, add([3, 4], 5, [4, 5])];
      expect(fuseMatmulBias(twice, info([...base, [2, [5]], [5, [4, 5]]]))).toEqual(twice);
      const self = [mm([0, 1], 3, [4, 5]), add([3, 3], 4, [4, 5])];
      expect(fuseMatmulBias(self, info(base))).toEqual(self);
      const col = [mm([0, 1], 3, [4, 1]), add([3, 2], 4, [4, 1])];
      expect(fuseMatmulBias(col, info([[0, [4, 3]], [1, [3, 1]], [2, [1]], [3, [4, 1]], [4, [4, 1]]]))).toEqual(col);
    });
  });

  it('sum(mul(x, 0)) as one launch: 0 for finite x, NaN with a NaN or ±Inf anywhere, as the composite (property)', () => {
    const f = (x: E.Tensor) => E.sum(E.mul(x, 0));
    const step = E.jit(f);
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 300_000 }), fc.integer(),
          fc.array(fc.tuple(fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 3e38)), { maxLength: 3 }),
          (n, seed, specials) => {
            const x = randn(n, seed);
            for (const [at, v] of specials) if (n > 0) x[at % n] = v;
            const shape = n % 7 === 0 && n > 0 ? [7, n / 7] : [n];
            for (const be of [WASM, WASM_1T]) {
              const want = on(be, () => f(E.tensor(x, shape)))[0]!.data[0]!;
              const got = on(be, () => step(E.tensor(x, shape)))[0]!.data[0]!;
              expect(Number.isNaN(got), `n ${n} on ${be}`).toBe(x.some((v) => !Number.isFinite(v)));
              expect(got, `n ${n} on ${be}`).toEqual(want);
            }
          },
        ),
        { numRuns: 40, seed: SEED },
      );
      expect(opsRun(WASM, () => step(E.tensor(randn(70_000, 1), [70_000])))).toEqual(['sumTimesZero']);
    } finally {
      step.dispose();
    }
  });

  describe('fuseSumTimesZero on recorded plans', () => {
    const mul = (ins: number[], out: number): PlanStep => ({ op: 'mul', ins, outs: [out], outMeta: [f32([4, 5])], attrs: {} });
    const sum = (ins: number[], out: number, shape: number[] = []): PlanStep => ({ op: 'sum', ins, outs: [out], outMeta: [f32(shape)], attrs: { axes: [0, 1], keepdims: shape.length > 0 } });
    // slots: 0 x [4, 5], 1 the constant, 2 x·c, 3 the sum
    const info = (c: number, escapes: number[] = []): PlanInfo => ({
      escapes: new Set(escapes), scalarConsts: new Map([[1, c]]), slotMeta: new Map([[0, f32([4, 5])], [1, f32([])], [2, f32([4, 5])], [3, f32([])]]),
    });

    it('fuses x·0 (either order, −0 too) summed to one element', () => {
      for (const [ins, c, shape] of [[[0, 1], 0, []], [[1, 0], -0, []], [[0, 1], 0, [1, 1]]] as const) {
        const out = fuseSumTimesZero([mul([...ins], 2), sum([2], 3, [...shape])], info(c));
        expect(out).toEqual([{ op: 'sumTimesZero', ins: [0], outs: [3], outMeta: [f32([...shape])], attrs: {} }]);
      }
    });

    it('leaves the plan as recorded: another constant, a row sum, a product read twice or returned', () => {
      const steps = [mul([0, 1], 2), sum([2], 3)];
      expect(fuseSumTimesZero(steps, info(1))).toEqual(steps);
      expect(fuseSumTimesZero(steps, info(0, [2]))).toEqual(steps);
      const rows = [mul([0, 1], 2), sum([2], 3, [4])];
      expect(fuseSumTimesZero(rows, info(0))).toEqual(rows);
      const twice = [...steps, sum([2], 4)];
      expect(fuseSumTimesZero(twice, info(0))).toEqual(twice);
    });
  });
});
