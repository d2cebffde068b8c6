/** Forward checks of the elementwise primitives against independent formulas (table in forward_cases.ts). */
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { ELEMENTWISE_FORWARD_CASES } from './forward_cases.js';
import { fcParams, useReference } from './gradcheck.js';

beforeAll(useReference);

describe('forward vs independent formula: elementwise primitives', () => {
  for (const c of ELEMENTWISE_FORWARD_CASES) {
    it(c.name, () => fc.assert(fc.property(c.arb, (check) => check.run()), fcParams(60)));
  }
});
