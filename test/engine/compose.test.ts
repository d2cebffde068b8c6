/**
 * Chain rule through random programs: fast-check picks a sequence of smooth unary, binary (with a
 * fresh broadcast parameter), reduce and movement steps, tracking the shape on the host; the VJP of
 * the whole program is checked against central differences w.r.t. the input and every parameter.
 * Plus linearity of the gradient: grad(a·f + b·g) = a·grad f + b·grad g.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { SEED, broadcastHost, broadcastableTo, f64, fcParams, gradCheck, hostArb, range, read, shapeArb, sizeOf, useReference, type HostTensor } from './gradcheck.js';
import { reshapeTargetArb } from './grad_cases.js';

beforeAll(useReference);

interface Step {
  kind: string;
  /** parameters this step consumes (differentiated inputs) */
  params: HostTensor[];
  attrs: Record<string, unknown>;
  out: number[];
}

const UNARY: Record<string, (x: E.Tensor) => E.Tensor> = {
  tanh: E.tanh,
  gelu: E.gelu,
  neg: E.neg,
  expTanh: (x) => E.exp(E.tanh(x)),
  xTanhX: (x) => E.mul(x, E.tanh(x)),
  softplus: (x) => E.log(E.add(E.exp(E.tanh(x)), 1)),
  sqrtSq1: (x) => E.sqrt(E.add(E.mul(x, x), 1)),
};
const BINARY: Record<string, (x: E.Tensor, p: E.Tensor) => E.Tensor> = {
  add: E.add,
  sub: (x, p) => E.sub(p, x),
  mul: E.mul,
  divSoft: (x, p) => E.div(x, E.add(E.mul(p, p), 1)),
};

/**
 * One step valid for the current shape, with the shape it produces. Options are offered only when
 * they can succeed for this shape: a filter that can never pass would make fast-check retry forever.
 */
function stepArb(shape: readonly number[]): fc.Arbitrary<Step> {
  const r = shape.length;
  const s = [...shape];
  const n = sizeOf(s);
  const step = (kind: string, out: number[], attrs: Record<string, unknown> = {}, params: HostTensor[] = []): Step => ({ kind, params, attrs, out });
  const options: fc.Arbitrary<Step>[] = [
    fc.constantFrom(...Object.keys(UNARY)).map((k) => step(k, s)),
    fc
      .tuple(fc.constantFrom(...Object.keys(BINARY)), broadcastableTo(s).chain((ps) => hostArb(ps)))
      .map(([k, p]) => step(k, broadcastHost(s, p.shape), {}, [p])),
    // always possible (the flat vector has rank 1); other targets when they keep rank ≤ 4
    fc.option(reshapeTargetArb(s).filter((t) => t.length <= 4), { nil: undefined }).map((t0) => {
      const t = t0 ?? [-1];
      return step('reshape', t.map((d) => (d === -1 ? n / -sizeOf(t) : d)), { t });
    }),
  ];
  // the parameter may also be the larger operand: x broadcasts up to it
  if (r <= 3 && 2 * n <= 36) options.push(hostArb([2, ...s]).map((p) => step('mulLead', [...p.shape], {}, [p])));
  if (r > 0) {
    options.push(
      fc.tuple(fc.constantFrom('sum', 'mean', 'logsumexp'), fc.integer({ min: 0, max: r - 1 }), fc.boolean()).map(([k, a, kd]) => step(k, reduced(s, a, kd), { a, kd })),
      fc.tuple(fc.constantFrom('softmax', 'logSoftmax'), fc.integer({ min: 0, max: r - 1 })).map(([k, a]) => step(k, s, { a })),
      fc.shuffledSubarray(range(r), { minLength: r, maxLength: r }).map((perm) => step('transpose', perm.map((p) => s[p]!), { perm })),
      fc
        .tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: 1, max: d - b })))))
        .map((box) => step('slice', box.map((b) => b[1]), { begin: box.map((b) => b[0]), size: box.map((b) => b[1]) })),
      fc
        .tuple(fc.array(fc.nat(1), { minLength: r, maxLength: r }), fc.array(fc.nat(1), { minLength: r, maxLength: r }))
        .map(([b, a]) => step('pad', s.map((d, i) => d + b[i]! + a[i]!), { before: b, after: a }))
        .filter((st) => sizeOf(st.out) <= 48 || st.out.every((d, i) => d === s[i])),
      fc
        .integer({ min: 1, max: 3 })
        .filter((m) => (n / s[r - 1]!) * m <= 48)
        .chain((m) => hostArb([s[r - 1]!, m]))
        .map((w) => step('matmul', [...s.slice(0, -1), w.shape[1]!], {}, [w])),
    );
    // max only over a size-1 axis (a smooth identity): no ties to break
    const ones = range(r).filter((i) => s[i] === 1);
    if (ones.length > 0) options.push(fc.tuple(fc.constantFrom(...ones), fc.boolean()).map(([a, kd]) => step('max', reduced(s, a, kd), { a, kd })));
    if (2 * n <= 48) options.push(fc.integer({ min: 0, max: r - 1 }).map((a) => step('concatSelf', s.map((d, i) => (i === a ? 2 * d : d)), { a })));
  }
  return fc.oneof(...options);
}

const reduced = (s: readonly number[], a: number, kd: boolean): number[] => (kd ? s.map((d, i) => (i === a ? 1 : d)) : s.filter((_, i) => i !== a));

/** A program of 1..maxLen steps starting from `shape`. */
function programArb(shape: readonly number[], maxLen: number): fc.Arbitrary<Step[]> {
  return stepArb(shape).chain((st): fc.Arbitrary<Step[]> =>
    // longer programs are weighted up: the chain rule is what is under test
    maxLen <= 1 ? fc.constant<Step[]>([st]) : fc.oneof({ arbitrary: fc.constant<Step[]>([st]), weight: 1 }, { arbitrary: programArb(st.out, maxLen - 1).map((rest) => [st, ...rest]), weight: 3 }),
  );
}

interface Attrs {
  t: number[];
  a: number;
  kd: boolean;
  perm: number[];
  begin: number[];
  size: number[];
  before: number[];
  after: number[];
}

function apply(st: Step, x: E.Tensor, p: E.Tensor[]): E.Tensor {
  const a = st.attrs as unknown as Attrs;
  if (st.kind in UNARY) return UNARY[st.kind]!(x);
  if (st.kind in BINARY) return BINARY[st.kind]!(x, p[0]!);
  switch (st.kind) {
    case 'mulLead':
      return E.mul(p[0]!, x);
    case 'reshape':
      return E.reshape(x, a.t);
    case 'sum':
      return E.sum(x, a.a, a.kd);
    case 'mean':
      return E.mean(x, a.a, a.kd);
    case 'logsumexp':
      return E.logsumexp(x, a.a, a.kd);
    case 'max':
      return E.max(x, a.a, a.kd);
    case 'softmax':
      return E.softmax(x, a.a);
    case 'logSoftmax':
      return E.logSoftmax(x, a.a);
    case 'transpose':
      return E.transpose(x, a.perm);
    case 'slice':
      return E.slice(x, a.begin, a.size);
    case 'pad':
      return E.pad(x, a.before, a.after);
    case 'concatSelf':
      return E.concat([x, E.mul(x, 0.5)], a.a);
    case 'matmul':
      return E.matmul(x, p[0]!);
  }
  throw new Error(`unknown step ${st.kind}`);
}

/** f(x, ...params) running the program (params in step order). */
function build(prog: readonly Step[]): (x: E.Tensor, ...ps: E.Tensor[]) => E.Tensor {
  return (x, ...ps) => {
    let k = 0;
    let y = x;
    for (const st of prog) {
      const p = ps.slice(k, k + st.params.length);
      k += st.params.length;
      y = apply(st, y, p);
    }
    return y;
  };
}

const describeProg = (prog: readonly Step[]): string => prog.map((s) => `${s.kind}${Object.keys(s.attrs).length ? JSON.stringify(s.attrs) : ''}→[${s.out}]`).join(' ');

const programCase = shapeArb({ maxSize: 24 }).chain((s) => fc.tuple(hostArb(s, { min: -2, max: 2 }), programArb(s, 5)));

describe('compositions', () => {
  it('chain rule: the VJP of a random program of 1–5 steps matches central differences (input and parameters)', () => {
    fc.assert(
      fc.property(programCase, ([x, prog]) => {
        gradCheck({ inputs: [x, ...prog.flatMap((s) => s.params)], f: build(prog), label: `[${x.shape}] ${describeProg(prog)}` });
      }),
      fcParams(50),
    );
  });

  it('linearity: grad(a·f + b·g) = a·grad f + b·grad g for random programs f, g', () => {
    fc.assert(
      fc.property(
        shapeArb({ maxSize: 24 }).chain((s) => fc.tuple(hostArb(s, { min: -2, max: 2 }), programArb(s, 4), programArb(s, 4))),
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.double({ min: -3, max: 3, noNaN: true }),
        ([x, pf, pg], a, b) =>
          E.tidy(() => {
            // parameters are constants here; only x is differentiated
            const scalar = (prog: Step[]) => (t: E.Tensor) => E.sum(build(prog)(t, ...prog.flatMap((s) => s.params).map(f64)));
            const f = scalar(pf);
            const g = scalar(pg);
            const [v, gl] = E.valueAndGrad((t: E.Tensor) => E.add(E.mul(f(t), a), E.mul(g(t), b)))(f64(x));
            const [vf, gf] = E.valueAndGrad(f)(f64(x));
            const [vg, gg] = E.valueAndGrad(g)(f64(x));
            const lhs = read(gl);
            const rf = read(gf);
            const rg = read(gg);
            lhs.forEach((l, i) => {
              const r = a * rf[i]! + b * rg[i]!;
              expect(Math.abs(l - r)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(a * rf[i]!) + Math.abs(b * rg[i]!)));
            });
            expect(Math.abs(v.item() - (a * vf.item() + b * vg.item()))).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(a * vf.item()) + Math.abs(b * vg.item())));
          }),
      ),
      fcParams(40),
    );
  });

  it('the program generator reaches every kind of step and programs of several steps', () => {
    const progs = fc.sample(programCase, { seed: SEED, numRuns: 400 }).map(([, p]) => p);
    const kinds = new Set(progs.flatMap((p) => p.map((st) => st.kind)));
    const all = [...Object.keys(UNARY), ...Object.keys(BINARY), 'mulLead', 'reshape', 'sum', 'mean', 'logsumexp', 'max', 'softmax', 'logSoftmax', 'transpose', 'slice', 'pad', 'concatSelf', 'matmul'];
    expect(all.filter((k) => !kinds.has(k))).toEqual([]);
    expect(progs.reduce((a, p) => a + p.length, 0) / progs.length).toBeGreaterThan(2.5);
  });

  it('a tensor used many times accumulates its gradient (fan-out)', () => {
    fc.assert(
      fc.property(
        shapeArb({ maxSize: 24 }).chain((s) => hostArb(s)),
        fc.integer({ min: 1, max: 6 }),
        (x, n) =>
          E.tidy(() => {
            // f(x) = Σ x·(x + x + … n times) = n·Σx², so grad = 2n·x
            const g = read(E.grad((t: E.Tensor) => E.sum(E.mul(t, Array.from({ length: n - 1 }, () => t).reduce((acc: E.Tensor, u) => E.add(acc, u), t))))(f64(x)));
            x.data.forEach((v, i) => expect(g[i]).toBeCloseTo(2 * n * v, 12));
          }),
      ),
      fcParams(),
    );
  });
});
