/**
 * The reference backend: plain TypeScript loops over host typed arrays. It is the oracle every
 * other backend is tested against, and the only one with float64 (for gradient checks).
 */
import type { Attrs, Backend, BufferHandle, TensorRef } from '../../backend.js';
import { allocArray, bytesPerElement, type DType, type TypedArray } from '../../dtype.js';
import { BackendError } from '../../errors.js';
import { registerBackend } from '../../engine.js';
import { elementwiseKernels } from './elementwise.js';
import { structuralKernels } from './structural.js';
import { sparseKernels } from './sparse.js';
import { gsaeTopkKernels } from './gsae_topk.js';
import type { Kernel, View } from './view.js';

class HostBuffer implements BufferHandle {
  constructor(readonly data: TypedArray) {}
  get bytes(): number {
    return this.data.byteLength;
  }
}

export const referenceKernels: Record<string, Kernel> = { ...elementwiseKernels, ...structuralKernels, ...sparseKernels, ...gsaeTopkKernels };

export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  readonly dtypes: readonly DType[] = ['float32', 'float64', 'int32'];
  private buffers = 0;
  private bytes = 0;

  alloc(dtype: DType, size: number): BufferHandle {
    this.buffers++;
    this.bytes += size * bytesPerElement(dtype);
    return new HostBuffer(allocArray(dtype, size));
  }
  upload(buf: BufferHandle, data: TypedArray): void {
    (buf as HostBuffer).data.set(data);
  }
  download(buf: BufferHandle, _dtype: DType, size: number): TypedArray {
    return (buf as HostBuffer).data.slice(0, size);
  }
  free(buf: BufferHandle): void {
    this.buffers--;
    this.bytes -= buf.bytes;
  }
  has(op: string): boolean {
    return op in referenceKernels;
  }
  run(op: string, inputs: readonly TensorRef[], outputs: readonly TensorRef[], attrs: Attrs): void {
    const k = referenceKernels[op];
    if (!k) throw new BackendError(`reference backend has no kernel '${op}'`);
    const view = (t: TensorRef): View => ({ data: (t.buf as HostBuffer).data, shape: t.shape, dtype: t.dtype });
    k(inputs.map(view), outputs.map(view), attrs);
  }
  memory() {
    return { buffers: this.buffers, bytes: this.bytes };
  }
}

registerBackend({ name: 'reference', priority: 0, create: () => new ReferenceBackend() });
