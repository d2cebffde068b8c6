/**
 * The 'gpujs' backend: the engine's primitives compiled by gpu.js into GPU kernels (GLSL on
 * headless-gl / WebGL) or its WebAssembly and JavaScript fallbacks (webasm, cpu).
 *
 * - Residency: kernels run in gpu.js pipeline mode, so GL results stay textures between ops;
 *   `immutable` makes every call return a fresh output (gpu.js otherwise reuses one output
 *   texture per kernel, which would overwrite activations an autodiff tape saved). Host modes
 *   (webasm, cpu) keep Float32Arrays.
 * - Release is deterministic: freeing a tensor deletes its texture at once (reference counted,
 *   since reshape and stopGradient share storage instead of copying).
 * - Element types: float32, and int32 stored as float32. Integers are exact only below 2^24, so
 *   every int32 buffer carries proven value bounds: uploads are checked, each integer-producing
 *   op derives its bounds statically, and an op whose result could leave the exact range (or an
 *   index that could be out of range) runs on the reference kernel instead, whose result is
 *   checked on upload. No integer is ever silently rounded.
 * - Ops without a kernel here run the reference kernel on downloaded data; each such fallback is
 *   counted by op and reason (`fallbacks()`), so nothing is hidden.
 * - Sizes are checked against the mode's limits (texture capacity, exact row/column arithmetic,
 *   wasm memory) with errors that name the tensor and the limit.
 *
 * Priority: the 'gpujs' entry ranks above 'wasm' (10) only when the probe finds a hardware GPU
 * mode; otherwise it ranks below 'reference' (0), so the engine never picks it silently on a
 * machine where it would only be a slower, numerically different CPU path.
 */
import type { Attrs, Backend, BufferHandle, MemoryInfo, PlanInfo, PlanStep, TensorRef } from '../../backend.js';
import { allocArray, type DType, type TypedArray } from '../../dtype.js';
import { BackendError, fmtShape } from '../../errors.js';
import { registerBackend } from '../../engine.js';
import { sizeOf, type Shape } from '../../shape.js';
import type { MatmulAttrs } from '../../ops/matmul.js';
import { referenceKernels } from '../reference/index.js';
import type { View as HostView } from '../reference/view.js';
import { EXACT_INT, viewOf } from './codegen.js';
import { FUSED_OP, fuseElementwise, type FusedProgram } from './fuse.js';
import { env, inNode, loadGpuJs, type GpuInstance, type GpuJsModule, type GpuKernel, type GpuTexture } from './gpujs_module.js';
import {
  argmaxKernel,
  arangeKernel,
  binaryKernel,
  concatKernel,
  copyKernel,
  fullKernel,
  fusedKernel,
  gatherKernel,
  matmulKernel,
  padKernel,
  reduceKernel,
  relayoutKernel,
  scatterAddAlongAxisKernel,
  scatterAddKernel,
  sliceKernel,
  takeAlongAxisKernel,
  transposeKernel,
  unaryKernel,
  whereKernel,
  type CodegenOptions,
  type KernelPlan,
} from './kernels.js';
import { probeGpujs, SYNC_MODES, type GpujsMode } from './probe.js';

export { probeGpujs, probeWebGpuAdapter, describeModes, GPUJS_MODES, type GpujsMode, type ProbeResult, type ModeStatus } from './probe.js';

/**
 * Ops that run as gpu.js kernels (reshape and stopGradient as zero-copy aliases) whenever their
 * preconditions hold: 44 of the engine's 49 primitives. The preconditions that send an op to the
 * host instead: int32 results that could leave ±2^24, indices not proven in range, a float → int32
 * cast, gather-style scatterAdd above its work bound, concat of more than 8 tensors.
 */
export const NATIVE_OPS: readonly string[] = [
  'neg', 'exp', 'log', 'tanh', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'gelu', 'geluGrad', 'heaviside',
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'equal', 'notEqual', 'greater', 'greaterEqual', 'less', 'lessEqual',
  'where', 'cast', 'sum', 'max', 'argmax',
  'reshape', 'stopGradient', 'transpose', 'slice', 'pad', 'concat', 'broadcastTo',
  'matmul', 'gather', 'scatterAdd', 'takeAlongAxis', 'scatterAddAlongAxis', 'full', 'arange',
];
/**
 * Ops that always run the reference kernel on the host (counted in `fallbacks()`): topk (sorting),
 * the sparse row primitives (data-dependent gathers/scatters over k ≪ m picks: small work, and
 * scatterOuter's accumulation has no gather-form kernel here) and the multi-output adamStep.
 */
export const HOST_OPS: readonly string[] = ['topkIndices', 'gatherDot', 'embeddingBag', 'scatterOuter', 'adamStep'];

/** Inclusive bounds on the values of an int32 buffer. */
export type Range = readonly [lo: number, hi: number];

/** Device memory shared by tensors that alias it (reshape, stopGradient). */
interface Storage {
  refs: number;
  /** host copy (webasm/cpu storage, or a GL upload not yet turned into a texture) */
  host: Float32Array | null;
  /** GL textures by the column count of the view they were laid out for, with the kernel that made each */
  tex: Map<number, { t: GpuTexture; kernel: string }>;
}

class DeviceBuffer implements BufferHandle {
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

/** Why an op ran on the reference kernel instead. */
class Fallback {
  constructor(readonly reason: string) {}
}

type NativeResult = { plan: KernelPlan; range?: Range } | { alias: TensorRef; range?: Range } | Fallback;

const HOST_MODES: readonly GpujsMode[] = ['webasm', 'cpu'];
/** Kernels kept compiled (least recently used are destroyed beyond this). */
const KERNEL_CACHE_SIZE = 512;
/** scatterAdd is written gather-style (|out| × |indices| reads); above this it falls back. */
const SCATTER_WORK_LIMIT = 2 ** 26;
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
  /** async mode: storages alive now (flush reads their values back) */
  private readonly liveStores = new Set<Storage>();
  private readonly codegen: CodegenOptions;
  /** jit plans get elementwise chains fused (see `compilePlan`) */
  readonly fuse: boolean;
  /** GL: largest texture side; elements per tensor are limited to its square. */
  readonly maxElements: number;
  private readonly kernels = new Map<string, GpuKernel>();
  private readonly kernelCacheSize: number;
  /** GL: live textures per kernel key (such kernels must not be destroyed) */
  private readonly outputsOf = new Map<string, number>();
  private readonly fallbackLog = new Map<string, { count: number; reason: string }>();
  private readonly nativeLog = new Map<string, number>();
  private buffers = 0;
  private bytes = 0;
  private liveStorages = 0;
  private liveTextures = 0;
  private empty: unknown = null;

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
    this.kernelCacheSize = opts.kernelCacheSize ?? (Number(env('GSAE_GPUJS_KERNEL_CACHE')) || KERNEL_CACHE_SIZE);
    this.g = loadGpuJs();
    this.gpu = new this.g.GPU({ mode });
    this.isAsync = mode === 'webgpu';
    this.gl = !HOST_MODES.includes(mode) && !this.isAsync;
    // WGSL, like GLSL, leaves tanh overflow and pow of a negative base undefined: guarded math too
    this.codegen = { gl: this.gl || this.isAsync };
    const side = st.maxTextureSize ?? 0;
    this.maxElements = this.gl ? side * side : Number.MAX_SAFE_INTEGER;
    this.fuse = opts.fuse ?? env('GSAE_GPUJS_FUSE') !== '0';
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
    this.setStore(b, { refs: 1, host: f, tex: new Map() });
  }

  download(buf: BufferHandle, dtype: DType, size: number): TypedArray {
    const b = buf as DeviceBuffer;
    const f = this.hostData(b);
    const out = allocArray(dtype, size);
    for (let i = 0; i < size; i++) out[i] = f[i]!;
    return out;
  }

  free(buf: BufferHandle): void {
    const b = buf as DeviceBuffer;
    this.buffers--;
    this.bytes -= b.bytes;
    // async mode: queued ops may still read it
    if (this.isAsync) this.enqueue(() => this.setStore(b, null));
    else this.setStore(b, null);
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
    for (const s of [...this.liveStores]) {
      if (s.host || s.refs === 0) continue;
      const e = s.tex.entries().next().value as [number, { t: GpuTexture }] | undefined;
      if (!e) continue;
      const [C, { t }] = e;
      const n = t.output.reduce((p, d) => p * d, 1);
      s.host = flatten(await (t.toArray() as unknown as Promise<unknown>), n, C);
    }
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
    if (this.empty && typeof (this.empty as GpuTexture).delete === 'function') (this.empty as GpuTexture).delete();
    this.empty = null;
    for (const k of this.kernels.values()) k.destroy(false);
    this.kernels.clear();
  }

  /** Physical storage (aliases share one) and GL textures alive now: for leak tests. */
  deviceStats(): { storages: number; textures: number } {
    return { storages: this.liveStorages, textures: this.liveTextures };
  }

  /** Points a buffer at storage (a new one has refs = 1), releasing what it held. */
  private setStore(b: DeviceBuffer, s: Storage | null): void {
    const old = b.store;
    b.store = s;
    if (s && s.refs === 1 && s !== old) {
      if (this.isAsync) this.liveStores.add(s);
      this.liveStorages++;
      this.liveTextures += s.tex.size;
    }
    if (old && --old.refs === 0) {
      this.liveStores.delete(old);
      this.liveStorages--;
      this.liveTextures -= old.tex.size;
      for (const { t, kernel } of old.tex.values()) {
        t.delete();
        this.outputsOf.set(kernel, this.outputsOf.get(kernel)! - 1);
      }
      old.tex.clear();
      old.host = null;
    }
  }

  /** A flat host copy of the buffer's values (no copy for host storage: callers must not write). */
  private hostData(b: DeviceBuffer): Float32Array {
    const s = b.store;
    if (!s) throw new BackendError('gpujs: read of a buffer that was never written');
    if (s.host) return s.host;
    if (this.isAsync) throw new BackendError(`gpujs(${this.mode}): values are still on the GPU (asynchronous mode): await backend.flush() before reading them`);
    const [C, { t }] = s.tex.entries().next().value as [number, { t: GpuTexture }];
    return flatten(t.toArray(), b.size, C);
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
        this.setStore(o.buf as DeviceBuffer, { refs: 1, host: new Float32Array(0), tex: new Map() });
        (o.buf as DeviceBuffer).range = [0, 0];
      }
      return;
    }
    const res = outputs.length === 1 ? this.native(op, inputs, outputs[0]!, attrs) : new Fallback('multi-output op');
    if (res instanceof Fallback) return this.fallbackStep(op, inputs, outputs, attrs, res.reason);
    const out = outputs[0]!.buf as DeviceBuffer;
    const degraded = `gpu.js degraded the kernel from ${this.mode} to another backend`;
    if ('alias' in res) {
      const src = (res.alias.buf as DeviceBuffer).store!;
      src.refs++;
      this.setStore(out, src);
    } else {
      let ok: boolean | Promise<boolean>;
      try {
        ok = this.execute(op, res.plan, inputs, out, outputs[0]!.shape);
      } catch (e) {
        // a fused kernel gpu.js cannot build runs its ops one by one on the host instead
        if (op !== FUSED_OP || !(e instanceof BackendError)) throw e;
        return this.fallbackStep(op, inputs, outputs, attrs, e.message);
      }
      if (ok instanceof Promise) return ok.then((done) => (done ? this.ran(op, out, res.range) : this.fallbackStep(op, inputs, outputs, attrs, degraded)));
      if (!ok) return this.fallback(op, inputs, outputs, attrs, degraded);
    }
    this.ran(op, out, res.range);
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
    return Promise.all(
      inputs.map(async (t) => {
        const s = (t.buf as DeviceBuffer).store;
        const e = s && !s.host ? (s.tex.entries().next().value as [number, { t: GpuTexture }] | undefined) : undefined;
        if (s && e) s.host = flatten(await (e[1].t.toArray() as unknown as Promise<unknown>), e[1].t.output.reduce((p, d) => p * d, 1), e[0]);
      }),
    ).then(() => this.fallback(op, inputs, outputs, attrs, reason));
  }

  private fallback(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs, reason: string): void {
    const k = op === FUSED_OP ? fusedOnHost : referenceKernels[op];
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
    const args = plan.args.map((a) => ('tensor' in a ? this.operand(inputs[a.tensor]!) : a.scalar));
    let result: unknown;
    let kernel: GpuKernel;
    let key: string;
    try {
      ({ kernel, key } = this.kernelFor(plan, argKinds, argViews));
      result = kernel(...args);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new BackendError(`gpujs(${this.mode}): ${op} ${fmtShape(outShape)}: gpu.js could not build or run its kernel: ${msg.split('\n')[0]}`);
    }
    // gpu.js degrades kernels it cannot build (to its cpu backend) with only a console warning;
    // the class of the kernel that ran says which backend it was
    const ranAs = kernel.kernel?.constructor;
    const degraded = ranAs !== this.kernelClass();
    if (degraded && env('GSAE_GPUJS_DEBUG')) console.warn(`gpujs: ${op} degraded: ${kernel.kernel?.fallbackReason}\n${plan.source}`);
    const adopt = (r: unknown): boolean => {
      if (degraded) {
        if (r && typeof (r as GpuTexture).delete === 'function') (r as GpuTexture).delete();
        return false;
      }
      this.adoptResult(out, r, outShape, key);
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

  /** The gpu.js kernel class of this mode. */
  private kernelClass(): unknown {
    const g = this.g;
    switch (this.mode) {
      case 'headlessgl': return g.HeadlessGLKernel;
      case 'webgl2': return g.WebGL2Kernel;
      case 'webgl': return g.WebGLKernel;
      case 'webasm': return g.WebAssemblyKernel;
      case 'webgpu': return g.WebGPUKernel;
      case 'cpu': return g.CPUKernel;
      default: throw new BackendError(`gpujs: mode ${this.mode} has no synchronous kernel class`);
    }
  }

  private kernelFor(plan: KernelPlan, argKinds: string[], argViews: string[]): { kernel: GpuKernel; key: string } {
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
    if (this.kernels.size > this.kernelCacheSize) this.evict(key);
    return { kernel: k, key };
  }

  /**
   * Destroys least recently used kernels until the cache fits, skipping those a live texture came
   * from: a gpu.js texture belongs to its kernel (destroying the kernel deletes the textures it
   * allocated, and a texture's reads and deletes go through it).
   */
  private evict(keep: string): void {
    for (const [key, k] of this.kernels) {
      if (this.kernels.size <= this.kernelCacheSize) return;
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

  /** A kernel argument for tensor t: an Input over host data, or a GL texture laid out for t's view. */
  private operand(t: TensorRef): unknown {
    const b = t.buf as DeviceBuffer;
    const s = b.store;
    if (!s) throw new BackendError('gpujs: a kernel input was never written');
    const { C, R } = viewOf(t.shape);
    // gpu.js cannot take an empty array; kernels never read an empty operand (their loops over it are empty)
    if (C * R === 0) return this.emptyOperand();
    if (this.isAsync) {
      // a GPU buffer is flat in [C, 1, R] order for every view: a view with other columns is the
      // same buffer under other dimensions (a refcounted handle, kept with the storage)
      const have = s.tex.get(C);
      if (have) return have.t;
      const first = s.tex.values().next().value as { t: GpuTexture & { clone(): GpuTexture & { output: number[] } }; kernel: string } | undefined;
      if (!first) return this.g.input(s.host!, [C, 1, R]);
      const v = first.t.clone();
      v.output = [C, 1, R];
      s.tex.set(C, { t: v, kernel: first.kernel });
      this.outputsOf.set(first.kernel, (this.outputsOf.get(first.kernel) ?? 0) + 1);
      this.liveTextures++;
      return v;
    }
    if (!this.gl) return this.g.input(s.host!, [C, 1, R]);
    const have = s.tex.get(C);
    if (have) return have.t;
    if (s.host) {
      // first GL use of uploaded data: lay it out as a texture once, kept with the storage
      const up = copyKernel(t.shape, t.shape);
      const { kernel, key } = this.kernelFor(up, ['Input'], [viewKey(t.shape)]);
      const tex = kernel(this.g.input(s.host, [C, 1, R]));
      if (!(tex instanceof this.g.Texture)) throw new BackendError(`gpujs(${this.mode}): gpu.js did not return a texture for an upload of ${fmtShape(t.shape)}`);
      s.tex.set(C, { t: tex, kernel: key });
      this.outputsOf.set(key, (this.outputsOf.get(key) ?? 0) + 1);
      this.liveTextures++;
      return tex;
    }
    throw new BackendError(`gpujs: internal: no texture laid out for view ${fmtShape(t.shape)}`);
  }

  /** Stand-in argument for an empty operand (never read). */
  private emptyOperand(): unknown {
    if (!this.empty) {
      const one = new Float32Array(1);
      if (this.gl) {
        const { kernel, key } = this.kernelFor(copyKernel([1], [1]), ['Input'], ['1,1']);
        this.empty = kernel(this.g.input(one, [1, 1, 1]));
        this.outputsOf.set(key, (this.outputsOf.get(key) ?? 0) + 1); // kept for the backend's life
      } else this.empty = this.g.input(one, [1, 1, 1]);
    }
    return this.empty;
  }

  private adoptResult(out: DeviceBuffer, result: unknown, shape: Shape, kernel: string): void {
    const { C } = viewOf(shape);
    if (this.isAsync) {
      const r = result as Partial<GpuTexture> | null;
      if (!r || typeof r.toArray !== 'function' || typeof r.delete !== 'function') throw new BackendError(`gpujs(${this.mode}): internal: pipeline kernel returned no GPU buffer`);
      this.outputsOf.set(kernel, (this.outputsOf.get(kernel) ?? 0) + 1);
      this.setStore(out, { refs: 1, host: null, tex: new Map([[C, { t: r as GpuTexture, kernel }]]) });
      return;
    }
    if (this.gl) {
      if (!(result instanceof this.g.Texture)) throw new BackendError(`gpujs(${this.mode}): internal: pipeline kernel returned no texture`);
      this.outputsOf.set(kernel, (this.outputsOf.get(kernel) ?? 0) + 1);
      this.setStore(out, { refs: 1, host: null, tex: new Map([[C, { t: result as GpuTexture, kernel }]]) });
    } else {
      this.setStore(out, { refs: 1, host: flatten(result, out.size, C), tex: new Map() });
    }
  }

  // ------------------------------------------------------------ op → kernel plan

  private native(op: string, ins: readonly TensorRef[], out: TensorRef, attrs: Attrs): NativeResult {
    const cg = this.codegen;
    const range = (t: TensorRef | undefined): Range => (t?.buf as DeviceBuffer | undefined)?.range ?? [0, 0];
    const isInt = out.dtype === 'int32';
    const [x, y, z] = ins;
    switch (op) {
      case FUSED_OP: {
        const prog = attrs.program as FusedProgram;
        const ref = (r: FusedProgram['nodes'][number]['args'][number]) => ('t' in r ? `x${r.t}` : 's' in r ? `s${r.s}` : `y${r.n}`);
        const p = fusedKernel(out.shape, ins.map((t) => t.shape), prog.scalars, prog.nodes.map((n) => ({ op: n.op, args: n.args.map(ref) })), cg);
        return p ? { plan: p } : new Fallback('fused program has an op without an inline form');
      }
      case 'reshape':
      case 'stopGradient': {
        // tensors are immutable, so storage can be shared; a GL texture is laid out for one
        // column count, so a reshape that changes the last axis re-lays it
        const storeHasView = !this.gl || (x!.buf as DeviceBuffer).store!.host || viewOf(x!.shape).C === viewOf(out.shape).C;
        if (storeHasView) return { alias: x!, range: range(x) };
        const p = relayoutKernel(x!.shape, out.shape);
        return p ? { plan: p, range: range(x) } : new Fallback('reshape of a texture whose flat offsets exceed 2^24');
      }
      case 'cast': {
        if (out.dtype === 'int32' && x!.dtype !== 'int32') return new Fallback('cast to int32 truncates values whose range is unknown on the device (checked on the host)');
        return { plan: copyKernel(out.shape, x!.shape), range: range(x) };
      }
      case 'where':
        return { plan: whereKernel(out.shape, x!.shape, y!.shape, z!.shape), range: union(range(y), range(z)) };
      case 'broadcastTo':
        return { plan: copyKernel(out.shape, x!.shape), range: range(x) };
      case 'transpose':
        return { plan: transposeKernel(x!.shape, attrs.perm as number[], out.shape), range: range(x) };
      case 'slice':
        return { plan: sliceKernel(x!.shape, attrs.begin as number[], out.shape), range: range(x) };
      case 'pad':
        return { plan: padKernel(x!.shape, attrs.before as number[], out.shape), range: union(range(x), [0, 0]) };
      case 'concat':
        if (ins.length > 8) return new Fallback(`concat of ${ins.length} tensors (kernels take at most 8 tensor arguments here)`);
        return { plan: concatKernel(ins.map((t) => t.shape), attrs.axis as number, out.shape), range: ins.map(range).reduce(union) };
      case 'sum': {
        const axes = attrs.axes as number[];
        let r: Range | undefined;
        if (isInt) {
          const n = axes.reduce((p, a) => p * x!.shape[a]!, 1);
          const [lo, hi] = range(x);
          r = [Math.min(0, n * lo), Math.max(0, n * hi)];
          if (!exact(r)) return new Fallback(`int32 sum could reach ${r[0]}..${r[1]}, beyond exact float32 integers`);
        }
        return { plan: reduceKernel('sum', x!.shape, axes, out.shape), ...(r ? { range: r } : {}) };
      }
      case 'max':
        return { plan: reduceKernel('max', x!.shape, attrs.axes as number[], out.shape), range: range(x) };
      case 'argmax':
        return { plan: argmaxKernel(x!.shape, attrs.axis as number, out.shape), range: [0, x!.shape[attrs.axis as number]! - 1] };
      case 'matmul':
        return { plan: matmulKernel(x!.shape, y!.shape, attrs as unknown as MatmulAttrs, out.shape) };
      case 'gather': {
        const axis = attrs.axis as number;
        const bad = indexRangeProblem(range(y), x!.shape[axis]!);
        if (bad) return new Fallback(bad);
        return { plan: gatherKernel(x!.shape, y!.shape, axis, out.shape), range: range(x) };
      }
      case 'takeAlongAxis': {
        const axis = attrs.axis as number;
        const bad = indexRangeProblem(range(y), x!.shape[axis]!);
        if (bad) return new Fallback(bad);
        return { plan: takeAlongAxisKernel(x!.shape, y!.shape, axis), range: range(x) };
      }
      case 'scatterAdd': {
        const axis = attrs.axis as number;
        const nIdx = sizeOf(y!.shape);
        const bad = indexRangeProblem(range(y), x!.shape[axis]!);
        if (bad) return new Fallback(bad);
        if (sizeOf(out.shape) * nIdx > SCATTER_WORK_LIMIT) {
          return new Fallback(`gather-style scatterAdd would read ${sizeOf(out.shape)} × ${nIdx} updates (limit ${SCATTER_WORK_LIMIT})`);
        }
        const r = isInt ? scatterRange(range(x), range(z), nIdx) : undefined;
        if (r && !exact(r)) return new Fallback(`int32 scatterAdd could reach ${r[0]}..${r[1]}`);
        return { plan: scatterAddKernel(x!.shape, y!.shape, z!.shape, axis), ...(r ? { range: r } : {}) };
      }
      case 'scatterAddAlongAxis': {
        const axis = attrs.axis as number;
        const bad = indexRangeProblem(range(y), x!.shape[axis]!);
        if (bad) return new Fallback(bad);
        const r = isInt ? scatterRange(range(x), range(z), y!.shape[axis]!) : undefined;
        if (r && !exact(r)) return new Fallback(`int32 scatterAddAlongAxis could reach ${r[0]}..${r[1]}`);
        return { plan: scatterAddAlongAxisKernel(x!.shape, y!.shape, axis), ...(r ? { range: r } : {}) };
      }
      case 'full': {
        const v = attrs.value as number;
        if (isInt && !(Number.isInteger(v) && exact([v, v]))) return new Fallback(`int32 fill value ${v} is not an integer below 2^24 (checked on the host)`);
        return { plan: fullKernel(out.shape, v), range: [v, v] };
      }
      case 'arange': {
        const start = attrs.start as number;
        const step = attrs.step as number;
        const n = attrs.n as number;
        const last = start + (n - 1) * step;
        const r: Range = [Math.min(start, last), Math.max(start, last)];
        if (isInt && !(Number.isInteger(start) && Number.isInteger(step) && exact(r))) {
          return new Fallback(`int32 arange ${start}..${last} (step ${step}) is not exact in float32 (checked on the host)`);
        }
        return { plan: arangeKernel(n, start, step), range: r };
      }
      case 'topkIndices':
        return new Fallback('no gpu.js kernel for topk (sorting); runs on the host');
    }
    const u = unaryKernel(op, out.shape, cg);
    if (u) return { plan: u };
    const b = binaryKernel(op, out.shape, x?.shape ?? [], y?.shape ?? [], cg);
    if (b) {
      if (!isInt) return { plan: b };
      const r = intBinaryRange(op, range(x), range(y));
      if (!r) return new Fallback(`int32 ${op} has no exact float32 kernel`);
      if (!exact(r)) return new Fallback(`int32 ${op} could reach ${r[0]}..${r[1]}, beyond exact float32 integers (computed on the host)`);
      return { plan: b, range: r };
    }
    return new Fallback('no gpu.js kernel for this op');
  }
}

// ------------------------------------------------------------ int32 bounds

function exact(r: Range): boolean {
  return Math.abs(r[0]) < EXACT_INT && Math.abs(r[1]) < EXACT_INT;
}

function union(a: Range, b: Range): Range {
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
}

function indexRangeProblem(r: Range, n: number): string | null {
  return r[0] >= 0 && r[1] < n ? null : `indices may be out of range (bounds ${r[0]}..${r[1]} vs axis size ${n}); checked on the host`;
}

function scatterRange(x: Range, u: Range, n: number): Range {
  return [x[0] + n * Math.min(0, u[0]), x[1] + n * Math.max(0, u[1])];
}

function intBinaryRange(op: string, a: Range, b: Range): Range | null {
  switch (op) {
    case 'add': return [a[0] + b[0], a[1] + b[1]];
    case 'sub': return [a[0] - b[1], a[1] - b[0]];
    case 'mul': {
      const p = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
      return [Math.min(...p), Math.max(...p)];
    }
    case 'maximum':
    case 'minimum':
      return union(a, b);
    case 'equal':
    case 'notEqual':
    case 'greater':
    case 'greaterEqual':
    case 'less':
    case 'lessEqual':
      return [0, 1];
    default:
      return null; // pow/div are float-only ops
  }
}

// ------------------------------------------------------------ helpers

/** A fused program on the host: the reference kernel of each node in turn (the fallback of a fused launch). */
function fusedOnHost(ins: HostView[], outs: HostView[], attrs: Attrs): void {
  const prog = attrs.program as FusedProgram;
  const out = outs[0]!;
  const vals: HostView[] = [];
  prog.nodes.forEach((n, j) => {
    const args = n.args.map((r): HostView => ('t' in r ? ins[r.t]! : 's' in r ? { data: Float32Array.of(prog.scalars[r.s]!), shape: [], dtype: 'float32' } : vals[r.n]!));
    const res: HostView = j === prog.nodes.length - 1 ? out : { data: allocArray('float32', sizeOf(out.shape)), shape: out.shape, dtype: 'float32' };
    const k = referenceKernels[n.op];
    if (!k) throw new BackendError(`gpujs: no reference kernel for fused '${n.op}'`);
    k(args, [res], n.attrs);
    vals.push(res);
  });
}

function viewKey(shape: Shape): string {
  const { C, R } = viewOf(shape);
  return `${C},${R}`;
}

/** Argument names of a generated `function(a, b) {...}` source. */
function argNames(source: string): string[] {
  const m = /^function\(([^)]*)\)/.exec(source);
  return m && m[1]!.trim() ? m[1]!.split(',').map((s) => s.trim()) : [];
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

// ------------------------------------------------------------ registration

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
