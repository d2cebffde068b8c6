/**
 * Which gpu.js modes the tests run on here, and the tolerances each mode's arithmetic earns.
 *
 * headless-gl needs the native `gl` module and an X display. When `gl` is built but no DISPLAY is
 * set, a private Xvfb (started here; stopped by `stopDisplay`, or by its watchdog when the test
 * process ends) provides one, so `npm test` covers the GLSL path without `xvfb-run`. Modes that cannot run are listed with the reason, so a skip is
 * never silent.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { probeGpujs, registerGpujsMode, type GpujsMode, type ProbeResult } from '../../../engine/backends/gpujs/index.js';
import { TOLERANCE, type ModeTolerance } from './compare_core.js';

export const SEED = Number(process.env.GSAE_TEST_SEED ?? 20240917);

export { TOLERANCE, onBackend, type ModeTolerance } from './compare_core.js';

export interface ModeUnderTest {
  mode: GpujsMode;
  backend: string;
  tol: ModeTolerance;
}

let xvfb: ChildProcess | null = null;

/** Starts a private Xvfb when `gl` is built but there is no display; returns why not otherwise. */
async function ensureDisplay(): Promise<string | null> {
  if (process.env.DISPLAY) return null;
  try {
    createRequire(import.meta.url)('gl');
  } catch {
    return null; // the probe reports gl itself as unavailable
  }
  if (spawnSync('sh', ['-c', 'command -v Xvfb']).status !== 0) return 'no X display and no Xvfb binary (apt install xvfb)';
  // -displayfd 3: Xvfb picks a free display number and writes it to fd 3 once it accepts clients.
  // A shell watchdog stops it when this process ends, however it ends (afterAll does not run when
  // the test process is killed).
  const watchdog =
    'Xvfb -displayfd 3 -screen 0 64x64x24 -nolisten tcp & x=$!; ' +
    `trap 'kill $x 2>/dev/null; wait $x; exit 0' TERM INT HUP; ` +
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 $x 2>/dev/null; do sleep 1; done; ` +
    'kill $x 2>/dev/null; wait $x';
  const child = spawn('sh', ['-c', watchdog], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const display = await new Promise<string | null>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(null), 15_000);
    child.stdio[3]!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /^(\d+)\s/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
  if (!display) {
    child.kill();
    return 'Xvfb did not report a display';
  }
  child.unref();
  (child.stdio[3] as unknown as { unref?: () => void }).unref?.();
  xvfb = child;
  process.env.DISPLAY = `:${display}`;
  return null;
}

/** Stops the Xvfb this module started (if any). */
export function stopDisplay(): void {
  if (xvfb) {
    xvfb.kill();
    xvfb = null;
  }
}

let cache: { modes: ModeUnderTest[]; skipped: string[]; probe: ProbeResult } | null = null;

/**
 * The modes to test: every synchronous gpu.js mode usable here (GSAE_GPUJS_TEST_MODES=webasm,cpu
 * narrows it). Skipped modes come with their reasons.
 */
export async function modesUnderTest(): Promise<{ modes: ModeUnderTest[]; skipped: string[]; probe: ProbeResult }> {
  if (cache) return cache;
  const displayProblem = await ensureDisplay();
  const probe = probeGpujs(true);
  const only = process.env.GSAE_GPUJS_TEST_MODES?.split(',').map((s) => s.trim());
  const modes: ModeUnderTest[] = [];
  const skipped: string[] = [];
  for (const s of probe.modes) {
    if (only && !only.includes(s.mode)) {
      skipped.push(`${s.mode}: not in GSAE_GPUJS_TEST_MODES`);
      continue;
    }
    if (!s.usable) {
      const why = s.mode === 'headlessgl' && displayProblem ? `${s.reason} (${displayProblem})` : s.reason;
      skipped.push(`${s.mode}: ${why}`);
      continue;
    }
    modes.push({ mode: s.mode, backend: registerGpujsMode(s.mode), tol: TOLERANCE[s.mode] });
  }
  cache = { modes, skipped, probe };
  return cache;
}
