/**
 * Compiled gpu.js kernels, cached by what makes one kernel differ from another: output view,
 * argument kinds and views, and source. Least recently used kernels are destroyed beyond the
 * capacity, except those that made a live texture: a gpu.js texture belongs to its kernel
 * (destroying the kernel deletes the textures it allocated, and a texture's reads and deletes go
 * through it), so the residency code counts live outputs per kernel here.
 */
import { BackendError } from '../../errors.js';
import type { Shape } from '../../shape.js';
import { viewOf } from './codegen.js';
import type { GpuInstance, GpuJsModule, GpuKernel } from './gpujs_module.js';
import type { KernelPlan } from './kernels.js';
import type { GpujsMode } from './probe.js';

export class KernelCache {
  private readonly kernels = new Map<string, GpuKernel>();
  /** GL: live textures per kernel key (such kernels must not be destroyed) */
  private readonly outputsOf = new Map<string, number>();

  constructor(
    private readonly gpu: GpuInstance,
    /** GL modes: destroying a kernel must keep its quad vertex buffer (see destroyKernel) */
    private readonly gl: boolean,
    private readonly capacity: number,
  ) {}

  /** Compiled kernels currently cached. */
  get size(): number {
    return this.kernels.size;
  }

  /** The compiled kernel for a plan with these argument kinds and views (compiled on first use). */
  kernelFor(plan: KernelPlan, argKinds: string[], argViews: string[]): { kernel: GpuKernel; key: string } {
    const { C, R } = plan.out;
    const key = `${C},${R}|${argKinds.join(',')}|${argViews.join(',')}|${plan.source}`;
    let k = this.kernels.get(key);
    if (k) {
      // refresh LRU position
      this.kernels.delete(key);
      this.kernels.set(key, k);
      return { kernel: k, key };
    }
    const names = argNames(plan.source);
    k = this.gpu.createKernel(plan.source, {
      output: [C, 1, R],
      precision: 'single',
      pipeline: true,
      immutable: true,
      tactic: 'precision',
      loopMaxIterations: plan.loopMax,
      argumentTypes: Object.fromEntries(names.map((n, i) => [n, argKinds[i]])),
    });
    this.kernels.set(key, k);
    if (this.kernels.size > this.capacity) this.evict(key);
    return { kernel: k, key };
  }

  /** A texture made by kernel `key` is alive (the kernel must not be destroyed). */
  retainOutput(key: string): void {
    this.outputsOf.set(key, (this.outputsOf.get(key) ?? 0) + 1);
  }

  /** A texture made by kernel `key` was deleted. */
  releaseOutput(key: string): void {
    this.outputsOf.set(key, this.outputsOf.get(key)! - 1);
  }

  /** Destroys every kernel (backend shutdown). */
  destroyAll(): void {
    for (const k of this.kernels.values()) k.destroy(false);
    this.kernels.clear();
  }

  /**
   * Destroys least recently used kernels until the cache fits, skipping those a live texture came
   * from.
   */
  private evict(keep: string): void {
    for (const [key, k] of this.kernels) {
      if (this.kernels.size <= this.capacity) return;
      if (key === keep || (this.outputsOf.get(key) ?? 0) > 0) continue;
      this.kernels.delete(key);
      this.outputsOf.delete(key);
      this.destroyKernel(k);
    }
  }

  /**
   * Destroys a compiled kernel without breaking the others. Two gpu.js GL details matter: its
   * destroy(true) drops the per-canvas size record all kernels of the context share, and it
   * deletes the kernel's quad vertex buffer, which the context's vertex-attribute state may still
   * point at (WebGL 1 has no vertex array objects): later kernels then draw nothing and their
   * outputs keep stale values. So: destroy(false), and leave the 32-byte buffer alive.
   */
  private destroyKernel(k: GpuKernel): void {
    const inner = k.kernel as { buffer?: unknown } | undefined;
    if (this.gl && inner) inner.buffer = null;
    k.destroy(false);
  }
}

/** The view part of a kernel key: a source may not mention an operand's size (broadcast or indexed axes). */
export function viewKey(shape: Shape): string {
  const { C, R } = viewOf(shape);
  return `${C},${R}`;
}

/**
 * The gpu.js kernel class of a mode. gpu.js degrades kernels it cannot build (to its cpu backend)
 * with only a console warning; comparing the class of the kernel that ran with this one says
 * whether that happened.
 */
export function kernelClassOf(g: GpuJsModule, mode: GpujsMode): unknown {
  switch (mode) {
    case 'headlessgl': return g.HeadlessGLKernel;
    case 'webgl2': return g.WebGL2Kernel;
    case 'webgl': return g.WebGLKernel;
    case 'webasm': return g.WebAssemblyKernel;
    case 'webgpu': return g.WebGPUKernel;
    case 'cpu': return g.CPUKernel;
    default: throw new BackendError(`gpujs: mode ${mode} has no synchronous kernel class`);
  }
}

/** Argument names of a generated `function(a, b) {...}` source. */
function argNames(source: string): string[] {
  const m = /^function\(([^)]*)\)/.exec(source);
  return m && m[1]!.trim() ? m[1]!.split(',').map((s) => s.trim()) : [];
}
