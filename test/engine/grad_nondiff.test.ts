/** Ops registered notDifferentiable produce constants: gradients through them are exactly zero. */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { f64, fcParams, read, shapeArb, hostArb, useReference } from './gradcheck.js';
import { CONST_CASES, checkConstant } from './nondiff_cases.js';

beforeAll(useReference);

const allZero = (t: E.Tensor | null): boolean => t instanceof E.Tensor && read(t).every((v) => v === 0);

describe('notDifferentiable ops are constants for autodiff', () => {
  for (const c of CONST_CASES) {
    it(`${c.op}: zero gradient through it; other paths unaffected`, () => {
      fc.assert(fc.property(c.arb, checkConstant), fcParams(20));
    });
  }

  it('cast to int32 and back carries no gradient; float→float casts do', () => {
    fc.assert(
      fc.property(
        shapeArb().chain((s) => hostArb(s)),
        (x) =>
          E.tidy(() => {
            const t = f64(x);
            const gInt = E.grad((v: E.Tensor) => E.sum(E.cast(E.cast(v, 'int32'), 'float64')))(t);
            expect(allZero(gInt)).toBe(true);
            const gF = E.grad((v: E.Tensor) => E.sum(E.cast(E.cast(v, 'float32'), 'float64')))(t);
            expect(read(gF).every((v) => v === 1)).toBe(true);
          }),
      ),
      fcParams(20),
    );
  });

  it("where's condition gets no gradient even when it is a float tensor being differentiated", () => {
    E.tidy(() => {
      const cond = E.tensor(Float64Array.from([1, 0, 2]), [3], 'float64');
      const a = E.tensor(Float64Array.from([1, 2, 3]), [3], 'float64');
      const [gc, ga] = E.grad((c: E.Tensor, x: E.Tensor) => E.sum(E.where(c, x, 0)), { argnums: [0, 1] })(cond, a) as E.Tensor[];
      expect(read(gc!)).toEqual([0, 0, 0]);
      expect(read(ga!)).toEqual([1, 0, 1]);
    });
  });
});
