/**
 * Capability probe for gpu.js's modes. Records, for every mode, whether it can run here and, if
 * not, why; which mode the 'gpujs' engine backend would use; and whether that is a real GPU.
 *
 * Order of preference: webgpu > headlessgl > webgl2 > webgl > webasm > cpu. Two facts shape it:
 *  - the engine's Backend interface is synchronous (run/download return values), while every
 *    gpu.js webgpu kernel call returns a Promise, so webgpu is probed and reported but cannot back
 *    the synchronous engine backend;
 *  - a software rasteriser (Mesa llvmpipe, SwiftShader) runs GL kernels correctly but slower than
 *    the CPU backends, so only a hardware renderer counts as "a real GPU".
 *
 * The probe is synchronous and cached; `probeWebGpuAdapter()` adds the asynchronous adapter check.
 */
import { env, firstLine, inNode, loadDawn, loadGpuJs, loadHeadlessGl, type GlContext } from './gpujs_module.js';

export const GPUJS_MODES = ['webgpu', 'headlessgl', 'webgl2', 'webgl', 'webasm', 'cpu'] as const;
export type GpujsMode = (typeof GPUJS_MODES)[number];

/** Modes the synchronous engine backend can drive. */
export const SYNC_MODES: readonly GpujsMode[] = ['headlessgl', 'webgl2', 'webgl', 'webasm', 'cpu'];

export interface ModeStatus {
  mode: GpujsMode;
  /** gpu.js can run kernels in this mode here. */
  available: boolean;
  /** The engine's synchronous 'gpujs' backend can use this mode. */
  usable: boolean;
  /** Why the mode is unavailable or unusable (absent when usable). */
  reason?: string;
  /** GL renderer / adapter description, where there is one. */
  renderer?: string;
  /** True for a hardware GPU; false for CPU modes and software rasterisers. */
  hardware: boolean;
  /** Largest texture side (GL modes). */
  maxTextureSize?: number;
  /** What arithmetic the mode does (sets test tolerances). */
  arithmetic: 'float32' | 'float32 (GPU, driver-defined transcendental precision)' | 'float64 (JavaScript numbers, stored as float32)';
}

export interface ProbeResult {
  modes: ModeStatus[];
  /** The mode the 'gpujs' backend uses (a forced mode from GSAE_GPUJS_MODE, else the best usable one). */
  chosen: GpujsMode | null;
  /** Why that mode (or why none). */
  why: string;
  /** A hardware GPU mode is usable: only then does 'gpujs' rank above the CPU backends. */
  hardwareGpu: boolean;
}

const SOFTWARE_RENDERER = /llvmpipe|softpipe|swiftshader|lavapipe|software|swrast/i;

export function isSoftwareRenderer(renderer: string): boolean {
  return SOFTWARE_RENDERER.test(renderer);
}

let cached: ProbeResult | null = null;

/** Probes every mode once (cached; `refresh` re-probes what can change, e.g. after setting DISPLAY). */
export function probeGpujs(refresh = false): ProbeResult {
  if (cached && !refresh) return cached;
  const modes = GPUJS_MODES.map((m) => probeMode(m));
  const forced = env('GSAE_GPUJS_MODE');
  let chosen: GpujsMode | null = null;
  let why: string;
  if (forced) {
    const st = modes.find((s) => s.mode === forced);
    if (!st) why = `GSAE_GPUJS_MODE='${forced}' is not a gpu.js mode (one of ${GPUJS_MODES.join(', ')})`;
    else if (!st.usable) why = `GSAE_GPUJS_MODE='${forced}' is not usable here: ${st.reason}`;
    else {
      chosen = st.mode;
      why = `forced by GSAE_GPUJS_MODE`;
    }
  } else {
    const best = modes.find((s) => s.usable);
    chosen = best?.mode ?? null;
    const ahead = modes.slice(0, best ? modes.indexOf(best) : modes.length).map((s) => s.mode);
    why = best
      ? `the first usable mode in order ${GPUJS_MODES.join(' > ')}${ahead.length ? ` (${ahead.join(', ')}: not usable, see each mode's reason)` : ''}`
      : `no usable mode: ${modes.map((s) => `${s.mode}: ${s.reason}`).join('; ')}`;
  }
  const st = modes.find((s) => s.mode === chosen);
  cached = { modes, chosen, why, hardwareGpu: Boolean(st?.hardware) };
  return cached;
}

function probeMode(mode: GpujsMode): ModeStatus {
  try {
    switch (mode) {
      case 'webgpu':
        return probeWebGpuSync();
      case 'headlessgl':
        return probeHeadlessGl();
      case 'webgl2':
      case 'webgl':
        return probeBrowserGl(mode);
      case 'webasm': {
        const g = loadGpuJs();
        const ok = g.GPU.isWebAssemblySupported;
        return {
          mode,
          available: ok,
          usable: ok,
          hardware: false,
          arithmetic: 'float32',
          ...(ok ? {} : { reason: 'WebAssembly (with SIMD) is not supported by this JavaScript engine' }),
        };
      }
      case 'cpu':
        loadGpuJs();
        return { mode, available: true, usable: true, hardware: false, arithmetic: 'float64 (JavaScript numbers, stored as float32)' };
    }
  } catch (e) {
    return { mode, available: false, usable: false, hardware: false, arithmetic: 'float32', reason: firstLine(e) };
  }
}

let dawnWired: { ok: true; file: string } | { ok: false; error: string } | null = null;

/**
 * WebGPU: gpu.js only looks for `navigator.gpu`. In Node, Dawn's `webgpu` package provides it
 * (`create([])` plus its `globals`); wire them once if it loads, else report the dlopen reason.
 */
function probeWebGpuSync(): ModeStatus {
  const base = { mode: 'webgpu' as const, hardware: false, arithmetic: 'float32' as const };
  const syncReason =
    "gpu.js's webgpu kernels are asynchronous (every call returns a Promise) and the engine's Backend interface is synchronous, so the engine cannot use this mode as its 'gpujs' backend (GpujsBackend with allowAsync: true runs it queued, for tests)";
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav?.gpu) {
    return { ...base, available: true, usable: false, reason: `navigator.gpu is present (adapter not yet requested: see probeWebGpuAdapter); ${syncReason}` };
  }
  if (!inNode()) {
    return { ...base, available: false, usable: false, reason: 'this browser exposes no navigator.gpu' };
  }
  if (!dawnWired) {
    const d = loadDawn();
    if ('error' in d) dawnWired = { ok: false, error: d.error };
    else {
      try {
        Object.assign(globalThis, d.dawn.globals);
        const g = globalThis as unknown as { navigator?: Record<string, unknown> };
        if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
        Object.defineProperty(g.navigator!, 'gpu', { value: d.dawn.create([]), configurable: true });
        dawnWired = { ok: true, file: d.file };
      } catch (e) {
        dawnWired = { ok: false, error: `Dawn loaded but wiring navigator.gpu failed: ${firstLine(e)}` };
      }
    }
  }
  if (!dawnWired.ok) return { ...base, available: false, usable: false, reason: dawnWired.error };
  return { ...base, available: true, usable: false, reason: `Dawn is wired as navigator.gpu (adapter not yet requested: see probeWebGpuAdapter); ${syncReason}` };
}

/** Asks WebGPU for an adapter (the authoritative check) and describes it. */
export async function probeWebGpuAdapter(): Promise<{ available: boolean; reason?: string; adapter?: string }> {
  const st = probeWebGpuSync();
  if (!st.available) return { available: false, reason: st.reason };
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  try {
    const adapter = (await gpu.requestAdapter()) as { info?: Record<string, string> } | null;
    if (!adapter) return { available: false, reason: 'navigator.gpu.requestAdapter() returned null (no adapter)' };
    const info = adapter.info ?? {};
    return { available: true, adapter: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter' };
  } catch (e) {
    return { available: false, reason: `requestAdapter failed: ${firstLine(e)}` };
  }
}

/** headless-gl: the native `gl` module must be built, and it needs an X display for a context. */
function probeHeadlessGl(): ModeStatus {
  const base = { mode: 'headlessgl' as const, arithmetic: 'float32 (GPU, driver-defined transcendental precision)' as const };
  if (!inNode()) return { ...base, available: false, usable: false, hardware: false, reason: 'headless-gl is a Node module; in a browser, webgl2 and webgl provide GL' };
  const loaded = loadHeadlessGl();
  if ('error' in loaded) return { ...base, available: false, usable: false, hardware: false, reason: loaded.error };
  const ctx = loaded.create(2, 2, { preserveDrawingBuffer: true });
  if (!ctx) {
    const display = env('DISPLAY');
    return {
      ...base,
      available: false,
      usable: false,
      hardware: false,
      reason: display
        ? `'gl' loaded but could not create an OpenGL context on DISPLAY=${display}`
        : "'gl' loaded but could not create an OpenGL context: no X display (set DISPLAY, or run under `xvfb-run -a`)",
    };
  }
  const dbg = ctx.getExtension('WEBGL_debug_renderer_info') as { UNMASKED_RENDERER_WEBGL: number } | null;
  const renderer = String(dbg ? ctx.getParameter(dbg.UNMASKED_RENDERER_WEBGL) : ctx.getParameter(ctx.RENDERER));
  const maxTextureSize = Number(ctx.getParameter(ctx.MAX_TEXTURE_SIZE));
  const hasFloat = Boolean(ctx.getExtension('OES_texture_float'));
  (ctx.getExtension('STACKGL_destroy_context') as { destroy(): void } | null)?.destroy();
  // headless-gl reports its renderer as 'ANGLE' and hides the driver's (no debug-renderer
  // extension), so a hardware GPU cannot be confirmed from here: treat it as software unless the
  // user asserts otherwise. Under Xvfb it is always Mesa's llvmpipe.
  const opaque = /^ANGLE$|stack-gl/i.test(renderer);
  const hardware = opaque ? env('GSAE_GPUJS_HARDWARE') === '1' : !isSoftwareRenderer(renderer);
  if (!hasFloat) {
    return { ...base, available: false, usable: false, hardware, renderer, maxTextureSize, reason: `renderer '${renderer}' lacks OES_texture_float (no single-precision textures)` };
  }
  // gpu.js runs its own context test; agree with it.
  const g = loadGpuJs();
  if (!g.GPU.isHeadlessGLSupported) {
    return { ...base, available: false, usable: false, hardware, renderer, maxTextureSize, reason: "gpu.js's headless-gl context test failed" };
  }
  return {
    ...base,
    available: true,
    usable: true,
    hardware,
    renderer: opaque ? `${renderer} (driver renderer hidden; counted as ${hardware ? 'hardware: GSAE_GPUJS_HARDWARE=1' : 'software unless GSAE_GPUJS_HARDWARE=1'})` : renderer,
    maxTextureSize,
  };
}

/**
 * WebGL2 / WebGL in a browser page: gpu.js's own context test must pass, and a context of our own
 * gives the renderer (hardware or a software rasteriser such as SwiftShader), the largest texture
 * side and whether single-precision float textures can be rendered to.
 */
function probeBrowserGl(mode: 'webgl2' | 'webgl'): ModeStatus {
  const base = { mode, hardware: false, arithmetic: 'float32 (GPU, driver-defined transcendental precision)' as const };
  const name = mode === 'webgl2' ? 'WebGL2' : 'WebGL';
  const doc = (globalThis as { document?: { createElement(t: 'canvas'): { getContext(k: string, o?: unknown): unknown } } }).document;
  const Offscreen = (globalThis as { OffscreenCanvas?: new (w: number, h: number) => { getContext(k: string, o?: unknown): unknown } }).OffscreenCanvas;
  if (inNode() || (!doc && !Offscreen)) {
    return { ...base, available: false, usable: false, reason: `${name} is a browser API (no document/OffscreenCanvas here); in Node, headlessgl provides GL (the browser modes are tested in headless Chromium: test/backends/gpujs/browser.test.ts)` };
  }
  const g = loadGpuJs();
  const ok = mode === 'webgl2' ? g.GPU.isWebGL2Supported : g.GPU.isWebGLSupported;
  if (!ok) return { ...base, available: false, usable: false, reason: `this browser cannot create a ${mode} context for gpu.js` };
  const canvas = doc ? doc.createElement('canvas') : new Offscreen!(2, 2);
  const ctx = canvas.getContext(mode) as (GlContext & { getSupportedExtensions(): string[] | null }) | null;
  if (!ctx) return { ...base, available: false, usable: false, reason: `this browser cannot create a ${mode} context` };
  const dbg = ctx.getExtension('WEBGL_debug_renderer_info') as { UNMASKED_RENDERER_WEBGL: number } | null;
  const renderer = String(dbg ? ctx.getParameter(dbg.UNMASKED_RENDERER_WEBGL) : ctx.getParameter(ctx.RENDERER));
  const maxTextureSize = Number(ctx.getParameter(ctx.MAX_TEXTURE_SIZE));
  // gpu.js reads float textures back through float render targets
  const floatExt = mode === 'webgl2' ? ['EXT_color_buffer_float'] : ['OES_texture_float'];
  const hasFloat = floatExt.every((e) => ctx.getExtension(e));
  (ctx.getExtension('WEBGL_lose_context') as { loseContext(): void } | null)?.loseContext();
  // a browser that hides the renderer (privacy settings) gives just 'WebKit WebGL' or similar:
  // count that as software, never claim hardware without knowing it
  const named = Boolean(dbg) && !/^(WebKit WebGL|Mozilla|Generic Renderer)$/i.test(renderer);
  const hardware = named && !isSoftwareRenderer(renderer);
  const info = { ...base, hardware, renderer: named ? renderer : `${renderer} (driver renderer hidden; counted as software)`, maxTextureSize };
  if (!hasFloat) return { ...info, available: false, usable: false, reason: `renderer '${renderer}' lacks ${floatExt.join(', ')} (no single-precision textures)` };
  return { ...info, available: true, usable: true };
}

/** One line per mode, for `gsae backends` and test logs. */
export function describeModes(p: ProbeResult = probeGpujs()): string[] {
  return p.modes.map((s) => {
    const mark = s.mode === p.chosen ? '*' : ' ';
    const state = s.usable ? 'usable' : s.available ? 'available, not usable by the engine' : 'unavailable';
    const gpu = s.mode === 'webasm' || s.mode === 'cpu' ? '' : s.usable ? (s.hardware ? 'hardware GPU' : 'not a hardware GPU') : '';
    const extra = [s.renderer ? `renderer ${s.renderer}` : '', gpu, s.reason ?? ''].filter(Boolean).join('; ');
    return `${mark} ${s.mode.padEnd(11)} ${state}${extra ? `: ${extra}` : ''}`;
  });
}
