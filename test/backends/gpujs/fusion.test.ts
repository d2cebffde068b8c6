/**
 * Elementwise fusion of jit plans (engine/backends/gpujs/fuse.ts): which launches are grouped
 * (pure planning, no gpu.js), and on every gpu.js mode here that fused plans give the unfused
 * plan's values (and the reference backend's, within the mode's precision) on random elementwise
 * programs over random shapes with broadcasting, sizes that are not multiples of 4, scalar
 * constants, shared intermediates, and intermediates that escape.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../../engine/index.js';
import type { PlanInfo, PlanStep } from '../../../engine/backend.js';
import { registerGpujsMode, type GpujsBackend } from '../../../engine/backends/gpujs/index.js';
import { FUSED_OP, fuseElementwise, type FusedProgram } from '../../../engine/backends/gpujs/fuse.js';
import { compareResults, runOn, type HostResult } from './compare.js';
import { allocTensor } from '../../../engine/engine.js';
import { modesUnderTest, onBackend, SEED, stopDisplay } from './modes.js';

const { modes, skipped } = await modesUnderTest();
for (const s of skipped) console.log(`[gpujs fusion] mode skipped — ${s}`);
afterAll(stopDisplay);

const NUM_RUNS = Number(process.env.GSAE_GPUJS_TEST_RUNS ?? 12);

// ------------------------------------------------------------------ planning

const step = (op: string, ins: number[], out: number, shape = [3, 5], dtype: E.DType = 'float32'): PlanStep => ({
  op,
  ins,
  outs: [out],
  outMeta: [{ shape, dtype }],
  attrs: {},
});
const info = (escapes: number[], scalars: [number, number][] = []): PlanInfo => ({ escapes: new Set(escapes), scalarConsts: new Map(scalars), slotMeta: new Map() });
const OPTS = { maxTensors: 8, maxNodes: 64 };
const programOf = (s: PlanStep) => s.attrs.program as FusedProgram;

describe('fusion planning', () => {
  it('fuses a chain into one launch at the root, reading only the external slots', () => {
    // slots 0, 1 inputs; 2 = exp(0); 3 = mul(2, 1); 4 = add(3, 0)
    const out = fuseElementwise([step('exp', [0], 2), step('mul', [2, 1], 3), step('add', [3, 0], 4)], info([4]), OPTS);
    expect(out).toHaveLength(1);
    expect(out[0]!.op).toBe(FUSED_OP);
    expect(out[0]!.ins).toEqual([0, 1]);
    expect(out[0]!.outs).toEqual([4]);
    expect(programOf(out[0]!).nodes.map((n) => n.op)).toEqual(['exp', 'mul', 'add']);
    expect(programOf(out[0]!).nodes[2]!.args).toEqual([{ n: 1 }, { t: 0 }]);
  });

  it('never fuses across an intermediate that is returned', () => {
    const steps = [step('exp', [0], 2), step('mul', [2, 1], 3), step('add', [3, 0], 4)];
    const out = fuseElementwise(steps, info([4, 3]), OPTS);
    // mul's output escapes: exp·y is one launch writing it, and the add reads it as an input
    expect(out.map((s) => s.op)).toEqual([FUSED_OP, 'add']);
    expect(out[0]!.outs).toEqual([3]);
    expect(out[1]!.ins).toEqual([3, 0]);
    const out2 = fuseElementwise(steps, info([4, 2]), OPTS);
    expect(out2.map((s) => s.op)).toEqual(['exp', FUSED_OP]);
    expect(out2[1]!.ins).toEqual([2, 1, 0]);
  });

  it('never fuses across an intermediate read by a launch outside the group', () => {
    // 3 = mul(2, 1) is read by the sum (not elementwise) as well as by the add
    const steps = [step('exp', [0], 2), step('mul', [2, 1], 3), step('add', [3, 0], 4), { ...step('sum', [3], 5, []), attrs: { axes: [0, 1] } }];
    const out = fuseElementwise(steps, info([4, 5]), OPTS);
    expect(out.map((s) => s.op)).toEqual([FUSED_OP, 'add', 'sum']);
    expect(out[0]!.outs).toEqual([3]);
    expect(programOf(out[0]!).nodes.map((n) => n.op)).toEqual(['exp', 'mul']);
  });

  it('keeps other shapes, int32 results and non-elementwise launches out; scalar constants become arguments', () => {
    const steps = [
      step('exp', [0], 2, [1, 5]), // broadcast operand: its own launch
      step('add', [2, 1], 3),
      step('mul', [3, 9], 4), // 9: a scalar constant
      step('add', [7, 8], 5, [3, 5], 'int32'),
      step('where', [5, 4, 1], 6),
    ];
    const out = fuseElementwise(steps, info([6], [[9, 0.5]]), OPTS);
    expect(out.map((s) => s.op)).toEqual(['exp', 'add', FUSED_OP]);
    const p = programOf(out[2]!);
    expect(p.nodes.map((n) => n.op)).toEqual(['add', 'mul', 'where']);
    expect(p.scalars).toEqual([0.5]);
    expect(out[2]!.ins).toEqual([2, 1, 5]);
  });

  it('shares an intermediate read twice inside the group and respects the argument limit', () => {
    const steps = [step('tanh', [0], 2), step('mul', [2, 2], 3), step('add', [3, 2], 4)];
    const out = fuseElementwise(steps, info([4]), OPTS);
    expect(out).toHaveLength(1);
    expect(programOf(out[0]!).nodes.map((n) => n.args)).toEqual([[{ t: 0 }], [{ n: 0 }, { n: 0 }], [{ n: 1 }, { n: 0 }]]);
    // a sum of 6 inputs with at most 3 tensor arguments per kernel
    const wide = [step('add', [0, 1], 10), step('add', [10, 2], 11), step('add', [11, 3], 12), step('add', [12, 4], 13), step('add', [13, 5], 14)];
    const small = fuseElementwise(wide, info([14]), { maxTensors: 3, maxNodes: 64 });
    for (const s of small) expect(s.ins.length).toBeLessThanOrEqual(3);
    expect(small.length).toBeGreaterThan(1);
    expect(fuseElementwise(wide, info([14]), OPTS)).toHaveLength(1);
  });
});

// ------------------------------------------------------------------ random programs on every mode

type Unary = 'tanh' | 'neg' | 'abs' | 'relu' | 'gelu' | 'geluGrad' | 'sign' | 'heaviside' | 'expTanh' | 'sqrt1' | 'log1' | 'rsqrt1';
type Binary = 'add' | 'sub' | 'mul' | 'maximum' | 'minimum' | 'divSafe' | 'whereGreater' | 'less' | 'powSafe' | 'mulConst' | 'addConst';
type Node = { u: Unary; a: number } | { b: Binary; a: number; c: number; k: number };

interface Prog {
  shape: number[];
  /** per input: which output dimensions it keeps (others are 1), and how many leading dims it has */
  inputs: { keep: boolean[]; rank: number }[];
  nodes: Node[];
  /** also return this value (an escaping intermediate), if set */
  extra: number | null;
  data: number[][];
}

const UNARY: Unary[] = ['tanh', 'neg', 'abs', 'relu', 'gelu', 'geluGrad', 'sign', 'heaviside', 'expTanh', 'sqrt1', 'log1', 'rsqrt1'];
const BINARY: Binary[] = ['add', 'sub', 'mul', 'maximum', 'minimum', 'divSafe', 'whereGreater', 'less', 'powSafe', 'mulConst', 'addConst'];
const CONSTS = [0.5, -1.25, 3, 0.1];

function inputShape(p: Prog, i: number): number[] {
  const { keep, rank } = p.inputs[i]!;
  const n = p.shape.length;
  return p.shape.slice(n - rank).map((d, j) => (keep[n - rank + j] ? d : 1));
}

const progArb: fc.Arbitrary<Prog> = fc
  .record({
    shape: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }),
    nIn: fc.integer({ min: 1, max: 4 }),
    nNodes: fc.integer({ min: 2, max: 12 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    extra: fc.boolean(),
  })
  .map(({ shape, nIn, nNodes, seed, extra }) => {
    let s = seed;
    const rnd = (n: number) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return Math.floor((s / 2 ** 32) * n);
    };
    // input 0 has the full shape; the others broadcast
    const inputs = Array.from({ length: nIn }, (_, i) => ({
      keep: shape.map(() => i === 0 || rnd(3) > 0),
      rank: i === 0 ? shape.length : 1 + rnd(shape.length),
    }));
    const nodes: Node[] = [];
    for (let j = 0; j < nNodes; j++) {
      const avail = nIn + j;
      // prefer recent values (chains), sometimes reuse older ones (trees, shared intermediates)
      const pick = () => (rnd(3) > 0 ? avail - 1 - rnd(Math.min(3, avail)) : rnd(avail));
      nodes.push(rnd(5) < 2 ? { u: UNARY[rnd(UNARY.length)]!, a: pick() } : { b: BINARY[rnd(BINARY.length)]!, a: pick(), c: pick(), k: CONSTS[rnd(CONSTS.length)]! });
    }
    const p: Prog = { shape, inputs, nodes, extra: extra && nNodes > 2 ? nIn + rnd(nNodes - 1) : null, data: [] };
    p.data = inputs.map((_, i) => Array.from({ length: inputShape(p, i).reduce((a, b) => a * b, 1) }, () => (rnd(2001) - 1000) / 500));
    return p;
  });

/** No step functions (comparisons, where, sign, heaviside) anywhere in the program. */
function continuous(p: Prog): boolean {
  return p.nodes.every((n) => ('u' in n ? n.u !== 'sign' && n.u !== 'heaviside' : n.b !== 'whereGreater' && n.b !== 'less'));
}

function apply(n: Node, v: E.Tensor[]): E.Tensor {
  if ('u' in n) {
    const x = v[n.a]!;
    switch (n.u) {
      case 'expTanh': return E.exp(E.tanh(x));
      case 'sqrt1': return E.sqrt(E.add(E.abs(x), 1));
      case 'log1': return E.log(E.add(E.abs(x), 1));
      case 'rsqrt1': return E.rsqrt(E.add(E.abs(x), 1));
      default: return (E[n.u] as (t: E.Tensor) => E.Tensor)(x);
    }
  }
  const a = v[n.a]!;
  const b = v[n.c]!;
  switch (n.b) {
    case 'divSafe': return E.div(a, E.add(E.abs(b), 1));
    case 'whereGreater': return E.where(E.greater(a, b), a, E.mul(b, n.k));
    case 'powSafe': return E.pow(E.add(E.abs(a), 0.5), E.tanh(b));
    case 'mulConst': return E.mul(E.tanh(a), n.k);
    case 'addConst': return E.add(a, n.k);
    default: return (E[n.b] as (x: E.Tensor, y: E.Tensor) => E.Tensor)(a, b);
  }
}

/** The program as a step function: all values, then the last (and optionally an escaping one). */
function stepFn(p: Prog) {
  return (...xs: E.Tensor[]): E.Tensor[] => {
    const v = [...xs];
    for (const n of p.nodes) v.push(apply(n, v));
    // the result has the full shape (an elementwise root over the whole grid)
    const last = E.add(v[v.length - 1]!, xs[0]!);
    return p.extra !== null ? [last, v[p.extra]!] : [last];
  };
}

function runJit(backend: string, p: Prog): HostResult[] {
  return E.tidy(() => {
    const prev = E.backend().name;
    E.setBackend(backend);
    try {
      const f = E.jit(stepFn(p));
      const xs = p.data.map((d, i) => E.tensor(d, inputShape(p, i)));
      const outs = f(...xs);
      const res = outs.map((t) => ({ shape: [...t.shape], dtype: t.dtype, data: Array.from(t.toArray()) }));
      f.dispose();
      return res;
    } finally {
      E.setBackend(prev);
    }
  });
}

describe.skipIf(modes.length === 0).each(modes)('fused jit plans on mode $mode', (m) => {
  const unfused = registerGpujsMode(m.mode, { name: `${m.backend}-unfused`, fuse: false });
  const fusedBackend = () => E.getBackend(m.backend) as GpujsBackend;
  const hostMode = m.mode === 'webasm' || m.mode === 'cpu';
  // webasm computes each op in float32 either way: bit-identical. cpu keeps float64 intermediates
  // inside a fused kernel (rounded to float32 only at the end). GL drivers compile a fused
  // expression as a whole (llvmpipe: 1/sqrt(v) then a subtraction differed by 1 ulp, pow by 1 ulp),
  // so fused and unfused GL agree to a few ulps per op; a comparison of two nearly equal values can
  // then flip, so GL programs with one may differ in a few elements (at most 5%)
  const vsUnfused = m.mode === 'webasm' ? ('exact' as const) : m.mode === 'cpu' ? { rel: 2e-6, abs: 1e-6 } : { rel: 2e-5, abs: 2e-6 };
  const vsReference = hostMode ? { rel: 1e-5, abs: 1e-6 } : { rel: 2e-4, abs: 1e-4 };

  it('random elementwise programs: fused = unfused, and the reference within the mode precision', () => {
    const b = fusedBackend();
    b.resetCounters();
    let fusedLaunches = 0;
    fc.assert(
      fc.property(progArb, (p) => {
        const before = b.nativeRuns()[FUSED_OP] ?? 0;
        const got = runJit(m.backend, p);
        fusedLaunches += (b.nativeRuns()[FUSED_OP] ?? 0) - before;
        const plain = runJit(unfused, p);
        const ref = runJit('reference', p);
        got.forEach((g, i) => {
          const c1 = compareResults(g, plain[i]!, vsUnfused, m.tol);
          const label = `${m.mode}: fused vs unfused, output ${i}, ${JSON.stringify(p.nodes)}: ${c1.bad.join('; ')}`;
          if (hostMode || continuous(p)) expect(c1.badCount, label).toBe(0);
          else expect(c1.badCount, label).toBeLessThanOrEqual(Math.max(1, 0.05 * c1.n));
          // a comparison can flip on a last-ulp difference (GL's tanh vs JavaScript's), and a jump
          // is no precision bound: programs with one are checked against the unfused plan only
          // (the equivalence suite checks each unfused op against the reference)
          if (!continuous(p)) return;
          const c2 = compareResults(g, ref[i]!, vsReference, m.tol);
          expect(c2.bad, `${m.mode}: fused vs reference, output ${i}`).toEqual([]);
        });
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
    expect(fusedLaunches, 'no fused kernel ran').toBeGreaterThan(0);
    expect(b.fallbacks()).toEqual({});
  });

  it('an escaping intermediate is materialized and fusion does not cross it', () => {
    const b = fusedBackend();
    const f = (x: E.Tensor, y: E.Tensor) => {
      const a = E.mul(E.exp(x), y); // returned, and read by the chain below
      return [E.tanh(E.add(a, x)), a];
    };
    const x = [0.5, -1, 2, 0.25, 1, -0.5, 3];
    const y = [1, 2, 3, -1, -2, 0.5, 0.125];
    const run = (name: string) =>
      E.tidy(() => {
        const prev = E.backend().name;
        E.setBackend(name);
        try {
          const g = E.jit(f);
          b.resetCounters();
          const r = g(E.tensor(x, [7]), E.tensor(y, [7])).map((t) => Array.from(t.toArray()));
          g.dispose();
          return r;
        } finally {
          E.setBackend(prev);
        }
      });
    const got = run(m.backend);
    // exp·y fused into one launch (its output escapes), tanh(a + x) into another
    expect(b.nativeRuns()).toEqual({ [FUSED_OP]: 2 });
    expect(got).toEqual(run(unfused));
  });

  it('a jit training step (MLP with layerNorm and gelu, valueAndGrad, SGD) fused = unfused', () => {
    const loss = (p: { w: E.Tensor; v: E.Tensor }, x: E.Tensor, y: E.Tensor) => {
      const h = E.gelu(E.layerNorm(E.matmul(x, p.w), null, null));
      const d = E.sub(E.matmul(h, p.v), y);
      return E.mean(E.mul(d, d));
    };
    const sgd = (p: { w: E.Tensor; v: E.Tensor }, x: E.Tensor, y: E.Tensor) => {
      const [l, g] = E.valueAndGrad(loss)(p, x, y);
      return { l, p: { w: E.sub(p.w, E.mul(g.w, 0.1)), v: E.sub(p.v, E.mul(g.v, 0.1)) } };
    };
    const seq = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * k) * 0.7);
    const run = (name: string) =>
      E.tidy(() => {
        const prev = E.backend().name;
        E.setBackend(name);
        try {
          const step = E.jit(sgd);
          const x = E.tensor(seq(6 * 5, 1.3), [6, 5]);
          const y = E.tensor(seq(6 * 3, 0.7), [6, 3]);
          let p = { w: E.tensor(seq(5 * 7, 0.9), [5, 7]), v: E.tensor(seq(7 * 3, 1.7), [7, 3]) };
          const ls: number[] = [];
          for (let i = 0; i < 3; i++) {
            const r = step(p, x, y);
            ls.push(r.l.item());
            p = r.p;
          }
          step.dispose();
          return { ls, w: Array.from(p.w.toArray()) };
        } finally {
          E.setBackend(prev);
        }
      });
    const b = fusedBackend();
    b.resetCounters();
    const got = run(m.backend);
    expect(b.nativeRuns()[FUSED_OP] ?? 0).toBeGreaterThan(0);
    const plain = run(unfused);
    if (vsUnfused === 'exact') expect(got).toEqual(plain);
    else {
      const c = compareResults({ shape: [got.w.length], dtype: 'float32', data: got.w }, { shape: [plain.w.length], dtype: 'float32', data: plain.w }, { rel: 1e-4, abs: 1e-6 }, m.tol);
      expect(c.bad).toEqual([]);
      got.ls.forEach((l, i) => expect(Math.abs(l - plain.ls[i]!)).toBeLessThanOrEqual(1e-5 * Math.abs(l)));
    }
  });

  it('a fused launch gpu.js cannot run falls back to its ops on the host, counted', () => {
    const b = fusedBackend();
    b.resetCounters();
    const program: FusedProgram = {
      nodes: [
        { op: 'neg', args: [{ t: 0 }], attrs: {} },
        { op: 'mul', args: [{ n: 0 }, { s: 0 }], attrs: {} },
        { op: 'add', args: [{ n: 1 }, { t: 1 }], attrs: {} },
      ],
      scalars: [0.5],
    };
    const got = onBackend(m.backend, () =>
      E.tidy(() => {
        const x = E.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
        const y = E.tensor([10, 20, 30], [3]);
        const out = allocTensor([2, 3], 'float32');
        (b as unknown as { fallback(op: string, i: unknown[], o: unknown[], a: unknown, why: string): void }).fallback(FUSED_OP, [x, y], [out], { program }, 'test');
        return Array.from(out.toArray());
      }),
    );
    expect(got).toEqual([9.5, 19, 28.5, 8, 17.5, 27]);
    expect(Object.keys(b.fallbacks())).toEqual([FUSED_OP]);
  });

  it('GSAE_GPUJS_FUSE=0 / fuse: false replays the plan unfused', () => {
    const b = E.getBackend(unfused) as GpujsBackend;
    b.resetCounters();
    runOn(unfused, () => {
      const g = E.jit((x: E.Tensor) => E.tanh(E.exp(E.neg(x))));
      const r = g(E.tensor([1, 2, 3], [3]));
      g.dispose();
      return r;
    });
    expect(b.nativeRuns()[FUSED_OP]).toBeUndefined();
    expect(b.nativeRuns()).toEqual({ neg: 1, exp: 1, tanh: 1 });
  });
});
