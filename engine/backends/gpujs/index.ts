/**
 * The 'gpujs' backend: the engine's primitives compiled by gpu.js into GPU kernels (GLSL on
 * headless-gl / WebGL) or its WebAssembly and JavaScript fallbacks (webasm, cpu). This module is
 * the public entry and the engine registration; the parts live in modules named for what they hold
 * (see README.md):
 *
 * - backend.ts: the `Backend` (construction per mode, memory interface, running an op, limits);
 * - residency.ts: storage and release — GL results stay textures between ops (pipeline mode),
 *   every call returns a fresh output (immutable), aliases (reshape, stopGradient) share storage
 *   by reference count, and freeing a tensor deletes its texture at once;
 * - op_table.ts: each primitive's kernel plan, alias, or reason to run on the host;
 * - int_bounds.ts: int32 is stored as float32, exact only below 2^24, so every int32 buffer
 *   carries proven value bounds (checked on upload, derived statically per op); an op whose result
 *   could leave the exact range (or an index that could be out of range) runs on the reference
 *   kernel, whose result is checked on upload. No integer is ever silently rounded;
 * - host_fallback.ts: ops without a kernel here run the reference kernel on downloaded data; each
 *   such fallback is counted by op and reason (`fallbacks()`), so nothing is hidden;
 * - kernel_cache.ts: compiled kernels (LRU, never destroying one with live outputs);
 * - kernels.ts, elementwise_math.ts, codegen.ts, fuse.ts, probe.ts, gpujs_module.ts: kernel
 *   sources, the elementwise ops' math, index arithmetic, elementwise fusion of jit plans, the
 *   capability probe, loading gpu.js.
 *
 * Priority: the 'gpujs' entry ranks above 'wasm' (10) only when the probe finds a hardware GPU
 * mode; otherwise it ranks below 'reference' (0), so the engine never picks it silently on a
 * machine where it would only be a slower, numerically different CPU path.
 */
import { registerBackend } from '../../engine.js';
import { GpujsBackend, type GpujsBackendOptions } from './backend.js';
import { env, inNode } from './gpujs_module.js';
import { probeGpujs, type GpujsMode } from './probe.js';

export { probeGpujs, probeWebGpuAdapter, describeModes, GPUJS_MODES, type GpujsMode, type ProbeResult, type ModeStatus } from './probe.js';
export { GpujsBackend, type GpujsBackendOptions } from './backend.js';
export { NATIVE_OPS, HOST_OPS } from './op_table.js';
export type { Range } from './int_bounds.js';
export { flatten } from './residency.js';

/**
 * The engine's 'gpujs' entry. Its priority is read lazily, on the engine's first choice of a
 * backend: it ranks above 'wasm' (10) only when a hardware GPU mode is usable, else below
 * 'reference' (0). In Node the GPU path is headless-gl, which hides the driver's renderer, so a
 * hardware GPU is never assumed there unless GSAE_GPUJS_HARDWARE=1 asserts it (and the probe then
 * confirms a GL context); without that, choosing a backend loads and probes nothing.
 */
registerBackend({
  name: 'gpujs',
  get priority(): number {
    return hardwareGpuAsserted() ? 20 : -10;
  },
  create: () => new GpujsBackend(),
});

function hardwareGpuAsserted(): boolean {
  if (inNode() && env('GSAE_GPUJS_HARDWARE') !== '1') return false;
  try {
    return probeGpujs().hardwareGpu;
  } catch {
    return false;
  }
}

/**
 * Registers a backend fixed to one gpu.js mode, named 'gpujs-<mode>' (lowest priority, never
 * chosen by default), for tests and comparisons. Returns its name.
 */
export function registerGpujsMode(mode: GpujsMode, opts: Omit<GpujsBackendOptions, 'mode'> = {}): string {
  const name = opts.name ?? `gpujs-${mode}`;
  registerBackend({ name, priority: -100, create: () => new GpujsBackend({ ...opts, mode, name }) });
  return name;
}
