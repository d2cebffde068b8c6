/**
 * Cross-backend equivalence: every primitive (and the composites built from them) gives the
 * reference backend's values on every gpu.js mode this machine offers, within the mode's
 * precision. Unavailable modes are printed with the reason.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../../engine/index.js';
import type { GpujsBackend } from '../../../engine/backends/gpujs/index.js';
import { expectClose, runOn, type Bound } from './compare.js';
import { modesUnderTest, SEED, stopDisplay, type ModeUnderTest } from './modes.js';

const { modes, skipped } = await modesUnderTest();
for (const s of skipped) console.log(`[gpujs equivalence] mode skipped — ${s}`);
afterAll(stopDisplay);

const NUM_RUNS = Number(process.env.GSAE_GPUJS_TEST_RUNS ?? 6);

// ------------------------------------------------------------------ host data

interface H {
  shape: number[];
  data: number[];
}
const prod = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);
const f32 = (h: H): E.Tensor => E.tensor(Float32Array.from(h.data), h.shape, 'float32');
const i32 = (h: H): E.Tensor => E.tensor(Int32Array.from(h.data), h.shape, 'int32');
const absH = (h: H): H => ({ shape: h.shape, data: h.data.map(Math.abs) });

const shapeArb = (o: { minRank?: number; maxRank?: number; maxDim?: number; maxSize?: number } = {}) =>
  fc
    .array(fc.integer({ min: 1, max: o.maxDim ?? 4 }), { minLength: o.minRank ?? 0, maxLength: o.maxRank ?? 4 })
    .filter((s) => prod(s) <= (o.maxSize ?? 48));

/** An operand shape that broadcasts to `out`: some leading axes dropped, some axes set to 1. */
const broadcastableTo = (out: readonly number[]) =>
  fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));

/** Float32 subnormals become 0: GPUs flush them (GLSL leaves denormals to the driver). */
const noSubnormal = (gl: boolean) => (v: number) => (gl && Math.abs(v) < 2 ** -126 ? 0 : v);

/** Uniform float32 values in [min, max]. */
const f32Arb = (min: number, max: number, gl: boolean) => fc.double({ min, max, noNaN: true }).map(Math.fround).map(noSubnormal(gl));

/**
 * float32 values: mostly ordinary, some small integers (so ties and equalities happen) and, off
 * GL, IEEE specials and subnormals (GPU drivers promise neither).
 */
const valueArb = (gl: boolean) =>
  fc.oneof(
    { weight: 6, arbitrary: f32Arb(-4, 4, gl) },
    { weight: 2, arbitrary: fc.integer({ min: -2, max: 2 }) },
    { weight: gl ? 0 : 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0) },
  );
const hostArb = (shape: readonly number[], gl: boolean, values = valueArb(gl)) =>
  fc.array(values, { minLength: prod(shape), maxLength: prod(shape) }).map((data) => ({ shape: [...shape], data }));
const intArb = (shape: readonly number[], lo = -3, hi = 3) => hostArb(shape, true, fc.integer({ min: lo, max: hi }));
const indexArb = (shape: readonly number[], n: number) => intArb(shape, 0, n - 1);

// ------------------------------------------------------------------ cases

interface Case<T> {
  name: string;
  arb: (gl: boolean) => fc.Arbitrary<T>;
  build: (t: T) => E.Tensor;
  bound: (t: T) => Bound;
  /** ops allowed to run on the host fallback (any other fallback fails the case) */
  fallbacks?: string[];
}
const cases: Case<any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
function add<T>(c: Case<T>): void {
  cases.push(c);
}

const UNARY_EXACT = ['neg', 'abs', 'sign', 'relu', 'heaviside'] as const;
const UNARY_MATH = ['exp', 'log', 'tanh', 'sqrt', 'rsqrt'] as const;
const UNARY_FORMULA = ['gelu', 'geluGrad'] as const;
const UNARY_FN = E as unknown as Record<string, (x: E.Tensor) => E.Tensor>;
for (const op of [...UNARY_EXACT, ...UNARY_MATH, ...UNARY_FORMULA]) {
  add({
    name: `unary ${op}`,
    arb: (gl) => shapeArb().chain((s) => hostArb(s, gl)),
    build: (h: H) => UNARY_FN[op]!(f32(h)),
    bound: () => ((UNARY_EXACT as readonly string[]).includes(op) ? 'exact' : (UNARY_MATH as readonly string[]).includes(op) ? 'math' : 'formula'),
  });
}

const binaryArb = (gl: boolean, values?: fc.Arbitrary<number>) =>
  shapeArb()
    .chain((out) => fc.tuple(broadcastableTo(out), broadcastableTo(out)))
    .chain(([a, b]) => fc.tuple(hostArb(a, gl, values), hostArb(b, gl, values)));
const BIN_FN = E as unknown as Record<string, (a: E.Tensor, b: E.Tensor) => E.Tensor>;
for (const op of ['add', 'sub', 'mul', 'maximum', 'minimum', 'equal', 'notEqual', 'greater', 'greaterEqual', 'less', 'lessEqual', 'div'] as const) {
  add({
    name: `binary ${op} (float32, broadcasting)`,
    arb: (gl) => binaryArb(gl),
    build: ([a, b]: [H, H]) => BIN_FN[op]!(f32(a), f32(b)),
    bound: () => (op === 'div' ? 'math' : 'exact'),
  });
}
add({
  name: 'binary pow (positive base, and integer exponents of any base)',
  arb: (gl) =>
    fc.oneof(
      binaryArb(gl, f32Arb(0.1, 3, gl)),
      shapeArb().chain((s) => fc.tuple(hostArb(s, gl, f32Arb(-3, 3, gl)), intArb(s, -3, 3))),
    ),
  build: ([a, b]: [H, H]) => E.pow(f32(a), f32(b)),
  bound: () => 'math',
});
for (const op of ['add', 'sub', 'mul', 'maximum', 'minimum', 'equal', 'greater', 'lessEqual'] as const) {
  add({
    name: `binary ${op} (int32)`,
    arb: () =>
      shapeArb()
        .chain((out) => fc.tuple(broadcastableTo(out), broadcastableTo(out)))
        .chain(([a, b]) => fc.tuple(intArb(a, -1000, 1000), intArb(b, -1000, 1000))),
    build: ([a, b]: [H, H]) => BIN_FN[op]!(i32(a), i32(b)),
    bound: () => 'exact',
  });
}
add({
  name: 'where (broadcasting condition and branches)',
  arb: (gl) =>
    shapeArb()
      .chain((out) => fc.tuple(broadcastableTo(out), broadcastableTo(out), broadcastableTo(out)))
      .chain(([c, a, b]) => fc.tuple(intArb(c, 0, 1), hostArb(a, gl), hostArb(b, gl))),
  build: ([c, a, b]: [H, H, H]) => E.where(f32(c), f32(a), f32(b)),
  bound: () => 'exact',
});
add({
  name: 'cast int32 → float32 → int32',
  arb: (gl) => shapeArb().chain((s) => fc.tuple(intArb(s, -50, 50), hostArb(s, gl, f32Arb(-9, 9, gl)))),
  build: ([a, b]: [H, H]) => E.add(E.cast(E.cast(i32(a), 'float32'), 'int32'), E.cast(f32(b), 'int32')),
  bound: () => 'exact',
  fallbacks: ['cast'],
});

// reductions
const reduceArb = (gl: boolean) =>
  shapeArb({ minRank: 1 }).chain((s) =>
    fc.tuple(hostArb(s, gl), fc.subarray(s.map((_, i) => i), { minLength: 1 }), fc.boolean()),
  );
add({
  name: 'sum over axes (keepdims or not)',
  arb: reduceArb,
  build: ([h, axes, keep]: [H, number[], boolean]) => E.sum(f32(h), axes, keep),
  bound: ([h, axes, keep]: [H, number[], boolean]) => ({
    terms: axes.reduce((p, a) => p * h.shape[a]!, 1),
    scale: runOn('reference', () => E.sum(f32(absH(h)), axes, keep)).data,
  }),
});
add({
  name: 'sum (int32)',
  arb: () => shapeArb({ minRank: 1 }).chain((s) => fc.tuple(intArb(s, -100, 100), fc.subarray(s.map((_, i) => i), { minLength: 1 }))),
  build: ([h, axes]: [H, number[]]) => E.sum(i32(h), axes),
  bound: () => 'exact',
});
add({
  name: 'max over axes',
  arb: reduceArb,
  build: ([h, axes, keep]: [H, number[], boolean]) => E.max(f32(h), axes, keep),
  bound: () => 'exact',
});
add({
  name: 'argmax (ties go to the first index)',
  arb: (gl) => shapeArb({ minRank: 1 }).chain((s) => fc.tuple(hostArb(s, gl, fc.integer({ min: -2, max: 2 })), fc.integer({ min: 0, max: s.length - 1 }))),
  build: ([h, axis]: [H, number]) => E.argmax(f32(h), axis),
  bound: () => 'exact',
});

// movement
add({
  name: 'transpose',
  arb: (gl) => shapeArb({ minRank: 1 }).chain((s) => fc.tuple(hostArb(s, gl), fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }))),
  build: ([h, perm]: [H, number[]]) => E.transpose(f32(h), perm),
  bound: () => 'exact',
});
add({
  name: 'reshape (including a changed last axis) then a kernel',
  arb: (gl) =>
    shapeArb({ minRank: 1, maxSize: 36 }).chain((s) =>
      fc.tuple(hostArb(s, gl), fc.constantFrom<number[]>([prod(s)], [1, prod(s)], [prod(s), 1], prod(s) % 2 === 0 ? [2, prod(s) / 2] : [prod(s)], prod(s) % 3 === 0 ? [prod(s) / 3, 3] : [1, prod(s)])),
    ),
  build: ([h, to]: [H, number[]]) => E.neg(E.reshape(E.neg(f32(h)), to)),
  bound: () => 'exact',
});
add({
  name: 'slice',
  arb: (gl) =>
    shapeArb({ minRank: 1 }).chain((s) =>
      fc.tuple(hostArb(s, gl), fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: 1, max: d - b })))))),
    ),
  build: ([h, box]: [H, [number, number][]]) => E.slice(f32(h), box.map((b) => b[0]), box.map((b) => b[1])),
  bound: () => 'exact',
});
add({
  name: 'pad',
  arb: (gl) =>
    shapeArb({ minRank: 1, maxSize: 24 }).chain((s) =>
      fc.tuple(hostArb(s, gl), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length }), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length })),
    ),
  build: ([h, before, after]: [H, number[], number[]]) => E.pad(f32(h), before, after),
  bound: () => 'exact',
});
add({
  name: 'concat',
  arb: (gl) =>
    shapeArb({ minRank: 1, maxSize: 24 }).chain((s) =>
      fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
        fc.tuple(fc.constant(axis), fc.array(fc.integer({ min: 1, max: 3 }).chain((n) => hostArb(s.map((d, i) => (i === axis ? n : d)), gl)), { minLength: 1, maxLength: 4 })),
      ),
    ),
  build: ([axis, hs]: [number, H[]]) => E.concat(hs.map(f32), axis),
  bound: () => 'exact',
});
add({
  name: 'broadcastTo',
  arb: (gl) => shapeArb().chain((out) => broadcastableTo(out).chain((s) => fc.tuple(hostArb(s, gl), fc.constant(out)))),
  build: ([h, out]: [H, number[]]) => E.broadcastTo(f32(h), out),
  bound: () => 'exact',
});

// matmul
add({
  name: 'matmul (transposes, broadcast batch)',
  arb: (gl) =>
    fc
      .record({
        M: fc.integer({ min: 1, max: 5 }),
        K: fc.integer({ min: 1, max: 9 }),
        N: fc.integer({ min: 1, max: 5 }),
        batch: shapeArb({ maxRank: 2, maxDim: 3, maxSize: 6 }),
        tA: fc.boolean(),
        tB: fc.boolean(),
      })
      .chain((p) =>
        fc.tuple(broadcastableTo(p.batch), broadcastableTo(p.batch)).chain(([ba, bb]) =>
          fc.tuple(
            fc.constant(p),
            hostArb([...ba, ...(p.tA ? [p.K, p.M] : [p.M, p.K])], gl),
            hostArb([...bb, ...(p.tB ? [p.N, p.K] : [p.K, p.N])], gl),
          ),
        ),
      ),
  build: ([p, a, b]: [{ tA: boolean; tB: boolean }, H, H]) => E.matmul(f32(a), f32(b), p.tA, p.tB),
  bound: ([p, a, b]: [{ tA: boolean; tB: boolean; K: number }, H, H]) => ({
    terms: p.K,
    scale: runOn('reference', () => E.matmul(f32(absH(a)), f32(absH(b)), p.tA, p.tB)).data,
  }),
});

// indexing
add({
  name: 'gather',
  arb: (gl) =>
    shapeArb({ minRank: 1, maxSize: 24 }).chain((s) =>
      fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
        fc.tuple(hostArb(s, gl), shapeArb({ maxRank: 2, maxSize: 6 }).chain((is) => indexArb(is, s[axis]!)), fc.constant(axis)),
      ),
    ),
  build: ([h, idx, axis]: [H, H, number]) => E.gather(f32(h), i32(idx), axis),
  bound: () => 'exact',
});
add({
  name: 'takeAlongAxis',
  arb: (gl) =>
    shapeArb({ minRank: 1, maxSize: 24 }).chain((s) =>
      fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
        fc.integer({ min: 1, max: 4 }).chain((m) => fc.tuple(hostArb(s, gl), indexArb(s.map((d, i) => (i === axis ? m : d)), s[axis]!), fc.constant(axis))),
      ),
    ),
  build: ([h, idx, axis]: [H, H, number]) => E.takeAlongAxis(f32(h), i32(idx), axis),
  bound: () => 'exact',
});
add({
  name: 'scatterAdd (repeated indices accumulate in order)',
  arb: (gl) =>
    shapeArb({ minRank: 1, maxSize: 24 }).chain((s) =>
      fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
        shapeArb({ maxRank: 2, maxSize: 6 }).chain((is) =>
          fc.tuple(hostArb(s, gl), indexArb(is, s[axis]!), hostArb([...s.slice(0, axis), ...is, ...s.slice(axis + 1)], gl), fc.constant(axis)),
        ),
      ),
    ),
  build: ([x, idx, u, axis]: [H, H, H, number]) => E.scatterAdd(f32(x), i32(idx), f32(u), axis),
  bound: ([x, idx, u, axis]: [H, H, H, number]) => ({
    terms: prod(idx.shape) + 1,
    scale: runOn('reference', () => E.scatterAdd(f32(absH(x)), i32(idx), f32(absH(u)), axis)).data,
  }),
});
add({
  name: 'scatterAddAlongAxis',
  arb: (gl) =>
    shapeArb({ minRank: 1, maxSize: 24 }).chain((s) =>
      fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
        fc.integer({ min: 1, max: 4 }).chain((m) => {
          const is = s.map((d, i) => (i === axis ? m : d));
          return fc.tuple(hostArb(s, gl), indexArb(is, s[axis]!), hostArb(is, gl), fc.constant(axis));
        }),
      ),
    ),
  build: ([x, idx, u, axis]: [H, H, H, number]) => E.scatterAddAlongAxis(f32(x), i32(idx), f32(u), axis),
  bound: ([x, idx, u, axis]: [H, H, H, number]) => ({
    terms: idx.shape[axis]! + 1,
    scale: runOn('reference', () => E.scatterAddAlongAxis(f32(absH(x)), i32(idx), f32(absH(u)), axis)).data,
  }),
});
add({
  name: 'topk (host fallback) and keepTopk',
  arb: (gl) => shapeArb({ minRank: 1 }).chain((s) => fc.tuple(hostArb(s, true, fc.integer({ min: -3, max: 3 })), fc.integer({ min: 0, max: s[s.length - 1]! }), fc.constant(gl))),
  build: ([h, k]: [H, number, boolean]) => E.keepTopk(f32(h), k, true),
  bound: () => 'exact',
  fallbacks: ['topkIndices'],
});

// creation
add({
  name: 'full and arange (float32 and int32)',
  arb: (gl) =>
    fc.record({
      shape: shapeArb(),
      v: f32Arb(-100, 100, gl),
      start: fc.integer({ min: -20, max: 20 }),
      n: fc.integer({ min: 1, max: 30 }),
      step: fc.constantFrom(1, 2, -3, 0.25, 0.1),
    }),
  build: (p: { shape: number[]; v: number; start: number; n: number; step: number }) =>
    E.concat([
      E.reshape(E.full(p.shape, p.v), [-1]),
      E.arange(p.start, p.start + p.n * p.step, p.step, 'float32'),
      E.cast(E.arange(p.start, p.start + p.n * 2, 2), 'float32'),
    ]),
  // float arange is start + i·step rounded once on the host and twice (i·step, then +) on a
  // device: an ulp of the larger term each time, whatever the (possibly cancelled) result
  bound: (p: { start: number; n: number; step: number }) => ({ rel: 0, abs: 2 * 2 ** -23 * (Math.abs(p.start) + p.n * Math.abs(p.step)) }),
});

// composites (several rounded steps: a relative bound well above float32 rounding, far below any bug)
const rowsArb = (gl: boolean) => fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 9 })).chain(([R, C]) => hostArb([R, C], gl, f32Arb(-6, 6, gl)));
add({
  name: 'softmax / logSoftmax / layerNorm',
  arb: rowsArb,
  build: (h: H) => {
    const x = f32(h);
    const C = h.shape[1]!;
    const w = E.tensor(Float32Array.from({ length: C }, (_, i) => 1 + i / 10), [C]);
    const b = E.tensor(Float32Array.from({ length: C }, (_, i) => i / 7 - 0.3), [C]);
    return E.concat([E.softmax(x), E.logSoftmax(x), E.layerNorm(x, w, b)], 1);
  },
  bound: () => ({ rel: 2e-5, abs: 2e-5 }),
});
add({
  name: 'crossEntropy value and gradient (a two-layer MLP)',
  arb: (gl) =>
    fc.record({
      x: hostArb([3, 5], gl, f32Arb(-2, 2, gl)),
      w1: hostArb([5, 6], gl, f32Arb(-1, 1, gl)),
      w2: hostArb([6, 4], gl, f32Arb(-1, 1, gl)),
      y: indexArb([3], 4),
    }),
  build: (p: { x: H; w1: H; w2: H; y: H }) => {
    const loss = (w1: E.Tensor, w2: E.Tensor) => E.crossEntropy(E.matmul(E.gelu(E.matmul(f32(p.x), w1)), w2), i32(p.y));
    const [l, g] = E.valueAndGrad(loss, { argnums: [0, 1] })(f32(p.w1), f32(p.w2)) as unknown as [E.Tensor, E.Tensor[]];
    return E.concat([E.reshape(l, [1]), ...g.map((t) => E.reshape(t, [-1]))]);
  },
  bound: () => ({ rel: 1e-4, abs: 1e-5 }),
});

// ------------------------------------------------------------------ run on every mode

describe.skipIf(modes.length === 0)('gpujs equivalence with the reference backend', () => {
  for (const m of modes) {
    describe(`mode ${m.mode}`, () => {
      for (const c of cases) it(c.name, () => check(m, c));
    });
  }
});

function check<T>(m: ModeUnderTest, c: Case<T>): void {
  const gl = !['webasm', 'cpu'].includes(m.mode);
  const b = E.getBackend(m.backend) as GpujsBackend;
  b.resetCounters();
  fc.assert(
    fc.property(c.arb(gl), (t) => {
      const ref = runOn('reference', () => c.build(t));
      const got = runOn(m.backend, () => c.build(t));
      expectClose(`${m.mode} ${c.name}`, got, ref, c.bound(t), m.tol);
    }),
    { seed: SEED, numRuns: NUM_RUNS },
  );
  // the values must come from gpu.js kernels in this mode, not from the host fallback
  const unexpected = Object.entries(b.fallbacks()).filter(([op]) => !(c.fallbacks ?? []).includes(op));
  expect(unexpected.map(([op, f]) => `${op}: ${f.reason}`), `${m.mode} ${c.name}: ops that fell back to the host`).toEqual([]);
  expect(Object.keys(b.nativeRuns()).length, `${m.mode} ${c.name}: no op ran as a gpu.js kernel`).toBeGreaterThan(0);
}
