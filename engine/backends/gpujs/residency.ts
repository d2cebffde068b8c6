/**
 * Where a gpujs tensor's values live and how they move: device storage (host Float32Arrays in
 * webasm/cpu, GL textures laid out per view, GPU buffers in the queued webgpu mode), shared by
 * aliases (reshape, stopGradient) with reference counts, released deterministically when the last
 * alias is freed; turning storage into kernel arguments, and kernel results into storage.
 *
 * `pipeline: true` kernels keep GL results as textures between ops; `immutable: true` makes every
 * call return a fresh output (gpu.js otherwise reuses one output texture per kernel, which would
 * overwrite activations an autodiff tape saved).
 */
import type { BufferHandle, TensorRef } from '../../backend.js';
import type { DType } from '../../dtype.js';
import { BackendError, fmtShape } from '../../errors.js';
import type { Shape } from '../../shape.js';
import { viewOf } from './codegen.js';
import type { GpuJsModule, GpuTexture } from './gpujs_module.js';
import type { Range } from './int_bounds.js';
import { viewKey, type KernelCache } from './kernel_cache.js';
import { copyKernel } from './kernels.js';
import type { GpujsMode } from './probe.js';

/** Device memory shared by tensors that alias it (reshape, stopGradient). */
export interface Storage {
  refs: number;
  /** host copy (webasm/cpu storage, or a GL upload not yet turned into a texture) */
  host: Float32Array | null;
  /** GL textures by the column count of the view they were laid out for, with the kernel that made each */
  tex: Map<number, { t: GpuTexture; kernel: string }>;
}

export class DeviceBuffer implements BufferHandle {
  readonly bytes: number;
  store: Storage | null = null;
  /** int32 buffers only: proven bounds of the values */
  range: Range | null = null;
  constructor(
    readonly dtype: DType,
    readonly size: number,
  ) {
    this.bytes = size * 4;
  }
}

export interface ResidencyContext {
  g: GpuJsModule;
  mode: GpujsMode;
  /** GL modes: storage is textures laid out per view */
  gl: boolean;
  /** webgpu: kernel results are GPU buffers read back asynchronously */
  isAsync: boolean;
  kernels: KernelCache;
}

export class Residency {
  /** async mode: storages alive now (readBackAll reads their values back) */
  private readonly liveStores = new Set<Storage>();
  private liveStorages = 0;
  private liveTextures = 0;
  private empty: unknown = null;

  constructor(private readonly c: ResidencyContext) {}

  /** Physical storage (aliases share one) and GL textures alive now: for leak tests. */
  stats(): { storages: number; textures: number } {
    return { storages: this.liveStorages, textures: this.liveTextures };
  }

  /** Points a buffer at storage (a new one has refs = 1), releasing what it held. */
  setStore(b: DeviceBuffer, s: Storage | null): void {
    const old = b.store;
    b.store = s;
    if (s && s.refs === 1 && s !== old) {
      if (this.c.isAsync) this.liveStores.add(s);
      this.liveStorages++;
      this.liveTextures += s.tex.size;
    }
    if (old && --old.refs === 0) {
      this.liveStores.delete(old);
      this.liveStorages--;
      this.liveTextures -= old.tex.size;
      for (const { t, kernel } of old.tex.values()) {
        t.delete();
        this.c.kernels.releaseOutput(kernel);
      }
      old.tex.clear();
      old.host = null;
    }
  }

  /** A flat host copy of the buffer's values (no copy for host storage: callers must not write). */
  hostData(b: DeviceBuffer): Float32Array {
    const s = b.store;
    if (!s) throw new BackendError('gpujs: read of a buffer that was never written');
    if (s.host) return s.host;
    if (this.c.isAsync) throw new BackendError(`gpujs(${this.c.mode}): values are still on the GPU (asynchronous mode): await backend.flush() before reading them`);
    const [C, { t }] = s.tex.entries().next().value as [number, { t: GpuTexture }];
    return flatten(t.toArray(), b.size, C);
  }

  /** Async mode: reads the values of every live storage still on the GPU back to the host. */
  async readBackAll(): Promise<void> {
    for (const s of [...this.liveStores]) {
      if (s.host || s.refs === 0) continue;
      const e = s.tex.entries().next().value as [number, { t: GpuTexture }] | undefined;
      if (!e) continue;
      const [C, { t }] = e;
      const n = t.output.reduce((p, d) => p * d, 1);
      s.host = flatten(await (t.toArray() as unknown as Promise<unknown>), n, C);
    }
  }

  /** Async mode: reads one buffer's values back to the host (for a host fallback). */
  async readBack(b: DeviceBuffer): Promise<void> {
    const s = b.store;
    const e = s && !s.host ? (s.tex.entries().next().value as [number, { t: GpuTexture }] | undefined) : undefined;
    if (s && e) s.host = flatten(await (e[1].t.toArray() as unknown as Promise<unknown>), e[1].t.output.reduce((p, d) => p * d, 1), e[0]);
  }

  /** A kernel argument for tensor t: an Input over host data, or a GL texture laid out for t's view. */
  operand(t: TensorRef): unknown {
    const { g, gl, isAsync, kernels } = this.c;
    const b = t.buf as DeviceBuffer;
    const s = b.store;
    if (!s) throw new BackendError('gpujs: a kernel input was never written');
    const { C, R } = viewOf(t.shape);
    // gpu.js cannot take an empty array; kernels never read an empty operand (their loops over it are empty)
    if (C * R === 0) return this.emptyOperand();
    if (isAsync) {
      // a GPU buffer is flat in [C, 1, R] order for every view: a view with other columns is the
      // same buffer under other dimensions (a refcounted handle, kept with the storage)
      const have = s.tex.get(C);
      if (have) return have.t;
      const first = s.tex.values().next().value as { t: GpuTexture & { clone(): GpuTexture & { output: number[] } }; kernel: string } | undefined;
      if (!first) return g.input(s.host!, [C, 1, R]);
      const v = first.t.clone();
      v.output = [C, 1, R];
      s.tex.set(C, { t: v, kernel: first.kernel });
      kernels.retainOutput(first.kernel);
      this.liveTextures++;
      return v;
    }
    if (!gl) return g.input(s.host!, [C, 1, R]);
    const have = s.tex.get(C);
    if (have) return have.t;
    if (s.host) {
      // first GL use of uploaded data: lay it out as a texture once, kept with the storage
      const up = copyKernel(t.shape, t.shape);
      const { kernel, key } = kernels.kernelFor(up, ['Input'], [viewKey(t.shape)]);
      const tex = kernel(g.input(s.host, [C, 1, R]));
      if (!(tex instanceof g.Texture)) throw new BackendError(`gpujs(${this.c.mode}): gpu.js did not return a texture for an upload of ${fmtShape(t.shape)}`);
      s.tex.set(C, { t: tex, kernel: key });
      kernels.retainOutput(key);
      this.liveTextures++;
      return tex;
    }
    throw new BackendError(`gpujs: internal: no texture laid out for view ${fmtShape(t.shape)}`);
  }

  /** Makes a kernel's result the storage of `out`. */
  adoptResult(out: DeviceBuffer, result: unknown, shape: Shape, kernel: string): void {
    const { g, gl, isAsync, kernels } = this.c;
    const { C } = viewOf(shape);
    if (isAsync) {
      const r = result as Partial<GpuTexture> | null;
      if (!r || typeof r.toArray !== 'function' || typeof r.delete !== 'function') throw new BackendError(`gpujs(${this.c.mode}): internal: pipeline kernel returned no GPU buffer`);
      kernels.retainOutput(kernel);
      this.setStore(out, { refs: 1, host: null, tex: new Map([[C, { t: r as GpuTexture, kernel }]]) });
      return;
    }
    if (gl) {
      if (!(result instanceof g.Texture)) throw new BackendError(`gpujs(${this.c.mode}): internal: pipeline kernel returned no texture`);
      kernels.retainOutput(kernel);
      this.setStore(out, { refs: 1, host: null, tex: new Map([[C, { t: result as GpuTexture, kernel }]]) });
    } else {
      this.setStore(out, { refs: 1, host: flatten(result, out.size, C), tex: new Map() });
    }
  }

  /** Deletes the empty-operand stand-in (backend shutdown). */
  release(): void {
    if (this.empty && typeof (this.empty as GpuTexture).delete === 'function') (this.empty as GpuTexture).delete();
    this.empty = null;
  }

  /** Stand-in argument for an empty operand (never read). */
  private emptyOperand(): unknown {
    const { g, gl, kernels } = this.c;
    if (!this.empty) {
      const one = new Float32Array(1);
      if (gl) {
        const { kernel, key } = kernels.kernelFor(copyKernel([1], [1]), ['Input'], ['1,1']);
        this.empty = kernel(g.input(one, [1, 1, 1]));
        kernels.retainOutput(key); // kept for the backend's life
      } else this.empty = g.input(one, [1, 1, 1]);
    }
    return this.empty;
  }
}

/**
 * A flat Float32Array of `n` values from a gpu.js result: nested per-row arrays for a [C, 1, R]
 * output. webasm's rows are views of one buffer, which is used without copying when contiguous.
 */
export function flatten(result: unknown, n: number, C: number): Float32Array {
  if (result instanceof Float32Array) return result.length === n ? result : result.slice(0, n);
  const rows: Float32Array[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Float32Array) rows.push(v);
    else if (Array.isArray(v)) for (const e of v) walk(e);
    else throw new BackendError(`gpujs: unexpected kernel result element ${typeof v}`);
  };
  walk(result);
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (
    first &&
    last &&
    rows.length * C === n &&
    last.buffer === first.buffer &&
    last.byteOffset === first.byteOffset + (rows.length - 1) * C * 4 &&
    rows.every((r) => r.length === C)
  ) {
    return new Float32Array(first.buffer, first.byteOffset, n);
  }
  const out = new Float32Array(n);
  let o = 0;
  for (const r of rows) {
    out.set(r.subarray(0, Math.min(r.length, n - o)), o);
    o += r.length;
  }
  if (o !== n) throw new BackendError(`gpujs: kernel result has ${o} values, expected ${n}`);
  return out;
}
