/**
 * matmul driver: a single matrix–vector product (N = 1, A not transposed) goes to `gemv`
 * (kernels/gemv.ts: the GEMM's summation order without packing A or padding B); otherwise
 * batch offsets (with broadcast batch dims), then
 *  - below ~1 MFLOP per thread: `gemm` on this thread, matrix by matrix;
 *  - else `gemm_dyn` on every thread: the work is cut into items (per batch matrix, ranges of
 *    columns, or rows when there are more rows than columns), about 4 per thread, claimed through
 *    an atomic counter so that a thread slowed down by a busy machine does not hold the others up.
 * Batches whose matrices do not advance by fixed strides (broadcasting over several batch dims)
 * run one matrix at a time, each split the same way.
 */
import type { Attrs, TensorRef } from '../../../backend.js';
import { matmulDims, type MatmulAttrs } from '../../../ops/matmul.js';
import { sizeOf } from '../../../shape.js';
import { forEachBroadcast } from '../../reference/elementwise.js';
import type { WasmBackend, WasmKernel } from '../backend.js';
import { GEMV_ROWS } from '../kernels/gemv.js';
import { splitRange } from './layout.js';

const MIN_FLOP_PER_THREAD = 1 << 20;
const ITEMS_PER_THREAD = 4;
const MIN_CHUNK = 256;

export const matmulDriver: WasmKernel = (be, ins, outs, attrs) => runMatmul(be, ins, outs, attrs, 0);

/**
 * `matmulBias` (a, b, bias) → matmul(a, b) + bias, the bias ([N] or [1, N]) added to every row:
 * the step fuse.ts makes of a matmul whose only reader is that add. The GEMM adds the bias to
 * each tile after its last K block, one rounding as the add kernel's, so the values are those of
 * the two launches bit for bit, without a second pass over C. Other shapes and dtypes run the two
 * ops as recorded (`biasFirst`: the add's operand order).
 */
export const matmulBiasDriver: WasmKernel = (be, [a, b, bias], [y], attrs) => {
  const { M, N } = matmulDims(a!.shape, b!.shape, attrs as unknown as MatmulAttrs);
  const fusable = a!.dtype === 'float32' && b!.dtype === 'float32' && bias!.dtype === 'float32' && a!.shape.length === 2 && b!.shape.length === 2
    && N > 1 && sizeOf(bias!.shape) === N && bias!.shape.length <= 2 && bias!.shape[bias!.shape.length - 1] === N && y!.shape.length === 2 && y!.shape[0] === M;
  if (fusable && runMatmul(be, [a!, b!], [y!], attrs, be.off(bias!))) return true;
  const mm = { buf: be.alloc(y!.dtype, sizeOf(y!.shape)), shape: y!.shape, dtype: y!.dtype };
  try {
    be.run('matmul', [a!, b!], [mm], attrs);
    be.run('add', attrs.biasFirst ? [bias!, mm] : [mm, bias!], [y!], {});
  } finally {
    be.free(mm.buf);
  }
  return true;
};

/** The matmul launch; `bias` (an address, or 0) as in `matmulBiasDriver`. */
function runMatmul(be: WasmBackend, [a, b]: readonly TensorRef[], [y]: readonly TensorRef[], attrs: Attrs, bias: number): boolean {
  if (a!.dtype !== 'float32' || b!.dtype !== 'float32') return false;
  const at = attrs as unknown as MatmulAttrs;
  const { batch, M, K, N } = matmulDims(a!.shape, b!.shape, at);
  const nb = sizeOf(batch);
  if (nb * M * N === 0) return bias === 0;
  const Y = be.off(y!);
  if (K === 0) {
    if (bias !== 0) return false;
    be.call('fill32', Y, nb * M * N, 0);
    return true;
  }
  const A = be.off(a!), B = be.off(b!);
  const tA = at.transA ? 1 : 0, tB = at.transB ? 1 : 0;
  if (N === 1 && nb === 1 && !tA && bias === 0) {
    // a matrix–vector product (B [K, 1] or [1, K]ᵀ: K contiguous values either way) in the GEMM's
    // order without packing A or padding B to NR lanes (kernels/gemv.ts); rows split over threads
    const ranges = splitRange(M, be.threadsFor(2 * M * K, MIN_FLOP_PER_THREAD), 4 * GEMV_ROWS);
    be.parallel('gemv', ranges.map(([i0, i1]) => [A, B, Y, M, K, i0, i1]));
    return true;
  }
  // element offsets of each batch matrix in a and b
  const aOffs: number[] = [], bOffs: number[] = [];
  forEachBroadcast(batch, [a!.shape.slice(0, -2), b!.shape.slice(0, -2)], (_o, [ia, ib]) => {
    aOffs.push(ia! * M * K);
    bOffs.push(ib! * K * N);
  });
  const threads = be.threadsFor(2 * M * N * K * nb, MIN_FLOP_PER_THREAD);
  if (threads === 1) {
    for (let i = 0; i < nb; i++) be.call('gemm', A + 4 * aOffs[i]!, B + 4 * bOffs[i]!, Y + 4 * i * M * N, M, N, K, tA, tB, 0, M, 0, N, be.gemmScratch[0]!, bias);
    return true;
  }
  const byCols = N >= M ? 1 : 0;
  const extent = byCols ? N : M, align = byCols ? 4 * be.gemm.NV : be.gemm.MR;
  const roundUp = (v: number) => Math.ceil(v / align) * align;
  const run = (Ab: number, Bb: number, Cb: number, count: number, sA: number, sB: number) => {
    const perBatch = Math.max(1, Math.ceil((ITEMS_PER_THREAD * threads) / count));
    // every item packs the whole other operand: items narrower than MIN_CHUNK spend too much on
    // packing (measured ~25% at 32 columns of a 256³ product), unless that leaves a thread idle
    const oneEach = count >= threads ? extent : roundUp(extent / threads);
    const chunk = Math.max(roundUp(extent / perBatch), Math.min(MIN_CHUNK, oneEach));
    be.withScratch(16, (counter) => {
      new Int32Array(be.wasmMemory.buffer, counter, 1)[0] = 0;
      be.parallel(
        'gemm_dyn',
        Array.from({ length: threads }, (_, t) => [Ab, Bb, Cb, M, N, K, tA, tB, be.gemmScratch[t]!, counter, chunk, byCols, count, sA, sB, bias]),
      );
    });
  };
  const sA = nb > 1 ? aOffs[1]! - aOffs[0]! : 0, sB = nb > 1 ? bOffs[1]! - bOffs[0]! : 0;
  if (aOffs.every((o, i) => o === i * sA) && bOffs.every((o, i) => o === i * sB)) run(A, B, Y, nb, sA, sB);
  else for (let i = 0; i < nb; i++) run(A + 4 * aOffs[i]!, B + 4 * bOffs[i]!, Y + 4 * i * M * N, 1, 0, 0);
  return true;
}
