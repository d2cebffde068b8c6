/**
 * Tensor: an immutable n-d array living on one backend. Values never change after creation;
 * ops return new tensors. Memory is released by `dispose()` or by the enclosing `tidy` scope.
 */
import type { Backend, BufferHandle, TensorRef } from './backend.js';
import type { DType, TypedArray } from './dtype.js';
import { AutodiffError, fmtShape } from './errors.js';
import { sizeOf, type Shape } from './shape.js';
import { releaseTensor, readTensor } from './engine.js';

let nextId = 1;

export class Tensor implements TensorRef {
  readonly id = nextId++;
  readonly size: number;
  /** Set once the buffer is released; any later use throws. */
  disposed = false;
  /** Number of live autodiff tapes holding this tensor (dispose is deferred while > 0). */
  tapeRefs = 0;
  /** dispose() was called while a tape held the tensor. */
  disposeRequested = false;
  /** A kept tensor survives the tidy scope it was created in. */
  kept = false;
  /**
   * Shape and dtype only, no buffer: made by ops while jit traces a step abstractly (the plan is
   * recorded without computing anything, then replayed with liveness-based frees).
   */
  abstract = false;

  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    private _buf: BufferHandle,
    readonly backend: Backend,
  ) {
    this.size = sizeOf(shape);
  }

  get buf(): BufferHandle {
    if (this.abstract) throw new AutodiffError(`tensor #${this.id} ${fmtShape(this.shape)} ${this.dtype} is a jit tracer (shape only): it has no values`);
    if (this.disposed) throw new AutodiffError(`tensor #${this.id} ${fmtShape(this.shape)} ${this.dtype} was used after dispose()`);
    return this._buf;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Releases the buffer now (or when the last autodiff tape holding it is released). */
  dispose(): void {
    releaseTensor(this);
  }

  /** A host copy of the elements in row-major order. */
  toArray(): TypedArray {
    return readTensor(this);
  }

  /** Nested JS arrays, like PyTorch's tolist(). */
  tolist(): unknown {
    const data = Array.from(this.toArray());
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return data[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new AutodiffError(`item(): tensor has shape ${fmtShape(this.shape)}, expected exactly one element`);
    return this.toArray()[0]!;
  }

  /** Internal: the handle even after dispose (for the backend's free). */
  rawBuffer(): BufferHandle {
    return this._buf;
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.backend.name})`;
  }
}
