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
  /** Releases threads, contexts and pools (optional). */
  shutdown?(): void;
}
