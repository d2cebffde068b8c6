/**
 * The cross-backend equivalence cases: every primitive (and the composites built from them) as a
 * fast-check property over shapes and values, with the bound its result must meet against the
 * reference backend. Framework-free, so the same cases run in Node (equivalence.test.ts) and in
 * Chromium's WebGL2 / WebGL / WebGPU modes (browser/page.ts, browser.test.ts).
 *
 * `gl` in an arbitrary means "a GPU mode": no NaN/Inf or subnormal inputs (GLSL and WGSL promise
 * neither IEEE specials nor denormals).
 */
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import { runOn, type Bound } from './compare_core.js';

// ------------------------------------------------------------------ host data

export interface H {
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

export interface Case<T> {
  name: string;
  arb: (gl: boolean) => fc.Arbitrary<T>;
  build: (t: T) => E.Tensor;
  bound: (t: T) => Bound;
  /** ops allowed to run on the host fallback (any other fallback fails the case) */
  fallbacks?: string[];
}
export const cases: Case<any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
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
    // log of a negative number is undefined in GLSL and WGSL: llvmpipe gives NaN like JavaScript,
    // SwiftShader (Chromium's WebGL) gives 0, so GPU modes test log on its domain only
    arb: (gl) => shapeArb().chain((s) => hostArb(s, gl, op === 'log' && gl ? valueArb(gl).map(Math.abs) : undefined)),
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

// ------------------------------------------------------------------ larger, odd shapes
// The properties above use dimensions 1..4 (≤ 48 elements); these use fixed sizes that are not
// multiples of 4 and span several texture rows, with random values.

const oddShapeArb = (...shapes: number[][]) => fc.constantFrom(...shapes);
add({
  name: 'matmul, larger odd shapes (batched, transposes)',
  arb: (gl) =>
    fc
      .record({
        M: fc.constantFrom(7, 19),
        K: fc.constantFrom(33, 67),
        N: fc.constantFrom(5, 23),
        batch: oddShapeArb([], [3], [2, 1]),
        bBatch: fc.boolean(),
        tA: fc.boolean(),
        tB: fc.boolean(),
      })
      .chain((p) =>
        fc.tuple(
          fc.constant(p),
          hostArb([...p.batch, ...(p.tA ? [p.K, p.M] : [p.M, p.K])], gl, f32Arb(-2, 2, gl)),
          hostArb([...(p.bBatch ? p.batch : []), ...(p.tB ? [p.N, p.K] : [p.K, p.N])], gl, f32Arb(-2, 2, gl)),
        ),
      ),
  build: ([p, a, b]: [{ tA: boolean; tB: boolean }, H, H]) => E.matmul(f32(a), f32(b), p.tA, p.tB),
  bound: ([p, a, b]: [{ tA: boolean; tB: boolean; K: number }, H, H]) => ({
    terms: p.K,
    scale: runOn('reference', () => E.matmul(f32(absH(a)), f32(absH(b)), p.tA, p.tB)).data,
  }),
});
add({
  name: 'sum, max and argmax, larger odd shapes',
  arb: (gl) =>
    oddShapeArb([13, 57], [5, 7, 31], [257]).chain((s) =>
      fc.tuple(hostArb(s, gl, f32Arb(-8, 8, gl)), fc.subarray(s.map((_, i) => i), { minLength: 1 })),
    ),
  build: ([h, axes]: [H, number[]]) =>
    E.concat([E.reshape(E.sum(f32(h), axes), [-1]), E.reshape(E.max(f32(h), axes), [-1]), E.reshape(E.cast(E.argmax(f32(h), axes[0]!), 'float32'), [-1])]),
  bound: ([h, axes]: [H, number[]]) => {
    const sumPart = runOn('reference', () => E.sum(f32(absH(h)), axes)).data;
    const rest = runOn('reference', () => E.concat([E.reshape(E.max(f32(h), axes), [-1]), E.reshape(E.cast(E.argmax(f32(h), axes[0]!), 'float32'), [-1])])).data;
    // the max and argmax parts are exact: a zero scale there allows no difference
    return { terms: axes.reduce((p, a) => p * h.shape[a]!, 1), scale: [...sumPart, ...rest.map(() => 0)] };
  },
});
add({
  name: 'elementwise chain on [37, 41] (exp, tanh, gelu, div, broadcasting)',
  arb: (gl) => fc.tuple(hostArb([37, 41], gl, f32Arb(-3, 3, gl)), hostArb([41], gl, f32Arb(0.5, 2, gl))),
  build: ([a, b]: [H, H]) => {
    const x = f32(a);
    const y = f32(b);
    return E.concat([E.exp(x), E.tanh(x), E.gelu(x), E.div(x, y), E.sub(E.mul(x, y), y)], 1);
  },
  bound: () => 'formula',
});
add({
  name: 'transpose, slice, pad and concat of [5, 7, 11]',
  arb: (gl) => hostArb([5, 7, 11], gl),
  build: (h: H) => {
    const x = f32(h);
    const t = E.transpose(x, [2, 0, 1]);
    const s = E.slice(t, [1, 1, 2], [9, 3, 5]);
    return E.concat([E.reshape(E.pad(s, [0, 1, 0], [1, 0, 2]), [-1]), E.reshape(t, [-1])]);
  },
  bound: () => 'exact',
});
add({
  name: 'gather, takeAlongAxis and scatterAdd on [50, 13]',
  arb: (gl) => fc.tuple(hostArb([50, 13], gl), indexArb([23], 50), indexArb([50, 3], 13), hostArb([23, 13], gl)),
  build: ([x, idx, idx2, u]: [H, H, H, H]) =>
    E.concat([
      E.reshape(E.gather(f32(x), i32(idx), 0), [-1]),
      E.reshape(E.takeAlongAxis(f32(x), i32(idx2), 1), [-1]),
      E.reshape(E.scatterAdd(f32(x), i32(idx), f32(u), 0), [-1]),
    ]),
  bound: ([x, idx, idx2, u]: [H, H, H, H]) => ({
    terms: 24,
    // gather / takeAlongAxis are exact (scale 0); scatterAdd accumulates up to 23 updates
    scale: [
      ...new Array<number>(23 * 13 + 50 * 3).fill(0),
      ...runOn('reference', () => E.scatterAdd(f32(absH(x)), i32(idx), f32(absH(u)), 0)).data,
    ],
  }),
});
add({
  name: 'topk k = 5 of [9, 37] (host fallback) and keepTopk',
  arb: () => hostArb([9, 37], true, fc.integer({ min: -20, max: 20 })),
  build: (h: H) => E.keepTopk(f32(h), 5, true),
  bound: () => 'exact',
  fallbacks: ['topkIndices'],
});
add({
  name: 'softmax / logSoftmax / layerNorm on rows of 129',
  arb: (gl) => hostArb([7, 129], gl, f32Arb(-6, 6, gl)),
  build: (h: H) => {
    const x = f32(h);
    const C = h.shape[1]!;
    const w = E.tensor(Float32Array.from({ length: C }, (_, i) => 1 + i / 100), [C]);
    const b = E.tensor(Float32Array.from({ length: C }, (_, i) => i / 70 - 0.3), [C]);
    return E.concat([E.softmax(x), E.logSoftmax(x), E.layerNorm(x, w, b)], 1);
  },
  bound: () => ({ rel: 2e-5, abs: 2e-5 }),
});
