/** Gradient properties of the elementwise primitives (table in grad_cases.ts), float64 on the reference backend. */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { ELEMENTWISE_GRAD_CASES } from './grad_cases.js';
import { fcParams, gradCheck, useReference } from './gradcheck.js';

beforeAll(useReference);

describe('VJP vs central differences: elementwise primitives', () => {
  for (const c of ELEMENTWISE_GRAD_CASES) {
    it(c.name, () => {
      const before = E.memory().tensors;
      fc.assert(fc.property(c.arb, (p) => void gradCheck(p)), fcParams());
      // the checker itself runs everything in tidy scopes: nothing may survive a property
      expect(E.memory().tensors).toBe(before);
    });
  }
});
