/**
 * The capability probe and the 'gpujs' entry's place among the engine's backends. Runs first in
 * its own process (vitest forks per file), so the engine's default choice is still unmade here.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../../engine/index.js';
import { describeModes, GPUJS_MODES, probeGpujs, probeWebGpuAdapter } from '../../../engine/backends/gpujs/index.js';

describe('gpu.js capability probe', () => {
  const p = probeGpujs();

  it('reports every mode once, each usable or with the reason it is not', () => {
    expect(p.modes.map((s) => s.mode)).toEqual([...GPUJS_MODES]);
    for (const s of p.modes) {
      if (s.usable) expect(s.available, s.mode).toBe(true);
      else expect(s.reason, `${s.mode} gives a reason`).toMatch(/\w{4,}/);
    }
    // WebAssembly and the JavaScript fallback exist wherever Node 20 runs
    expect(p.modes.find((s) => s.mode === 'webasm')!.usable).toBe(true);
    expect(p.modes.find((s) => s.mode === 'cpu')!.usable).toBe(true);
  });

  it('never marks webgpu usable: gpu.js webgpu kernels are asynchronous, the engine interface is not', () => {
    const w = p.modes.find((s) => s.mode === 'webgpu')!;
    expect(w.usable).toBe(false);
    expect(w.reason).toMatch(/Dawn|navigator\.gpu|webgpu/i);
  });

  it('chooses the first usable mode in preference order and says why', () => {
    const firstUsable = p.modes.find((s) => s.usable)!.mode;
    expect(p.chosen).toBe(process.env.GSAE_GPUJS_MODE ?? firstUsable);
    expect(p.why.length).toBeGreaterThan(10);
    expect(describeModes(p).filter((l) => l.startsWith('*'))).toHaveLength(1);
  });

  it('the asynchronous WebGPU adapter check resolves (with a reason when there is no adapter)', async () => {
    const a = await probeWebGpuAdapter();
    if (a.available) expect(a.adapter).toBeTruthy();
    else expect(a.reason).toMatch(/\w{4,}/);
  });

  it("ranks 'gpujs' above the CPU backends only with a hardware GPU, so it is never picked silently", () => {
    const names = E.backendNames();
    const status = E.backendStatus().find((s) => s.name === 'gpujs')!;
    expect(status.available).toBe(true); // a usable mode exists here (webasm at least)
    if (p.hardwareGpu) {
      expect(status.priority).toBeGreaterThan(10);
      expect(E.backend().name).toBe('gpujs');
    } else {
      expect(status.priority).toBeLessThan(0);
      expect(names.indexOf('gpujs')).toBeGreaterThan(names.indexOf('reference'));
      expect(E.backend().name).not.toBe('gpujs');
    }
  });
});
