/**
 * The gpujs `Backend` itself: construction for one gpu.js mode, the memory interface (alloc,
 * upload with int32 bound checks, download, free), and running an op — its plan from the op table
 * (op_table.ts), compiled through the kernel cache (kernel_cache.ts), arguments and result moved by
 * the residency code (residency.ts), or the host fallback (host_fallback.ts), each counted.
 * Sizes are checked against the mode's limits (texture capacity, exact row/column arithmetic,
 * wasm memory) with errors that name the tensor and the limit.
 */
import type { Attrs, Backend, BufferHandle, MemoryInfo, PlanInfo, PlanStep, TensorRef } from '../../backend.js';
import { allocArray, type DType, type TypedArray } from '../../dtype.js';
import { BackendError, fmtShape } from '../../errors.js';
import { sizeOf, type Shape } from '../../shape.js';
import { referenceKernels } from '../reference/index.js';
import type { View as HostView } from '../reference/view.js';
import { EXACT_INT, viewOf } from './codegen.js';
import { FUSED_OP, fuseElementwise } from './fuse.js';
import { env, loadGpuJs, type GpuInstance, type GpuJsModule, type GpuKernel, type GpuTexture } from './gpujs_module.js';
import { hostKernel } from './host_fallback.js';
import type { Range } from './int_bounds.js';
import { KernelCache, kernelClassOf, viewKey } from './kernel_cache.js';
import type { CodegenOptions } from './elementwise_math.js';
import type { KernelPlan } from './kernels.js';
import { Fallback, planOp } from './op_table.js';
import { probeGpujs, SYNC_MODES, type GpujsMode } from './probe.js';
import { DeviceBuffer, Residency } from './residency.js';

const HOST_MODES: readonly GpujsMode[] = ['webasm', 'cpu'];
/** Kernels kept compiled (least recently used are destroyed beyond this). */
const KERNEL_CACHE_SIZE = 512;
/** webasm copies every argument and the output into one WebAssembly memory per call. */
const WASM_BYTES_LIMIT = 2 ** 31;

export interface GpujsBackendOptions {
  /** gpu.js mode; default: the probe's choice. */
  mode?: GpujsMode;
  /** engine-visible name; default 'gpujs' */
  name?: string;
  /** compiled kernels kept (least recently used beyond this are destroyed); default 512 */
  kernelCacheSize?: number;
  /**
   * Allow the asynchronous mode (webgpu): ops are queued and run in order, and values can be read
   * only after `await flush()`. Not for the engine's default choice (its interface is synchronous);
   * for tests and explicit use.
   */
  allowAsync?: boolean;
  /**
   * Fuse chains of elementwise launches of jit plans into one kernel (`compilePlan`); default on,
   * off with GSAE_GPUJS_FUSE=0. See fuse.ts and the measurements in README.md.
   */
  fuse?: boolean;
}

export class GpujsBackend implements Backend {
  readonly name: string;
  readonly dtypes: readonly DType[] = ['float32', 'int32'];
  readonly mode: GpujsMode;
  private readonly g: GpuJsModule;
  private readonly gpu: GpuInstance;
  /** GL modes: storage is textures laid out per view */
  private readonly gl: boolean;
  /** webgpu: kernels return Promises, so ops are queued (see `allowAsync`, `flush`) */
  readonly isAsync: boolean;
  private queue: Promise<void> = Promise.resolve();
  private readonly codegen: CodegenOptions;
  /** jit plans get elementwise chains fused (see `compilePlan`) */
  readonly fuse: boolean;
  /** GL: largest texture side; elements per tensor are limited to its square. */
  readonly maxElements: number;
  private readonly kernels: KernelCache;
  private readonly res: Residency;
  private readonly fallbackLog = new Map<string, { count: number; reason: string }>();
  private readonly nativeLog = new Map<string, number>();
  private buffers = 0;
  private bytes = 0;

  constructor(opts: GpujsBackendOptions = {}) {
    const probe = probeGpujs();
    const mode = opts.mode ?? probe.chosen;
    if (!mode) throw new BackendError(`gpujs: no usable gpu.js mode: ${probe.why}`);
    const st = probe.modes.find((s) => s.mode === mode);
    const asyncOk = mode === 'webgpu' && opts.allowAsync === true && st?.available === true;
    if (!st || (!st.usable && !asyncOk)) {
      throw new BackendError(
        `gpujs: mode '${mode}' is not usable here: ${st?.reason ?? 'unknown mode'}${SYNC_MODES.includes(mode) || !st?.available ? '' : ' (the engine backend needs a synchronous mode; allowAsync: true runs it queued, for tests)'}`,
      );
    }
    this.mode = mode;
    this.name = opts.name ?? 'gpujs';
    const kernelCacheSize = opts.kernelCacheSize ?? (Number(env('GSAE_GPUJS_KERNEL_CACHE')) || KERNEL_CACHE_SIZE);
    this.g = loadGpuJs();
    this.gpu = new this.g.GPU({ mode });
    this.isAsync = mode === 'webgpu';
    this.gl = !HOST_MODES.includes(mode) && !this.isAsync;
    // WGSL, like GLSL, leaves tanh overflow and pow of a negative base undefined: guarded math too
    this.codegen = { gl: this.gl || this.isAsync };
    const side = st.maxTextureSize ?? 0;
    this.maxElements = this.gl ? side * side : Number.MAX_SAFE_INTEGER;
    this.fuse = opts.fuse ?? env('GSAE_GPUJS_FUSE') !== '0';
    this.kernels = new KernelCache(this.gpu, this.gl, kernelCacheSize);
    this.res = new Residency({ g: this.g, mode, gl: this.gl, isAsync: this.isAsync, kernels: this.kernels });
  }

  /**
   * The jit hook: fuses chains of elementwise launches (one output shape, intermediates read only
   * inside the chain) into one kernel each (fuse.ts). GL kernels take at most 8 tensor arguments
   * (WebGL 1's guaranteed texture units), host modes 16. Not in the queued webgpu mode (its WGSL
   * translation of fused programs is untested).
   */
  compilePlan(steps: readonly PlanStep[], info: PlanInfo): PlanStep[] {
    if (!this.fuse || this.isAsync) return [...steps];
    return fuseElementwise(steps, info, { maxTensors: this.gl ? 8 : 16, maxNodes: 64 });
  }

  // ------------------------------------------------------------ memory

  alloc(dtype: DType, size: number): BufferHandle {
    if (dtype !== 'float32' && dtype !== 'int32') throw new BackendError(`gpujs: ${dtype} is not supported (float32 and int32 only)`);
    if (size > this.maxElements) {
      throw new BackendError(`gpujs(${this.mode}): a tensor of ${size} elements exceeds the ${this.maxElements} a texture holds (maximum side ${Math.sqrt(this.maxElements)})`);
    }
    this.buffers++;
    this.bytes += size * 4;
    return new DeviceBuffer(dtype, size);
  }

  upload(buf: BufferHandle, data: TypedArray): void {
    const b = buf as DeviceBuffer;
    if (data.length !== b.size) throw new BackendError(`gpujs: upload of ${data.length} values into a buffer of ${b.size}`);
    const f = new Float32Array(data.length);
    if (b.dtype === 'int32') {
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (!(Math.abs(v) < EXACT_INT)) {
          throw new BackendError(
            `gpujs: int32 value ${v} at position ${i} is outside ±2^24 (${EXACT_INT}), the range float32 storage holds exactly; keep such integers on the reference or wasm backend`,
          );
        }
        if (i === 0 || v < lo) lo = v;
        if (i === 0 || v > hi) hi = v;
        f[i] = v;
      }
      b.range = [lo, hi];
    } else f.set(data);
    this.res.setStore(b, { refs: 1, host: f, tex: new Map() });
  }

  download(buf: BufferHandle, dtype: DType, size: number): TypedArray {
    const b = buf as DeviceBuffer;
    const f = this.res.hostData(b);
    const out = allocArray(dtype, size);
    for (let i = 0; i < size; i++) out[i] = f[i]!;
    return out;
  }

  free(buf: BufferHandle): void {
    const b = buf as DeviceBuffer;
    this.buffers--;
    this.bytes -= b.bytes;
    // async mode: queued ops may still read it
    if (this.isAsync) this.enqueue(() => this.res.setStore(b, null));
    else this.res.setStore(b, null);
  }

  /**
   * Async mode (webgpu): waits for every queued op, then reads the values of all live tensors back
   * to the host so that `download` (Tensor.toArray) can answer synchronously. The first error of a
   * queued op is thrown here (the queue then starts afresh). A no-op in synchronous modes.
   */
  async flush(): Promise<void> {
    const q = this.queue;
    this.queue = Promise.resolve();
    await q;
    await this.res.readBackAll();
  }

  private enqueue(step: () => void | Promise<void>): void {
    this.queue = this.queue.then(step);
  }

  memory(): MemoryInfo {
    return { buffers: this.buffers, bytes: this.bytes };
  }

  has(op: string): boolean {
    return op in referenceKernels;
  }

  /** Ops that ran on the reference kernel instead of a gpu.js kernel: count and last reason. */
  fallbacks(): Record<string, { count: number; reason: string }> {
    return Object.fromEntries([...this.fallbackLog].map(([k, v]) => [k, { ...v }]));
  }

  /** Ops that ran as gpu.js kernels (or zero-copy aliases), with counts. */
  nativeRuns(): Record<string, number> {
    return Object.fromEntries(this.nativeLog);
  }

  /** Compiled kernels currently cached. */
  compiledKernels(): number {
    return this.kernels.size;
  }

  resetCounters(): void {
    this.fallbackLog.clear();
    this.nativeLog.clear();
  }

  shutdown(): void {
    this.res.release();
    this.kernels.destroyAll();
  }

  /** Physical storage (aliases share one) and GL textures alive now: for leak tests. */
  deviceStats(): { storages: number; textures: number } {
    return this.res.stats();
  }

  // ------------------------------------------------------------ running ops

  run(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs): void {
    // cpu mode computes indices in float64 JavaScript numbers and needs no check
    if (this.mode !== 'cpu') for (const t of [...inputs, ...outputs]) this.checkView(op, t);
    if (this.isAsync) {
      // queued: the tensors may be disposed before the step runs (their buffers are not: frees
      // are queued behind it), so keep plain references
      const plain = (t: TensorRef): TensorRef => ({ buf: t.buf, shape: t.shape, dtype: t.dtype });
      const ins = inputs.map(plain);
      const outs = outputs.map(plain);
      this.enqueue(() => this.runStep(op, ins, outs, attrs));
      return;
    }
    this.runStep(op, inputs, outputs, attrs) as void;
  }

  /** Runs one op now; a Promise in async mode (webgpu kernels resolve asynchronously). */
  private runStep(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs): void | Promise<void> {
    if (outputs.every((o) => o.buf.bytes === 0)) {
      for (const o of outputs) {
        this.res.setStore(o.buf as DeviceBuffer, { refs: 1, host: new Float32Array(0), tex: new Map() });
        (o.buf as DeviceBuffer).range = [0, 0];
      }
      return;
    }
    const how = outputs.length === 1 ? planOp(op, inputs, outputs[0]!, attrs, this.gl, this.codegen) : new Fallback('multi-output op');
    if (how instanceof Fallback) return this.fallbackStep(op, inputs, outputs, attrs, how.reason);
    const out = outputs[0]!.buf as DeviceBuffer;
    const degraded = `gpu.js degraded the kernel from ${this.mode} to another backend`;
    if ('alias' in how) {
      const src = (how.alias.buf as DeviceBuffer).store!;
      src.refs++;
      this.res.setStore(out, src);
    } else {
      let ok: boolean | Promise<boolean>;
      try {
        ok = this.execute(op, how.plan, inputs, out, outputs[0]!.shape);
      } catch (e) {
        // a fused kernel gpu.js cannot build runs its ops one by one on the host instead
        if (op !== FUSED_OP || !(e instanceof BackendError)) throw e;
        return this.fallbackStep(op, inputs, outputs, attrs, e.message);
      }
      if (ok instanceof Promise) return ok.then((done) => (done ? this.ran(op, out, how.range) : this.fallbackStep(op, inputs, outputs, attrs, degraded)));
      if (!ok) return this.fallback(op, inputs, outputs, attrs, degraded);
    }
    this.ran(op, out, how.range);
  }

  /** Bookkeeping after a native run: the int32 bounds of the result, the count. */
  private ran(op: string, out: DeviceBuffer, range: Range | undefined): void {
    if (out.dtype === 'int32') out.range = range ?? null;
    if (out.dtype === 'int32' && !out.range) throw new BackendError(`gpujs: internal: int32 result of ${op} has no value bounds`);
    this.nativeLog.set(op, (this.nativeLog.get(op) ?? 0) + 1);
  }

  /** Rows and columns must stay below 2^24: kernels compute them in float32. */
  private checkView(op: string, t: TensorRef): void {
    const { R, C } = viewOf(t.shape);
    if (R >= EXACT_INT || C >= EXACT_INT) {
      throw new BackendError(
        `gpujs(${this.mode}): ${op}: tensor ${fmtShape(t.shape)} has ${R} rows of ${C} (last axis); gpu.js kernels index rows and columns in float32, exact below 2^24 = ${EXACT_INT}`,
      );
    }
  }

  /** The host fallback; in async mode the inputs are read back from the GPU first. */
  private fallbackStep(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs, reason: string): void | Promise<void> {
    if (!this.isAsync) return this.fallback(op, inputs, outputs, attrs, reason);
    return Promise.all(inputs.map((t) => this.res.readBack(t.buf as DeviceBuffer))).then(() => this.fallback(op, inputs, outputs, attrs, reason));
  }

  private fallback(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs, reason: string): void {
    const k = hostKernel(op);
    if (!k) throw new BackendError(`gpujs: no kernel and no reference kernel for '${op}'`);
    const view = (t: TensorRef, data: TypedArray): HostView => ({ data, shape: t.shape, dtype: t.dtype });
    const ins = inputs.map((t) => view(t, this.download(t.buf, t.dtype, sizeOf(t.shape))));
    const outs = outputs.map((t) => view(t, allocArray(t.dtype, sizeOf(t.shape))));
    // logged first: the upload below may refuse the result (an int32 beyond ±2^24)
    const e = this.fallbackLog.get(op);
    if (e) {
      e.count++;
      e.reason = reason;
    } else this.fallbackLog.set(op, { count: 1, reason });
    k(ins, outs, attrs);
    outputs.forEach((t, i) => this.upload(t.buf, outs[i]!.data));
  }

  /** Runs a plan; false if gpu.js silently degraded it to another mode (the caller falls back). */
  private execute(op: string, plan: KernelPlan, inputs: readonly TensorRef[], out: DeviceBuffer, outShape: Shape): boolean | Promise<boolean> {
    const argKinds = plan.args.map((a) => ('tensor' in a ? (this.gl ? 'NumberTexture' : 'Input') : 'Float'));
    // the source may not mention an operand's size (broadcast or indexed axes): it is part of the key
    const argViews = plan.args.map((a) => ('tensor' in a ? viewKey(inputs[a.tensor]!.shape) : 's'));
    if (this.mode === 'webasm') {
      let bytes = out.bytes;
      for (const a of plan.args) if ('tensor' in a) bytes += inputs[a.tensor]!.buf.bytes;
      if (bytes > WASM_BYTES_LIMIT) throw new BackendError(`gpujs(webasm): ${op} needs ${bytes} bytes of WebAssembly memory for its arguments and output (limit ${WASM_BYTES_LIMIT})`);
    }
    // operands first: laying out an upload compiles a kernel, which may evict others
    const args = plan.args.map((a) => ('tensor' in a ? this.res.operand(inputs[a.tensor]!) : a.scalar));
    let result: unknown;
    let kernel: GpuKernel;
    let key: string;
    try {
      ({ kernel, key } = this.kernels.kernelFor(plan, argKinds, argViews));
      result = kernel(...args);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new BackendError(`gpujs(${this.mode}): ${op} ${fmtShape(outShape)}: gpu.js could not build or run its kernel: ${msg.split('\n')[0]}`);
    }
    // gpu.js degrades kernels it cannot build (to its cpu backend) with only a console warning;
    // the class of the kernel that ran says which backend it was
    const ranAs = kernel.kernel?.constructor;
    const degraded = ranAs !== kernelClassOf(this.g, this.mode);
    if (degraded && env('GSAE_GPUJS_DEBUG')) console.warn(`gpujs: ${op} degraded: ${kernel.kernel?.fallbackReason}\n${plan.source}`);
    const adopt = (r: unknown): boolean => {
      if (degraded) {
        if (r && typeof (r as GpuTexture).delete === 'function') (r as GpuTexture).delete();
        return false;
      }
      this.res.adoptResult(out, r, outShape, key);
      return true;
    };
    if (result instanceof Promise) {
      return result.then(adopt, (e: unknown) => {
        const msg = e instanceof Error ? e.message : String(e);
        throw new BackendError(`gpujs(${this.mode}): ${op} ${fmtShape(outShape)}: gpu.js could not build or run its kernel: ${msg.split('\n')[0]}`);
      });
    }
    return adopt(result);
  }
}
