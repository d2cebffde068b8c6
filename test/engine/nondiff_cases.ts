/**
 * The constant-op table: for every op registered as notDifferentiable, a function of float64
 * inputs whose output comes from that op. Gradients through it must be exactly zero (its output
 * is a constant, like a comparison in PyTorch), while other paths are unaffected.
 */
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import { broadcastShapesArb, hostArb, shapeArb, type HostTensor } from './gradcheck.js';
import { ADAM_CONST_CASE } from './sparse_cases.js';

export interface ConstProblem {
  inputs: readonly HostTensor[];
  /** returns the constant op's output (any dtype) */
  f: (...xs: E.Tensor[]) => E.Tensor;
  label: string;
}

export interface ConstCase {
  op: string;
  arb: fc.Arbitrary<ConstProblem>;
}

const fmt = (s: readonly number[]): string => `[${s.join(',')}]`;
const unaryArb = (op: string, f: (x: E.Tensor) => E.Tensor): ConstCase => ({
  op,
  arb: shapeArb()
    .chain((s) => hostArb(s))
    .map((x) => ({ inputs: [x], f, label: `${op} ${fmt(x.shape)}` })),
});

/** Values from a small set, so comparisons see ties. */
const tieValues = { min: -1, max: 1 };

const comparison = (op: string, f: (a: E.Tensor, b: E.Tensor) => E.Tensor): ConstCase => ({
  op,
  arb: broadcastShapesArb(2)
    .chain(([sa, sb]) => fc.tuple(hostArb(sa!, tieValues), hostArb(sb!, tieValues)))
    .map(([a, b]) => ({
      inputs: [{ shape: a.shape, data: a.data.map(Math.round) }, { shape: b.shape, data: b.data.map(Math.round) }],
      f,
      label: `${op} ${fmt(a.shape)} ${fmt(b.shape)}`,
    })),
});

export const CONST_CASES: ConstCase[] = [
  ADAM_CONST_CASE,
  unaryArb('sign', E.sign),
  unaryArb('geluGrad', E.geluGrad),
  unaryArb('heaviside', E.heaviside),
  unaryArb('stopGradient', E.stopGradient),
  comparison('equal', E.equal),
  comparison('notEqual', E.notEqual),
  comparison('greater', E.greater),
  comparison('greaterEqual', E.greaterEqual),
  comparison('less', E.less),
  comparison('lessEqual', E.lessEqual),
  {
    op: 'argmax',
    arb: shapeArb({ minRank: 1 })
      .chain((s) => fc.tuple(hostArb(s), fc.integer({ min: 0, max: s.length - 1 })))
      .map(([x, axis]) => ({ inputs: [x], f: (t: E.Tensor) => E.argmax(t, axis), label: `argmax ${fmt(x.shape)} axis ${axis}` })),
  },
  {
    op: 'topkIndices',
    arb: shapeArb({ minRank: 1 })
      .chain((s) => fc.tuple(hostArb(s), fc.integer({ min: 0, max: s[s.length - 1]! })))
      .map(([x, k]) => ({ inputs: [x], f: (t: E.Tensor) => E.topkIndices(t, k), label: `topkIndices ${fmt(x.shape)} k ${k}` })),
  },
  {
    op: 'gsaeTopkIndices',
    arb: fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }))
      .chain(([B, d, m]) => fc.tuple(hostArb([B, m]), hostArb([B, d]), hostArb([m, d]), fc.integer({ min: 0, max: m })))
      .map(([z, g, w, k]) => ({
        inputs: [z, g, w],
        f: (zt: E.Tensor, gt: E.Tensor, wt: E.Tensor) => E.gsaeTopkIndices(zt, gt, wt, k, 1),
        label: `gsaeTopkIndices z ${fmt(z.shape)} d ${g.shape[1]} k ${k}`,
      })),
  },
  {
    op: 'full',
    arb: shapeArb()
      .chain((s) => hostArb(s))
      .map((x) => ({ inputs: [x], f: (t: E.Tensor) => E.full(t.shape, 2.5, 'float64'), label: `full ${fmt(x.shape)}` })),
  },
  {
    op: 'arange',
    arb: shapeArb({ minRank: 1, maxRank: 1, maxDim: 6 })
      .chain((s) => hostArb(s))
      .map((x) => ({ inputs: [x], f: (t: E.Tensor) => E.arange(0, t.shape[0]!, 1, 'float64'), label: `arange ${fmt(x.shape)}` })),
  },
];

const allZero = (t: unknown): boolean => t instanceof E.Tensor && Array.from(t.toArray()).every((v) => v === 0);

/**
 * 1. A loss that depends on the inputs only through the op has exactly zero gradients (and the
 *    value of the plain forward). 2. For same-shape float outputs, d/dx Σ x·op(x) = op(x) exactly:
 *    the direct path is unaffected.
 */
export function checkConstant(p: ConstProblem): void {
  E.tidy(() => {
    const xs = p.inputs.map((h) => E.tensor(Float64Array.from(h.data), h.shape, 'float64'));
    const argnums = xs.map((_, i) => i);
    const [value, grads] = E.valueAndGrad((...ts: E.Tensor[]) => E.sum(E.cast(p.f(...ts), 'float64')), { argnums })(...xs);
    if (!(grads as unknown[]).every(allZero)) throw new Error(`${p.label}: a gradient flowed through a constant op`);
    const y = p.f(...xs);
    const direct = Array.from(y.toArray()).reduce((a, b) => a + b, 0);
    if (Math.abs(value.item() - direct) > 1e-9 * Math.max(1, Math.abs(direct))) throw new Error(`${p.label}: value ${value.item()} vs forward ${direct}`);
    if (y.dtype === 'float64' && y.shape.length === xs[0]!.shape.length && y.shape.every((d, i) => d === xs[0]!.shape[i])) {
      const g = E.grad((...ts: E.Tensor[]) => E.sum(E.mul(ts[0]!, p.f(...ts))), { argnums })(...xs) as E.Tensor[];
      const want = Array.from(y.toArray());
      if (!Array.from(g[0]!.toArray()).every((v, i) => v === want[i])) throw new Error(`${p.label}: d/dx Σ x·op(x) is not op(x)`);
      if (!g.slice(1).every(allZero)) throw new Error(`${p.label}: gradient reached another input through the op`);
    }
  });
}
