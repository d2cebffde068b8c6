/**
 * The sparse row primitives (gatherDot, embeddingBag, scatterOuter) and adamStep, float64 on the
 * reference backend: VJPs against central differences, forward values against dense formulas
 * (tables in sparse_cases.ts), a closed VJP algebra (second-level pullbacks through the rules
 * themselves), and errors that name the op.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { fcParams, gradCheck, useReference } from './gradcheck.js';
import { SPARSE_FORWARD_CASES, SPARSE_GRAD_CASES } from './sparse_cases.js';

beforeAll(useReference);

describe('sparse row primitives and adamStep (float64, reference)', () => {
  for (const c of SPARSE_GRAD_CASES) {
    it(`VJP vs central differences — ${c.name}`, () => {
      const before = E.memory().tensors;
      fc.assert(fc.property(c.arb, (p) => void gradCheck(p)), fcParams());
      expect(E.memory().tensors).toBe(before);
    });
  }
  for (const c of SPARSE_FORWARD_CASES) {
    it(`forward — ${c.name}`, () => {
      fc.assert(fc.property(c.arb, (ch) => ch.run()), fcParams());
    });
  }

  it('a chain of all three (as in an SAE step) has the gradient of the dense computation', () => {
    // loss = Σ (embeddingBag(gatherDot(a, We), idx, Wd) − y)², vs the same with dense matmuls and S
    const [B, k, d, m] = [3, 2, 4, 5];
    const rng = new E.Rng(11);
    const h = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
    const idxData = [0, 3, 3, 3, 4, 1];
    E.tidy(() => {
      const a = E.tensor(h(B * d), [B, d], 'float64'), We = E.tensor(h(d * m), [d, m], 'float64'), Wd = E.tensor(h(m * d), [m, d], 'float64');
      const y = E.tensor(h(B * d), [B, d], 'float64');
      const idx = E.tensor(Int32Array.from(idxData), [B, k], 'int32');
      const sparse = (a_: E.Tensor, we: E.Tensor, wd: E.Tensor) => {
        const e = E.sub(E.embeddingBag(E.gatherDot(a_, we, idx, 'cols'), idx, wd, 'rows'), y);
        return E.sum(E.mul(e, e));
      };
      // dense: mask M[b, r] = number of times r is picked in row b; v = (a @ We) at the picks
      const M = new Float64Array(B * m);
      idxData.forEach((r, p) => (M[Math.floor(p / k) * m + r]! += 1));
      const mask = E.tensor(M, [B, m], 'float64');
      const dense = (a_: E.Tensor, we: E.Tensor, wd: E.Tensor) => {
        const e = E.sub(E.matmul(E.mul(E.matmul(a_, we), mask), wd), y);
        return E.sum(E.mul(e, e));
      };
      const [vs, gs] = E.valueAndGrad(sparse, { argnums: [0, 1, 2] })(a, We, Wd) as [E.Tensor, E.Tensor[]];
      const [vd, gd] = E.valueAndGrad(dense, { argnums: [0, 1, 2] })(a, We, Wd) as [E.Tensor, E.Tensor[]];
      expect(vs.item()).toBeCloseTo(vd.item(), 10);
      gs.forEach((g, i) => Array.from(g.toArray()).forEach((v, j) => expect(v).toBeCloseTo(gd[i]!.toArray()[j]!, 10)));
    });
  });

  it('errors name the op: shapes, dtypes, layout, out-of-range indices', () => {
    const idx = E.tensor([[0, 1]], [1, 2], 'int32');
    const cases: [() => unknown, RegExp][] = [
      [() => E.gatherDot(E.zeros([1, 3]), E.zeros([4, 2]), idx), /gatherDot: a \[1, 3\] must be \[1, 2\]/],
      [() => E.gatherDot(E.zeros([1, 3]), E.zeros([4, 3]), E.tensor([[0, 1]], [1, 2], 'float32')), /gatherDot: indices must be int32/],
      [() => E.gatherDot(E.zeros([1, 3]), E.zeros([4, 3]), E.tensor([0, 1], [1, 1, 2], 'int32')), /gatherDot: indices must be \[batch, k\] \(k picks per row\) or \[n\]/],
      [() => E.gatherDot(E.zeros([2, 3]), E.zeros([4, 3]), E.tensor([0, 8], [2], 'int32')), /gatherDot: flat pick 8 at \[1\] is out of range for a \[2, 4\] grid/],
      [() => E.embeddingBag(E.zeros([2]), E.tensor([0, 1], [2], 'int32'), E.zeros([4, 3])), /embeddingBag: flat picks \[2\] need the number of output rows \(batch\)/],
      [() => E.embeddingBag(E.zeros([1, 2]), idx, E.zeros([4, 3]), 'rows', 3), /embeddingBag: batch = 3 but indices \[1, 2\] have 1 rows/],
      [() => E.embeddingBag(E.zeros([3]), E.tensor([0, 1], [2], 'int32'), E.zeros([4, 3]), 'rows', 1), /embeddingBag: values \[3\] must be \[2\]/],
      [() => E.scatterOuter(E.zeros([2]), E.tensor([0, -1], [2], 'int32'), E.zeros([2, 3]), 4, 'cols'), /scatterOuter: flat pick -1 at \[1\] is out of range/],
      [() => E.scatterOuter(E.zeros([1]), E.tensor([0], [1], 'int32'), E.zeros([65536, 1]), 65536), /scatterOuter: flat picks into a \[65536, 65536\] grid overflow int32/],
      [() => E.gatherDot(E.zeros([1, 3]), E.zeros([4, 3]), idx, 'diag' as E.SparseLayout), /gatherDot: layout must be 'rows'/],
      [() => E.embeddingBag(E.zeros([1, 3]), idx, E.zeros([4, 3])), /embeddingBag: values \[1, 3\] must be \[1, 2\]/],
      [() => E.embeddingBag(E.zeros([1, 2]), idx, E.zeros([4, 3], 'float64')), /embeddingBag: float operands must share one dtype/],
      [() => E.scatterOuter(E.zeros([1, 2]), idx, E.zeros([2, 3]), 4), /scatterOuter: a \[2, 3\] must be \[1, d\]/],
      [() => E.scatterOuter(E.zeros([1, 2]), idx, E.zeros([1, 3]), 1.5), /scatterOuter: m = 1.5 must be a non-negative integer/],
      [() => E.gatherDot(E.zeros([1, 3]), E.zeros([1, 3]), idx), /gatherDot: index 1 at \[0, 1\] is out of range for a table of 1 rows/],
      [() => E.scatterOuter(E.zeros([1, 2]), E.tensor([[0, -2]], [1, 2], 'int32'), E.zeros([1, 3]), 4, 'cols'), /scatterOuter: index -2 at \[0, 1\] is out of range/],
      [() => E.adamStep(E.zeros([2]), E.zeros([3]), E.zeros([2]), E.zeros([2]), { stepSize: E.scalar(1), sqrtBc2: E.scalar(1), decay: E.scalar(1) }, { beta1: 0.9, beta2: 0.9, eps: 1e-8, decoupledDecay: false }), /adamStep: grad \[3\] must have the parameter's shape \[2\]/],
      [() => E.adamStep(E.zeros([2]), E.zeros([2]), E.zeros([2]), E.zeros([2]), { stepSize: E.zeros([1]), sqrtBc2: E.scalar(1), decay: E.scalar(1) }, { beta1: 0.9, beta2: 0.9, eps: 1e-8, decoupledDecay: false }), /adamStep: stepSize must be a 0-d float32 tensor/],
    ];
    for (const [f, re] of cases) expect(() => E.tidy(() => void f())).toThrow(re);
  });
});
