/**
 * The interface every backend implements. The engine owns shapes, autodiff and scopes; a backend
 * owns memory and kernels. Kernels receive buffers already allocated for their outputs.
 */
import type { DType, TypedArray } from './dtype.js';
import type { Shape } from './shape.js';

/** An opaque handle to backend memory. `bytes` is what the backend accounts for it. */
export interface BufferHandle {
  readonly bytes: number;
}

/** A buffer with its logical shape and element type, as kernels see it. */
export interface TensorRef {
  readonly buf: BufferHandle;
  readonly shape: Shape;
  readonly dtype: DType;
}

export type Attrs = Readonly<Record<string, unknown>>;

/**
 * One kernel launch of a jit plan (engine/jit.ts): the op, the value slots it reads and writes,
 * the outputs' shapes and types, and its attributes.
 */
export interface PlanStep {
  op: string;
  ins: number[];
  outs: number[];
  outMeta: { shape: Shape; dtype: DType }[];
  attrs: Attrs;
}

/** What a backend may use when it rewrites a jit plan (`Backend.compilePlan`). */
export interface PlanInfo {
  /** slots the plan returns: they must still be written by some step */
  escapes: ReadonlySet<number>;
  /** constant slots (captured at trace time) holding one float32 value, with that value */
  scalarConsts: ReadonlyMap<number, number>;
  /** shape and dtype of every slot the plan reads or writes (inputs, constants, step outputs) */
  slotMeta: ReadonlyMap<number, { shape: Shape; dtype: DType }>;
}

export interface MemoryInfo {
  /** live buffers held by the backend */
  buffers: number;
  /** bytes held by those buffers */
  bytes: number;
}

export interface Backend {
  readonly name: string;
  /** Element types this backend can hold. */
  readonly dtypes: readonly DType[];
  alloc(dtype: DType, size: number): BufferHandle;
  upload(buf: BufferHandle, data: TypedArray): void;
  /** A fresh host copy of the buffer's first `size` elements. */
  download(buf: BufferHandle, dtype: DType, size: number): TypedArray;
  free(buf: BufferHandle): void;
  /** True when the backend has a kernel for `op`. */
  has(op: string): boolean;
  /** Runs `op`'s kernel, writing every output buffer completely. */
  run(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs): void;
  memory(): MemoryInfo;
  /**
   * Optional: rewrites a jit plan once, when it is traced (e.g. fuses chains of elementwise
   * launches into one kernel). The result must write every slot in `info.escapes` and every slot a
   * kept step reads, in an order where each slot is written before it is read; it may drop steps
   * whose outputs nothing else reads and use op names only this backend's `run` knows (the plan is
   * replayed on this backend only). Without it, plans replay as recorded.
   */
  compilePlan?(steps: readonly PlanStep[], info: PlanInfo): PlanStep[];
  /** Releases threads, contexts and pools (optional). */
  shutdown?(): void;
}
