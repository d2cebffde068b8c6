/**
 * The wasm backend: every tensor lives in one shared WebAssembly.Memory; kernels are WebAssembly
 * SIMD functions (./kernels) driven from TypeScript (./ops) and split over worker threads that
 * share the memory (./pool). Ops without a wasm kernel run the reference kernel on typed-array
 * views of the same memory, so every op the engine knows works here from day one.
 *
 * Memory layout: [0, 1 KiB) unused (offset 0 is the handle of empty buffers) | worker control
 * blocks | per-thread gemm scratch | heap (allocator.ts).
 */
import os from 'node:os';
import type { Attrs, Backend, BufferHandle, MemoryInfo, PlanInfo, PlanStep, TensorRef } from '../../backend.js';
import type { DType, TypedArray } from '../../dtype.js';
import { BackendError } from '../../errors.js';
import { sizeOf } from '../../shape.js';
import { referenceKernels } from '../reference/index.js';
import type { View } from '../reference/view.js';
import { HeapAllocator, PAGE, type HeapStats } from './allocator.js';
import { hasRelaxedSimd } from './features.js';
import { gemmScratchBytes, type GemmConfig } from './kernels/gemm.js';
import { buildKernelModule } from './module.js';
import { compileWasmPlan } from './fuse.js';
import { wasmKernels } from './ops/index.js';
import { CTRL_BYTES, WorkerPool } from './pool.js';
import { wasmApi, type WasmMemory } from './wasm_api.js';

export class WasmBuffer implements BufferHandle {
  freed = false;
  constructor(
    /** byte offset in the memory; changes only when the heap is compacted (between kernels) */
    public offset: number,
    readonly bytes: number,
  ) {}
}

export interface WasmOptions {
  /** threads including the main one; default: the machine's available parallelism (at most 8) */
  threads?: number;
  /** use relaxed SIMD's fused multiply-add when available (default: yes) */
  relaxed?: boolean;
  /** the heap's maximum size in MiB (default 4096, the wasm32 limit) */
  maxMiB?: number;
  /** gemm blocking overrides (for tuning) */
  gemm?: Partial<Omit<GemmConfig, 'relaxed'>>;
}

/** A wasm kernel driver: returns false to decline (the reference kernel then runs instead). */
export type WasmKernel = (be: WasmBackend, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs) => boolean;

export interface WasmMemoryInfo extends MemoryInfo, Omit<HeapStats, 'buffers' | 'bytes'> {}

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly dtypes: readonly DType[] = ['float32', 'int32'];
  readonly wasmMemory: WasmMemory;
  readonly relaxed: boolean;
  readonly gemm: GemmConfig;
  /** byte offset of each thread's gemm scratch */
  readonly gemmScratch: number[] = [];
  /** how many times each op ran the reference kernel instead of a wasm one */
  readonly fallbacks = new Map<string, number>();
  private readonly fns: ((...a: number[]) => unknown)[];
  private readonly fnIds = new Map<string, number>();
  private readonly pool: WorkerPool;
  private readonly heap: HeapAllocator;
  /** every live non-empty buffer, for compaction */
  private readonly live = new Set<WasmBuffer>();
  private profile: Map<string, { calls: number; ms: number }> | null = null;
  private profileByShape = false;

  constructor(opts: WasmOptions = {}) {
    const maxMiB = opts.maxMiB ?? 4096;
    const maxPages = Math.min(65536, Math.floor((maxMiB * 2 ** 20) / PAGE));
    const threads = opts.threads ?? Math.min(8, os.availableParallelism());
    if (!Number.isInteger(threads) || threads < 1) throw new BackendError(`wasm: threads must be a positive integer, got ${threads}`);
    this.relaxed = (opts.relaxed ?? true) && hasRelaxedSimd();
    const km = buildKernelModule({ relaxed: this.relaxed, maxPages, gemm: opts.gemm });
    this.gemm = km.gemm;
    const WA = wasmApi();
    const module = new WA.Module(km.bytes);
    const scratch = gemmScratchBytes(this.gemm);
    const scratchBytes = Math.ceil((scratch.packA + scratch.packB + scratch.tile) / 64) * 64;
    const ctrl = 1024;
    const heapBase = ctrl + threads * CTRL_BYTES + threads * scratchBytes;
    const initialPages = Math.ceil(heapBase / PAGE) + 256; // + 16 MiB of heap
    if (initialPages > maxPages) throw new BackendError(`wasm: maxMiB ${maxMiB} is too small for ${threads} threads' scratch`);
    this.wasmMemory = new WA.Memory({ initial: initialPages, maximum: maxPages, shared: true });
    const inst = new WA.Instance(module, { env: { memory: this.wasmMemory } });
    this.fns = km.names.map((n) => inst.exports[n] as (...a: number[]) => unknown);
    km.names.forEach((n, i) => this.fnIds.set(n, i));
    for (let t = 0; t < threads; t++) this.gemmScratch.push(ctrl + threads * CTRL_BYTES + t * scratchBytes);
    this.heap = new HeapAllocator(this.wasmMemory, heapBase, maxPages);
    this.pool = new WorkerPool(this.wasmMemory, module, km.names, this.fns, ctrl, threads);
  }

  /** Threads kernels may split over now. */
  get threads(): number {
    return this.pool.threads;
  }

  /** Why worker threads are off, if they failed to start. */
  get threadsDisabledReason(): string | null {
    return this.pool.disabledReason;
  }

  // ---------------------------------------------------------------- Backend

  alloc(dtype: DType, size: number): BufferHandle {
    if (dtype === 'float64') throw new BackendError('wasm backend holds float32 and int32 only (float64 lives on the reference backend)');
    const bytes = size * 4;
    if (bytes === 0) return new WasmBuffer(0, 0);
    let off: number;
    try {
      off = this.heap.alloc(bytes);
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
      // the heap is at its maximum: close the gaps between live buffers and try once more
      // (alloc runs between kernels, so no driver holds an offset now)
      this.heap.compact([...this.live], (b, to) => {
        this.call('memcpy', to, b.offset, b.bytes);
        (b as WasmBuffer).offset = to;
      });
      off = this.heap.alloc(bytes);
    }
    const b = new WasmBuffer(off, bytes);
    this.live.add(b);
    return b;
  }

  upload(buf: BufferHandle, data: TypedArray): void {
    const b = this.buf(buf);
    if (data.byteLength > b.bytes) throw new BackendError(`wasm upload: ${data.byteLength} bytes into a buffer of ${b.bytes}`);
    new Uint8Array(this.wasmMemory.buffer, b.offset, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  download(buf: BufferHandle, dtype: DType, size: number): TypedArray {
    const b = this.buf(buf);
    if (size === 0) return dtype === 'int32' ? new Int32Array(0) : new Float32Array(0);
    return dtype === 'int32' ? new Int32Array(this.wasmMemory.buffer, b.offset, size).slice() : new Float32Array(this.wasmMemory.buffer, b.offset, size).slice();
  }

  free(buf: BufferHandle): void {
    const b = buf as WasmBuffer;
    if (b.freed) throw new BackendError(`wasm: buffer at ${b.offset} (${b.bytes} bytes) freed twice`);
    b.freed = true;
    if (b.bytes > 0) {
      this.heap.release(b.offset, b.bytes);
      this.live.delete(b);
    }
  }

  /** The jit hook: matmul + bias add, and sum(mul(x, 0)), become one launch each (fuse.ts). */
  compilePlan(steps: readonly PlanStep[], info: PlanInfo): PlanStep[] {
    return compileWasmPlan(steps, info);
  }

  has(op: string): boolean {
    return op in wasmKernels || op in referenceKernels;
  }

  run(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs): void {
    if (!this.profile) return this.runKernel(op, inputs, outputs, attrs);
    const t0 = performance.now();
    try {
      this.runKernel(op, inputs, outputs, attrs);
    } finally {
      const key = this.profileByShape ? `${op} ${inputs.map((t) => `[${t.shape.join(',')}]`).join(' ')}` : op;
      const e = this.profile.get(key) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += performance.now() - t0;
      this.profile.set(key, e);
    }
  }

  /**
   * Starts timing every kernel launch by op (wall time, synchronous kernels), for finding what
   * to fuse or speed up next; `stopProfile()` returns the totals, slowest first. With `byShape`
   * each op is split by its input shapes (the key is then `op [shape] [shape]…`).
   */
  startProfile(opts: { byShape?: boolean } = {}): void {
    this.profile = new Map();
    this.profileByShape = opts.byShape ?? false;
  }
  stopProfile(): { op: string; calls: number; ms: number; fallback: boolean }[] {
    const p = this.profile ?? new Map<string, { calls: number; ms: number }>();
    this.profile = null;
    return [...p]
      .map(([op, e]) => ({ op, ...e, fallback: !(op.split(' ')[0]! in wasmKernels) }))
      .sort((a, b) => b.ms - a.ms);
  }

  private runKernel(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs): void {
    const k = wasmKernels[op];
    if (k && k(this, inputs, outputs, attrs)) return;
    const ref = referenceKernels[op];
    if (!ref) throw new BackendError(`wasm backend has no kernel '${op}'`);
    this.fallbacks.set(op, (this.fallbacks.get(op) ?? 0) + 1);
    ref(inputs.map((t) => this.view(t)), outputs.map((t) => this.view(t)), attrs);
  }

  memory(): WasmMemoryInfo {
    return this.heap.stats();
  }

  /** Resets the peak counters reported by memory(). */
  resetPeakMemory(): void {
    this.heap.resetPeak();
  }

  shutdown(): void {
    this.pool.shutdown();
  }

  // ---------------------------------------------------------------- for kernel drivers

  /** Byte offset of a tensor's data. */
  off(t: TensorRef): number {
    return this.buf(t.buf).offset;
  }

  /** A typed-array view of a tensor's data (made fresh: memory.grow replaces the buffer). */
  view(t: TensorRef): View {
    const n = sizeOf(t.shape);
    const off = this.buf(t.buf).offset;
    const data = t.dtype === 'int32' ? new Int32Array(this.wasmMemory.buffer, off, n) : new Float32Array(this.wasmMemory.buffer, off, n);
    return { data, shape: t.shape, dtype: t.dtype };
  }
  f32(t: TensorRef): Float32Array {
    return new Float32Array(this.wasmMemory.buffer, this.off(t), sizeOf(t.shape));
  }
  i32(t: TensorRef): Int32Array {
    return new Int32Array(this.wasmMemory.buffer, this.off(t), sizeOf(t.shape));
  }

  /** Runs exported kernel `name` once on this thread. */
  call(name: string, ...args: number[]): void {
    this.fns[this.id(name)]!(...args);
  }

  /** Runs kernel `name` once per task, task i on thread i (task 0 here). */
  parallel(name: string, tasks: readonly (readonly number[])[]): void {
    if (tasks.length === 1) this.fns[this.id(name)]!(...tasks[0]!);
    else this.pool.run(this.id(name), tasks);
  }

  /** Runs `fn` with `bytes` of temporary heap memory (16-byte aligned), freed afterwards. */
  withScratch<T>(bytes: number, fn: (offset: number) => T): T {
    const n = Math.max(16, bytes);
    const off = this.heap.alloc(n);
    try {
      return fn(off);
    } finally {
      this.heap.release(off, n);
    }
  }

  /** Threads worth using for `work` units when one thread should get at least `grain` of them. */
  threadsFor(work: number, grain: number): number {
    return Math.max(1, Math.min(this.pool.threads, Math.floor(work / grain)));
  }

  private id(name: string): number {
    const i = this.fnIds.get(name);
    if (i === undefined) throw new BackendError(`wasm: no kernel function '${name}'`);
    return i;
  }

  private buf(h: BufferHandle): WasmBuffer {
    const b = h as WasmBuffer;
    if (!(b instanceof WasmBuffer)) throw new BackendError('wasm: a buffer of another backend was passed to the wasm backend');
    if (b.freed) throw new BackendError(`wasm: buffer at ${b.offset} used after free`);
    return b;
  }
}
