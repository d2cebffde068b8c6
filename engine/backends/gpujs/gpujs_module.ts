/**
 * Lazy, typed access to gpu.js (a CommonJS package) and its optional native helpers (`gl`, Dawn's
 * `webgpu`). Nothing is loaded until a probe or the backend asks: importing the engine must not
 * pay for gpu.js, and a missing native module must become a reason string, never a crash.
 *
 * Only the small part of gpu.js's surface this backend uses is typed here.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** A GL texture handle returned by a pipeline kernel (gpu.js `Texture`). */
export interface GpuTexture {
  readonly output: readonly number[];
  toArray(): unknown;
  delete(): void;
}

/** A compiled kernel (gpu.js's run shortcut). */
export interface GpuKernel {
  (...args: unknown[]): unknown;
  destroy(removeCanvasReferences?: boolean): void;
  /** The kernel that actually runs: its class says which backend (gpu.js swaps in a CPUKernel when it degrades). */
  readonly kernel?: { constructor: unknown; fallbackReason?: string | null };
}

export interface GpuInstance {
  readonly mode: string;
  createKernel(source: string, settings: Record<string, unknown>): GpuKernel;
  destroy(): Promise<void>;
}

/** The gpu.js kernel classes we read capabilities from. */
export interface GpuKernelClass {
  readonly isSupported: boolean;
  readonly mode?: string;
  readonly features?: { isFloatRead?: boolean; isTextureFloat?: boolean } | null;
  getMaxTextureSize?(): number;
  readonly testContext?: GlContext | null;
}

export interface GpuJsModule {
  GPU: {
    new (settings: { mode: string }): GpuInstance;
    readonly isWebAssemblySupported: boolean;
    readonly isHeadlessGLSupported: boolean;
    readonly isWebGL2Supported: boolean;
    readonly isWebGLSupported: boolean;
    readonly isWebGPUSupported: boolean;
    isWebGPUAvailable(): Promise<boolean>;
  };
  HeadlessGLKernel: GpuKernelClass;
  WebGPUKernel: GpuKernelClass;
  WebGL2Kernel: GpuKernelClass;
  WebGLKernel: GpuKernelClass;
  WebAssemblyKernel: GpuKernelClass;
  CPUKernel: GpuKernelClass;
  input(value: Float32Array, size: number[]): unknown;
  Texture: abstract new (...a: never[]) => GpuTexture;
}

/** The subset of a WebGL context the probe reads. */
export interface GlContext {
  readonly RENDERER: number;
  readonly VERSION: number;
  readonly MAX_TEXTURE_SIZE: number;
  getParameter(p: number): unknown;
  getExtension(name: string): unknown;
}

let gpujs: GpuJsModule | null = null;
let gpujsError: string | null = null;

/** An environment variable, or undefined where there is no `process` (a browser). */
export function env(name: string): string | undefined {
  return typeof process === 'undefined' ? undefined : process.env?.[name];
}

/** True in Node (false in a browser page, even one with a `process` shim). */
export function inNode(): boolean {
  return typeof process !== 'undefined' && Boolean(process.versions?.node);
}

/**
 * gpu.js itself, or throws an Error whose message says why it cannot load. In a browser page,
 * gpu.js's browser build (`gpu.js/dist/gpu-browser.js`, loaded by a script tag) defines the
 * global `GPU` namespace, which is used as is; in Node it is `require('gpu.js')`.
 */
export function loadGpuJs(): GpuJsModule {
  if (gpujs) return gpujs;
  if (gpujsError) throw new Error(gpujsError);
  const global = (globalThis as { GPU?: Partial<GpuJsModule> }).GPU;
  if (global && typeof global.GPU === 'function' && typeof global.input === 'function') {
    gpujs = global as GpuJsModule;
    return gpujs;
  }
  if (!inNode()) {
    gpujsError = "gpu.js is not loaded: in a browser, load gpu.js's browser build (gpu.js/dist/gpu-browser.js) first, which defines the global GPU";
    throw new Error(gpujsError);
  }
  try {
    gpujs = require('gpu.js') as GpuJsModule;
    return gpujs;
  } catch (e) {
    gpujsError = `gpu.js failed to load: ${firstLine(e)}`;
    throw new Error(gpujsError);
  }
}

export type GlFactory = (w: number, h: number, opts?: Record<string, unknown>) => GlContext | null;

/** headless-gl's context factory, or the reason it is unavailable. */
export function loadHeadlessGl(): { create: GlFactory } | { error: string } {
  try {
    return { create: require('gl') as GlFactory };
  } catch (e) {
    const msg = firstLine(e);
    if (/Cannot find module 'gl'/.test(msg)) {
      return {
        error:
          "gpu.js's optional dependency 'gl' is not installed (npm skips it when its native build fails; " +
          'install libxi-dev libxext-dev libx11-dev libglu1-mesa-dev pkg-config, e.g. with .ci/gl-setup.sh, then `npm rebuild gl`)',
      };
    }
    return { error: `the 'gl' module is present but its native binding does not load: ${msg}` };
  }
}

/** The Dawn (WebGPU) native module shipped by the `webgpu` npm package: `create(flags)` and `globals`. */
export interface DawnModule {
  create(flags: string[]): unknown;
  globals: Record<string, unknown>;
}

/**
 * Loads Dawn's native binding directly (the package's ESM entry only wraps this require). Fails
 * soft: its Linux binary needs glibc >= 2.38, so on older systems this returns the dlopen reason.
 */
export function loadDawn(): { dawn: DawnModule; file: string } | { error: string } {
  let file: string;
  try {
    const pkg = require.resolve('webgpu/package.json');
    file = path.join(path.dirname(pkg), 'dist', `${process.platform}-${process.arch}.dawn.node`);
  } catch (e) {
    return { error: `the 'webgpu' package (Dawn) is not installed: ${firstLine(e)}` };
  }
  try {
    return { dawn: require(file) as DawnModule, file };
  } catch (e) {
    return { error: `Dawn's native module ${path.basename(file)} does not load here: ${firstLine(e)}` };
  }
}

export function firstLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.split('\n')[0]!.trim();
}
