/**
 * Drivers of the sparse row primitives (k picks per row, or flat picks b·m + r) and the fused
 * Adam step (kernels/sparse.ts): float32 only
 * (other dtypes decline to the reference kernel), indices validated here first with the
 * reference's message, rows of the output split over threads.
 */
import type { TensorRef } from '../../../backend.js';
import { sizeOf } from '../../../shape.js';
import { checkFlatIndices, checkSparseIndices } from '../../reference/sparse.js';
import type { WasmBackend, WasmKernel } from '../backend.js';
import { splitRange } from './layout.js';
import { OUTER_T_GROUP } from '../kernels/sparse.js';

/** Multiply-adds per thread below which splitting costs more than it saves (~20 µs handoff). */
const GRAIN = 1 << 16;
/** Elements per thread for the streaming Adam pass. */
const GRAIN_ADAM = 1 << 16;

const f32 = (...ts: readonly TensorRef[]) => ts.every((t) => t.dtype === 'float32');

/**
 * A table in cols layout (W [d, m]) puts each vector in a strided column, which the cols kernels
 * read with scalar gathers (~4× slower per multiply-add than the 4-lane rows kernels, measured).
 * Transposing it (one tiled pass over m·d words) pays when the B·k picks read as many words.
 */
const transposePays = (m: number, d: number, picks: number): boolean => m * d <= picks * d;

/** y [C, R] = x [R, C] (byte offsets), the tiled transpose split over rows. */
function transpose(be: WasmBackend, x: number, y: number, R: number, C: number): void {
  be.parallel('transpose2d', splitRange(R, be.threadsFor(R * C, 1 << 16), 16).map(([r0, r1]) => [x, y, 1, R, C, r0, r1]));
}

/** Runs `fn` with the rows-layout [m, d] copy of the cols-layout table w [d, m] in scratch. */
function withRowsTable(be: WasmBackend, w: TensorRef, m: number, d: number, fn: (rows: number) => void): void {
  be.withScratch(4 * m * d, (t) => {
    transpose(be, be.off(w), t, d, m);
    fn(t);
  });
}

/** m and d of a table in `layout`. */
function dims(w: TensorRef, layout: unknown): { m: number; d: number } {
  return layout === 'rows' ? { m: w.shape[0]!, d: w.shape[1]! } : { m: w.shape[1]!, d: w.shape[0]! };
}

/**
 * scatterOuter into a cols table ([d, m]) through `fn` (sp_outer_rows_t or sp_outer_flat_t):
 * groups of OUTER_T_GROUP latents summed in a per-thread scratch and stored transposed, so the
 * thread ranges start at multiples of the group.
 */
function transposedOuter(be: WasmBackend, fn: string, m: number, d: number, work: number, args: (r0: number, r1: number, tmp: number) => number[]): void {
  const ranges = splitRange(m, Math.min(Math.ceil(m / OUTER_T_GROUP), be.threadsFor(work, GRAIN)), OUTER_T_GROUP);
  const per = 4 * OUTER_T_GROUP * d;
  be.withScratch(per * ranges.length, (tmp) => be.parallel(fn, ranges.map(([r0, r1], i) => args(r0, r1, tmp + per * i))));
}

/** Rows [0, n) split over the threads that `work` multiply-adds justify. */
function rowsFor(be: WasmBackend, n: number, work: number): [number, number][] {
  return splitRange(n, Math.min(n, be.threadsFor(work, GRAIN)));
}

/**
 * Groups the flat picks q = idx[p] by `key(q)` ∈ [0, groups) with a stable counting sort into
 * scratch: start [groups + 1] then ent [N] (the picks p of group g are ent[start[g]..start[g+1])
 * in ascending p). Calls fn(entOffset, startOffset). Views are made after the allocation, since
 * growing (or compacting) the heap replaces the buffer and may move tensors.
 */
function withGroups(be: WasmBackend, idx: TensorRef, groups: number, key: (q: number) => number, fn: (ent: number, start: number) => void): void {
  const n = idx.shape[0]!;
  be.withScratch(4 * (groups + 1 + n), (scratch) => {
    const I = be.i32(idx);
    const start = new Int32Array(be.wasmMemory.buffer, scratch, groups + 1);
    const ent = new Int32Array(be.wasmMemory.buffer, scratch + 4 * (groups + 1), n);
    start.fill(0);
    for (let p = 0; p < n; p++) start[key(I[p]!) + 1]!++;
    for (let g = 0; g < groups; g++) start[g + 1]! += start[g]!;
    const cursor = start.slice(0, groups);
    for (let p = 0; p < n; p++) ent[cursor[key(I[p]!)]!++] = p;
    fn(scratch + 4 * (groups + 1), scratch);
  });
}

/**
 * Flat picks (idx [N] of q = b·m + r): the rows-layout kernels, with a cols table transposed
 * into scratch when that pays (m·d ≤ N·d words) and the reference kernel otherwise (few picks:
 * little work either way).
 */
const flatDrivers: Record<string, WasmKernel> = {
  gatherDot: (be, [a, w, idx], [y], attrs) => {
    const { m, d } = dims(w!, attrs.layout);
    const n = idx!.shape[0]!;
    checkFlatIndices('gatherDot', be.i32(idx!), a!.shape[0]!, m);
    if (n === 0) return true;
    const rows = attrs.layout === 'rows';
    if (!rows && !transposePays(m, d, n)) return false;
    const ranges = rowsFor(be, n, n * d);
    const go = (wr: number) => be.parallel('sp_dot_flat', ranges.map(([p0, p1]) => [be.off(a!), wr, be.off(idx!), be.off(y!), d, m, p0, p1]));
    if (rows) go(be.off(w!));
    else withRowsTable(be, w!, m, d, go);
    return true;
  },
  embeddingBag: (be, [v, idx, w], [y], attrs) => {
    const { m, d } = dims(w!, attrs.layout);
    const B = y!.shape[0]!, n = idx!.shape[0]!;
    checkFlatIndices('embeddingBag', be.i32(idx!), B, m);
    if (B * d === 0) return true;
    const rows = attrs.layout === 'rows';
    if (!rows && !transposePays(m, d, n)) return false;
    withGroups(be, idx!, B, (q) => Math.floor(q / m), (ent, start) => {
      const go = (wr: number) =>
        be.parallel('sp_bag_flat', rowsFor(be, B, (n + B) * d).map(([b0, b1]) => [be.off(v!), wr, be.off(idx!), ent, start, be.off(y!), d, m, b0, b1]));
      if (rows) go(be.off(w!));
      else withRowsTable(be, w!, m, d, go);
    });
    return true;
  },
  scatterOuter: (be, [v, idx, a], [y], attrs) => {
    const m = attrs.m as number;
    const d = a!.shape[1]!, n = idx!.shape[0]!;
    checkFlatIndices('scatterOuter', be.i32(idx!), a!.shape[0]!, m);
    if (m * d === 0) return true;
    withGroups(be, idx!, m, (q) => q % m, (ent, start) => {
      if (attrs.layout === 'rows') {
        be.parallel('sp_outer_flat', rowsFor(be, m, (m + n) * d).map(([r0, r1]) => [be.off(v!), be.off(a!), be.off(idx!), ent, start, be.off(y!), d, m, r0, r1]));
        return;
      }
      transposedOuter(be, 'sp_outer_flat_t', m, d, (m + n) * d, (r0, r1, tmp) => [be.off(v!), be.off(a!), be.off(idx!), ent, start, be.off(y!), d, m, r0, r1, tmp]);
    });
    return true;
  },
};

export const sparseDrivers: Record<string, WasmKernel> = {
  gatherDot: (be, [a, w, idx], [y], attrs) => {
    if (!f32(a!, w!)) return false;
    if (idx!.shape.length === 1) return flatDrivers.gatherDot!(be, [a!, w!, idx!], [y!], attrs);
    const { m, d } = dims(w!, attrs.layout);
    const [B, k] = idx!.shape as [number, number];
    checkSparseIndices('gatherDot', be.i32(idx!), k, m);
    if (B * k === 0) return true;
    const ranges = rowsFor(be, B, B * k * d);
    if (attrs.layout === 'rows') {
      be.parallel('sp_dot_rows', ranges.map(([b0, b1]) => [be.off(a!), be.off(w!), be.off(idx!), be.off(y!), d, k, b0, b1]));
    } else if (transposePays(m, d, B * k)) {
      withRowsTable(be, w!, m, d, (wr) => be.parallel('sp_dot_rows', ranges.map(([b0, b1]) => [be.off(a!), wr, be.off(idx!), be.off(y!), d, k, b0, b1])));
    } else {
      be.parallel('sp_dot_cols', ranges.map(([b0, b1]) => [be.off(a!), be.off(w!), be.off(idx!), be.off(y!), d, m, k, b0, b1]));
    }
    return true;
  },
  embeddingBag: (be, [v, idx, w], [y], attrs) => {
    if (!f32(v!, w!)) return false;
    if (idx!.shape.length === 1) return flatDrivers.embeddingBag!(be, [v!, idx!, w!], [y!], attrs);
    const { m, d } = dims(w!, attrs.layout);
    const [B, k] = idx!.shape as [number, number];
    checkSparseIndices('embeddingBag', be.i32(idx!), k, m);
    if (B * d === 0) return true;
    const ranges = rowsFor(be, B, B * Math.max(k, 1) * d);
    if (attrs.layout === 'rows') {
      be.parallel('sp_bag_rows', ranges.map(([b0, b1]) => [be.off(v!), be.off(idx!), be.off(w!), be.off(y!), d, k, b0, b1]));
    } else if (transposePays(m, d, B * k)) {
      withRowsTable(be, w!, m, d, (wr) => be.parallel('sp_bag_rows', ranges.map(([b0, b1]) => [be.off(v!), be.off(idx!), wr, be.off(y!), d, k, b0, b1])));
    } else {
      be.parallel('sp_bag_cols', ranges.map(([b0, b1]) => [be.off(v!), be.off(idx!), be.off(w!), be.off(y!), d, m, k, b0, b1]));
    }
    return true;
  },
  scatterOuter: (be, [v, idx, a], [y], attrs) => {
    if (!f32(v!, a!)) return false;
    if (idx!.shape.length === 1) return flatDrivers.scatterOuter!(be, [v!, idx!, a!], [y!], attrs);
    const m = attrs.m as number;
    const [B, k] = idx!.shape as [number, number];
    const d = a!.shape[1]!;
    const I = be.i32(idx!);
    checkSparseIndices('scatterOuter', I, k, m);
    if (m * d === 0) return true;
    const work = m * d + B * k * d;
    if (attrs.layout === 'cols' && !transposePays(m, d, B * k)) {
      // thread t owns output rows (of [d, m]) t0..t1: zero them, then every pick adds its element
      be.parallel('sp_outer_cols', rowsFor(be, d, work).map(([t0, t1]) => [be.off(v!), be.off(idx!), be.off(a!), be.off(y!), d, m, k, B, t0, t1]));
      return true;
    }
    // group the flat positions b·k + j by index (a stable counting sort), so each output row is
    // summed by one thread in (b, j) order with 4-lane updates along d
    const n = B * k;
    be.withScratch(4 * (m + 1 + n), (scratch) => {
      const start = new Int32Array(be.wasmMemory.buffer, scratch, m + 1);
      const ent = new Int32Array(be.wasmMemory.buffer, scratch + 4 * (m + 1), n);
      start.fill(0);
      for (let p = 0; p < n; p++) start[I[p]! + 1]!++;
      for (let r = 0; r < m; r++) start[r + 1]! += start[r]!;
      const cursor = start.slice(0, m);
      for (let p = 0; p < n; p++) ent[cursor[I[p]!]!++] = p;
      if (attrs.layout === 'rows') {
        be.parallel('sp_outer_rows', rowsFor(be, m, work).map(([r0, r1]) => [be.off(v!), be.off(a!), scratch + 4 * (m + 1), scratch, be.off(y!), d, k, r0, r1]));
        return;
      }
      transposedOuter(be, 'sp_outer_rows_t', m, d, work, (r0, r1, tmp) => [be.off(v!), be.off(a!), scratch + 4 * (m + 1), scratch, be.off(y!), d, k, r0, r1, m, tmp]);
    });
    return true;
  },
  adamStep: (be, [p, g, m, v, stepSize, sqrtBc2, decay], [pOut, mOut, vOut], attrs) => {
    if (!f32(p!)) return false;
    const n = sizeOf(p!.shape);
    if (n === 0) return true;
    const b1 = attrs.beta1 as number, b2 = attrs.beta2 as number;
    // f32 parameters: the call rounds each constant to float32, as a 0-d float32 tensor would
    const consts = [1 - b1, b2, 1 - b2, attrs.eps as number, be.f32(stepSize!)[0]!, be.f32(sqrtBc2!)[0]!, attrs.decoupledDecay === true ? be.f32(decay!)[0]! : 1];
    const ptrs = [p!, g!, m!, v!, pOut!, mOut!, vOut!].map((t) => be.off(t));
    const ranges = splitRange(n, be.threadsFor(n, GRAIN_ADAM), 4);
    be.parallel('adam_step', ranges.map(([i0, i1]) => [...ptrs.map((o) => o + 4 * i0), i1 - i0, ...consts]));
    return true;
  },
};
