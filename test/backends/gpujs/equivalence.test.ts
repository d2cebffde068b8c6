/**
 * Cross-backend equivalence: every primitive (and the composites built from them) gives the
 * reference backend's values on every gpu.js mode this machine offers, within the mode's
 * precision. Unavailable modes are printed with the reason.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../../engine/index.js';
import type { GpujsBackend } from '../../../engine/backends/gpujs/index.js';
import { expectClose, runOn } from './compare.js';
import { cases, type Case } from './cases.js';
import { modesUnderTest, SEED, stopDisplay, type ModeUnderTest } from './modes.js';

const { modes, skipped } = await modesUnderTest();
for (const s of skipped) console.log(`[gpujs equivalence] mode skipped — ${s}`);
afterAll(stopDisplay);

const NUM_RUNS = Number(process.env.GSAE_GPUJS_TEST_RUNS ?? 6);

// ------------------------------------------------------------------ run on every mode

describe.skipIf(modes.length === 0)('gpujs equivalence with the reference backend', () => {
  for (const m of modes) {
    describe(`mode ${m.mode}`, () => {
      for (const c of cases) it(c.name, () => check(m, c));
    });
  }
});

function check<T>(m: ModeUnderTest, c: Case<T>): void {
  const gl = !['webasm', 'cpu'].includes(m.mode);
  const b = E.getBackend(m.backend) as GpujsBackend;
  b.resetCounters();
  fc.assert(
    fc.property(c.arb(gl), (t) => {
      const ref = runOn('reference', () => c.build(t));
      const got = runOn(m.backend, () => c.build(t));
      expectClose(`${m.mode} ${c.name}`, got, ref, c.bound(t), m.tol);
    }),
    { seed: SEED, numRuns: NUM_RUNS },
  );
  // the values must come from gpu.js kernels in this mode, not from the host fallback
  const unexpected = Object.entries(b.fallbacks()).filter(([op]) => !(c.fallbacks ?? []).includes(op));
  expect(unexpected.map(([op, f]) => `${op}: ${f.reason}`), `${m.mode} ${c.name}: ops that fell back to the host`).toEqual([]);
  expect(Object.keys(b.nativeRuns()).length, `${m.mode} ${c.name}: no op ran as a gpu.js kernel`).toBeGreaterThan(0);
}
