/** Which kernels a piece of code launches (to check that a table entry really covers its op). */
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import { SEED } from './gradcheck.js';

export function launchedOps(fn: () => void): Set<string> {
  const b = E.getBackend('reference');
  const seen = new Set<string>();
  const orig = b.run;
  b.run = function (op, inputs, outputs, attrs) {
    seen.add(op);
    return orig.call(this, op, inputs, outputs, attrs);
  };
  try {
    E.tidy(fn);
  } finally {
    b.run = orig;
  }
  return seen;
}

/** True when one of the first `tries` samples of `arb` launches `op` when `use` runs it. */
export function someSampleLaunches<T>(arb: fc.Arbitrary<T>, op: string, use: (t: T) => void, tries = 10): boolean {
  return fc.sample(arb, { seed: SEED, numRuns: tries }).some((t) => launchedOps(() => use(t)).has(op));
}
