/**
 * The browser side of the Chromium equivalence run: bundled (with the engine, the gpujs and
 * reference backends, fast-check and the shared cases) by harness.ts and loaded after gpu.js's
 * browser build. `globalThis.gsaeEquivalence(options)` runs every case on each requested gpu.js
 * mode against the reference backend in the same page and resolves to a report: per mode the
 * probe's status, per case pass/fail, the largest absolute and ulp errors seen, and which ops ran
 * as gpu.js kernels or fell back to the host.
 *
 * webgl2 / webgl run through the ordinary synchronous backend. webgpu's kernels are asynchronous
 * (gpu.js returns a Promise per call), so it runs through the backend's asynchronous mode
 * (`allowAsync`): ops are queued, and results are read after `await backend.flush()`.
 */
import fc from 'fast-check';
import * as E from '../../../../engine/index.js';
import { describeModes, probeGpujs, probeWebGpuAdapter, registerGpujsMode, type GpujsBackend, type GpujsMode } from '../../../../engine/backends/gpujs/index.js';
import { cases } from '../cases.js';
import { compareResults, onBackend, runOn, TOLERANCE, type HostResult } from '../compare_core.js';

export interface PageOptions {
  modes: GpujsMode[];
  numRuns: number;
  seed: number;
  /** only cases whose name contains this */
  only?: string;
}

export interface CaseResult {
  mode: GpujsMode;
  name: string;
  ok: boolean;
  /** fast-check runs done (stops at the first failure) */
  runs: number;
  failure?: string;
  maxAbs: number;
  maxUlps: number;
  /** largest error as a fraction of the allowed bound */
  maxBoundUse: number;
  /** ops that ran as gpu.js kernels (or zero-copy aliases) */
  native: string[];
  /** ops that ran on the host, with the reason */
  fallbacks: string[];
  ms: number;
}

export interface ModeReport {
  mode: GpujsMode;
  ran: boolean;
  status: string;
  renderer?: string;
}

export interface PageReport {
  userAgent: string;
  probe: string[];
  webgpuAdapter: string;
  modes: ModeReport[];
  results: CaseResult[];
}

/** Asynchronous backends (webgpu) expose these; see GpujsBackend's allowAsync. */
interface AsyncCapable {
  readonly isAsync?: boolean;
  flush?(): Promise<void>;
}

async function runOnAsync(name: string, program: () => E.Tensor): Promise<HostResult> {
  const b = E.getBackend(name) as unknown as AsyncCapable;
  if (!b.isAsync) return runOn(name, program);
  const t = onBackend(name, () => E.tidy(program));
  try {
    await b.flush!();
    return { shape: [...t.shape], dtype: t.dtype, data: Array.from(t.toArray()) };
  } finally {
    t.dispose();
    await b.flush!();
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function gsaeEquivalence(opts: PageOptions): Promise<PageReport> {
  const probe = probeGpujs(true);
  const adapter = await probeWebGpuAdapter();
  const report: PageReport = {
    userAgent: (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? '',
    probe: describeModes(probe),
    webgpuAdapter: adapter.available ? adapter.adapter! : `none: ${adapter.reason}`,
    modes: [],
    results: [],
  };
  for (const mode of opts.modes) {
    const st = probe.modes.find((s) => s.mode === mode)!;
    let name: string;
    try {
      name = registerGpujsMode(mode, mode === 'webgpu' ? { allowAsync: true } : {});
      E.getBackend(name);
    } catch (e) {
      report.modes.push({ mode, ran: false, status: `could not start: ${message(e)}`, ...(st.renderer ? { renderer: st.renderer } : {}) });
      continue;
    }
    report.modes.push({ mode, ran: true, status: st.usable ? 'usable' : `asynchronous: ${st.reason ?? ''}`, ...(st.renderer ? { renderer: st.renderer } : {}) });
    const gl = true;
    const tol = TOLERANCE[mode];
    const b = E.getBackend(name) as GpujsBackend;
    for (const c of cases) {
      if (opts.only && !c.name.includes(opts.only)) continue;
      b.resetCounters();
      const r: CaseResult = { mode, name: c.name, ok: true, runs: 0, maxAbs: 0, maxUlps: 0, maxBoundUse: 0, native: [], fallbacks: [], ms: 0 };
      const t0 = performance.now();
      let lastFailure = '';
      const out = await fc.check(
        fc.asyncProperty(c.arb(gl), async (t) => {
          r.runs++;
          lastFailure = '';
          const ref = runOn('reference', () => c.build(t));
          let got: HostResult;
          try {
            got = await runOnAsync(name, () => c.build(t));
          } catch (e) {
            lastFailure = `threw: ${message(e)}`;
            return false;
          }
          const cmp = compareResults(got, ref, c.bound(t), tol, 3);
          r.maxAbs = Math.max(r.maxAbs, cmp.maxAbs);
          r.maxUlps = Math.max(r.maxUlps, cmp.maxUlps);
          r.maxBoundUse = Math.max(r.maxBoundUse, cmp.maxBoundUse);
          if (cmp.header) lastFailure = cmp.header;
          else if (cmp.badCount) lastFailure = `${cmp.badCount} of ${cmp.n} elements differ (shape [${ref.shape}]): ${cmp.bad.join('; ')}`;
          return !lastFailure;
        }),
        { seed: opts.seed, numRuns: opts.numRuns, endOnFailure: true },
      );
      r.ms = Math.round(performance.now() - t0);
      if (out.failed) {
        r.ok = false;
        r.failure = lastFailure || (out.errorInstance ? `threw: ${message(out.errorInstance)}` : 'property failed');
      }
      r.native = Object.keys(b.nativeRuns());
      const fb = b.fallbacks();
      r.fallbacks = Object.entries(fb).map(([op, f]) => `${op} (${f.count}×): ${f.reason}`);
      const unexpected = Object.keys(fb).filter((op) => !(c.fallbacks ?? []).includes(op));
      if (r.ok && unexpected.length) {
        r.ok = false;
        r.failure = `ops fell back to the host: ${unexpected.join(', ')}`;
      }
      if (r.ok && r.native.length === 0) {
        r.ok = false;
        r.failure = 'no op ran as a gpu.js kernel';
      }
      report.results.push(r);
    }
  }
  return report;
}

(globalThis as { gsaeEquivalence?: typeof gsaeEquivalence }).gsaeEquivalence = gsaeEquivalence;
