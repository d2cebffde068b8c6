/**
 * Every property in the tables can fail: each one is re-run against a deliberately broken engine
 * (a VJP rule scaled by 1.5, a kernel that corrupts one output element, a constant op given a
 * gradient) and must then report a counterexample. A property that still passes tests nothing.
 */
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { referenceKernels } from '../../engine/backends/reference/index.js';
import type { VjpRule } from '../../engine/ops/registry.js';
import { FORWARD_CASES } from './forward_cases.js';
import { GRAD_CASES } from './grad_cases.js';
import { fcParams, gradCheck, useReference } from './gradcheck.js';
import { CONST_CASES, checkConstant } from './nondiff_cases.js';

beforeAll(useReference);

type Mutable = { vjp?: VjpRule };
const restore: (() => void)[] = [];
afterEach(() => {
  while (restore.length) restore.pop()!();
});

function setVjp(op: string, rule: VjpRule | undefined): void {
  const def = E.getOp(op) as Mutable;
  const orig = def.vjp;
  def.vjp = rule;
  restore.push(() => (def.vjp = orig));
}

/** fc.assert must throw: the property found the planted bug. */
function expectCaught(prop: fc.IProperty<unknown>): void {
  let caught = false;
  try {
    fc.assert(prop, { ...fcParams(), endOnFailure: true }); // no shrinking: only the failure matters
  } catch {
    caught = true;
  }
  expect(caught).toBe(true);
}

describe('planted bugs are caught', () => {
  for (const c of GRAD_CASES) {
    it(`gradient property "${c.name}" catches a VJP of ${c.op} scaled by 1.5`, () => {
      const orig = E.getOp(c.op).vjp!;
      setVjp(c.op, (ctx) => orig(ctx).map((t) => (t ? E.mul(t, 1.5) : t)));
      expectCaught(fc.property(c.arb, (p) => void gradCheck(p)));
    });
  }

  for (const c of FORWARD_CASES) {
    it(`forward check "${c.name}" catches a ${c.op} kernel that corrupts one element`, () => {
      const orig = referenceKernels[c.op]!;
      referenceKernels[c.op] = (ins, outs, attrs) => {
        orig(ins, outs, attrs);
        const o = outs[0]!.data;
        if (o.length > 0) o[0] = o[0] === 1 ? 2 : 1;
      };
      restore.push(() => (referenceKernels[c.op] = orig));
      expectCaught(fc.property(c.arb, (ch) => ch.run()));
    });
  }

  // argmax/topkIndices/gsaeTopkIndices return int32 (no cotangent can reach them) and full/arange have no inputs:
  // giving those a VJP changes nothing, so only the float-valued constant ops are mutated.
  for (const c of CONST_CASES.filter((k) => !['argmax', 'topkIndices', 'gsaeTopkIndices', 'full', 'arange'].includes(k.op))) {
    it(`zero-gradient property of ${c.op} catches it passing a gradient`, () => {
      setVjp(c.op, (ctx) => ctx.inputs.map((t) => (t.dtype === 'int32' ? null : E.onesLike(t))));
      expectCaught(fc.property(c.arb, checkConstant));
    });
  }
});
