/**
 * The gpujs equivalence cases (cases.ts) inside headless Chromium, where gpu.js's browser modes
 * run: WebGL2 and WebGL (GLSL kernels) and WebGPU (WGSL kernels), on SwiftShader when there is no
 * GPU. One browser run (browser/harness.ts) answers every case; each mode × case is one test here.
 *
 * Needs Debian's chromium at /usr/bin/chromium (GSAE_CHROMIUM overrides; .ci/browser-setup.sh
 * installs it) and playwright-core; without them the suite is skipped with the reason printed.
 * GSAE_BROWSER_MODES=webgl2,webgl,webgpu narrows the modes; GSAE_GPUJS_TEST_RUNS sets the
 * fast-check runs per case (default 2 here: every shape compiles new shaders, slow on SwiftShader).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { GpujsMode } from '../../../engine/backends/gpujs/index.js';
import { cases } from './cases.js';
import { browserUnavailable, formatReport, runInChromium, type BrowserRun } from './browser/harness.js';
import { SEED } from './modes.js';

const MODES = (process.env.GSAE_BROWSER_MODES ?? 'webgl2,webgl,webgpu').split(',').map((s) => s.trim()) as GpujsMode[];
const NUM_RUNS = Number(process.env.GSAE_GPUJS_TEST_RUNS ?? 2);

const unavailable = browserUnavailable();
if (unavailable) console.log(`[gpujs browser] skipped — ${unavailable}`);

describe.skipIf(unavailable !== null)('gpujs equivalence in headless Chromium (SwiftShader)', () => {
  let run: BrowserRun;
  beforeAll(async () => {
    run = await runInChromium({ modes: MODES, numRuns: NUM_RUNS, seed: SEED }, 240_000);
    console.log(formatReport(run).join('\n'));
  }, 300_000);

  for (const mode of MODES) {
    describe(`mode ${mode}`, () => {
      it('starts in the page (gpu.js reports the mode and the backend builds)', () => {
        const m = run.report.modes.find((x) => x.mode === mode);
        expect(m?.ran, `${mode}: ${m?.status}`).toBe(true);
      });
      for (const c of cases) {
        it(c.name, () => {
          const r = run.report.results.find((x) => x.mode === mode && x.name === c.name);
          expect(r, `${mode} ${c.name}: no result from the page`).toBeDefined();
          expect(r!.failure ?? null, `${mode} ${c.name}`).toBeNull();
          expect(r!.ok).toBe(true);
        });
      }
    });
  }
});
