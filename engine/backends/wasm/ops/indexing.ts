/**
 * Indexing ops on views of the wasm memory, with the reference's semantics (same iteration order,
 * so the first out-of-range index reported is the same) but without its per-element index
 * arithmetic: rows are moved with wasm memcpy, the last-axis cases are straight loops.
 * topkIndices runs the wasm partial selection (kernels/topk.ts) over rows split across threads.
 */
import type { TensorRef } from '../../../backend.js';
import { BackendError } from '../../../errors.js';
import { sizeOf } from '../../../shape.js';
import type { WasmBackend, WasmKernel } from '../backend.js';
import { topkNanError } from '../../reference/structural.js';
import { splitRange } from './layout.js';
import { topkRadixScratch } from '../kernels/topk_radix.js';
import { topkRowsScratch } from '../kernels/topk.js';

/**
 * Whether a topk of k in rows of n goes to radix selection (kernels/topk_radix.ts: four O(n)
 * passes and a sort of the k) rather than the heap with its block screen (kernels/topk.ts:
 * best when k is a small share of the row). Measured crossover (ms per call, heap → radix):
 * [1024, 4096] k 32 5.1 → 6.3 (heap), k 64 10.5 → 7.1, k 512 84 → 21; [64, 65536] k 256
 * 3.8 → 5.1 (heap); [16, 65536] k 1024 3.7 → 1.6; [4, 262144] k 1024 1.0 → 1.2 (heap);
 * [1, 4194304] k 32768 (BatchTopK) 22 → 12: the heap's log k grows with k.
 */
const useRadix = (n: number, k: number): boolean => k >= 64 && n <= (k >= 4096 ? 256 : 64) * k;

function checkIndex(op: string, i: number, n: number, axis: number): number {
  if (i < 0 || i >= n) throw new BackendError(`${op}: index ${i} is out of range for axis ${axis} of size ${n}`);
  return i;
}

/** Element offset (4-byte words) of a tensor in the memory. */
const w = (be: WasmBackend, t: TensorRef) => be.off(t) / 4;

/**
 * Radix selection of the top k of each of a few long rows (fewer rows than threads: BatchTopK's
 * one row of B·m), each row split over the threads: per pass the threads histogram their ranges
 * and the sums pick the bin; then each thread collects its range and the lists are joined in range
 * order (index order) and sorted once. The same passes and result as `topk_radix_rows`.
 */
function radixSplitRows(be: WasmBackend, x: TensorRef, y: TensorRef, rows: number, n: number, k: number): void {
  const ranges = splitRange(n, be.threads, 4);
  const T = ranges.length;
  // per thread: hist (2048), above keys and positions (k each), ties (k), counts (4), err (4)
  const per = 4 * (2048 + 3 * k + 8);
  // shared: the joined keys and positions, the sort's two scratch arrays (k each), its 256 counts
  const shared = 4 * (4 * k + 256);
  be.withScratch(per * T + shared, (scratch) => {
    const mem = () => new Int32Array(be.wasmMemory.buffer);
    const th = (t: number) => {
      const o = scratch + t * per;
      return { hist: o, aKey: o + 4 * 2048, aIdx: o + 4 * (2048 + k), eq: o + 4 * (2048 + 2 * k), counts: o + 4 * (2048 + 3 * k), err: o + 4 * (2048 + 3 * k + 4) };
    };
    const sh = scratch + per * T;
    const jKey = sh, jIdx = sh + 4 * k, bKey = sh + 8 * k, bIdx = sh + 12 * k, cnt = sh + 16 * k;
    for (let r = 0; r < rows; r++) {
      const base = be.off(x) + 4 * r * n;
      const hists = (pass: number, prefix: number): Int32Array => {
        for (let t = 0; t < T; t++) mem()[th(t).err / 4] = 0;
        be.parallel('rsel_hist', ranges.map(([i0, i1], t) => [base, i0, i1, pass, prefix, th(t).hist, th(t).err]));
        const m = mem();
        // the first NaN in index order: the lowest thread's range that has one
        for (let t = 0; t < T; t++) if (m[th(t).err / 4] === 1) throw topkNanError(r, m[th(t).err / 4 + 2]!);
        const sum = new Int32Array(2048);
        for (let t = 0; t < T; t++) for (let b = 0; b < 2048; b++) sum[b]! += m[th(t).hist / 4 + b]!;
        return sum;
      };
      let need = k;
      // the bin from the top where the count reaches need; need becomes what to take from it
      const findBin = (h: Int32Array, top: number): number => {
        let b = top - 1;
        while (h[b]! < need) need -= h[b--]!;
        return b;
      };
      const h0 = hists(0, 0);
      if (k === 0) continue;
      let prefix = findBin(h0, 2048);
      prefix = (prefix << 11) | findBin(hists(1, prefix), 2048);
      // K's 32 bits as an i32 argument (the kernel compares keys unsigned)
      const K = (prefix << 10) | findBin(hists(2, prefix), 1024);
      be.parallel('rsel_collect', ranges.map(([i0, i1], t) => [base, i0, i1, K, need, th(t).aKey, th(t).aIdx, th(t).eq, th(t).counts]));
      // join in range order: keys above K, then the first `need` ties
      let na = 0;
      for (let t = 0; t < T; t++) {
        const c = mem()[th(t).counts / 4]!;
        be.call('memcpy', jKey + 4 * na, th(t).aKey, 4 * c);
        be.call('memcpy', jIdx + 4 * na, th(t).aIdx, 4 * c);
        na += c;
      }
      const out = be.off(y) + 4 * r * k;
      be.call('rsel_sort', jKey, jIdx, bKey, bIdx, cnt, na, out);
      let ne = 0;
      for (let t = 0; t < T && ne < need; t++) {
        const c = Math.min(mem()[th(t).counts / 4 + 1]!, need - ne);
        be.call('memcpy', out + 4 * (na + ne), th(t).eq, 4 * c);
        ne += c;
      }
    }
  });
}

/**
 * Runs a topk rows kernel `fn(...args(r0, r1, scratch, err))` on each thread's rows [r0, r1) with
 * `per` bytes of scratch, whose error slots (flag, row, position) sit at byte `errAt`; threads stop
 * at their first NaN row, and the reference's error names the first such row overall, so the
 * lowest thread that found one is reported.
 */
function topkRowsWithErr(be: WasmBackend, fn: string, ranges: readonly [number, number][], per: number, errAt: number, args: (r0: number, r1: number, scratch: number, err: number) => number[]): void {
  be.withScratch(per * ranges.length, (scratch) => {
    const view = new Int32Array(be.wasmMemory.buffer, scratch, (per * ranges.length) / 4);
    ranges.forEach((_, t) => (view[(t * per + errAt) / 4] = 0));
    be.parallel(fn, ranges.map(([r0, r1], t) => args(r0, r1, scratch + t * per, scratch + t * per + errAt)));
    for (let t = 0; t < ranges.length; t++) {
      const e = (t * per + errAt) / 4;
      if (view[e] === 1) throw topkNanError(view[e + 1]!, view[e + 2]!);
    }
  });
}

export const indexingDrivers: Record<string, WasmKernel> = {
  gather: (be, [x, idx], [y], attrs) => {
    const axis = attrs.axis as number;
    const n = x!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const outer = sizeOf(x!.shape.slice(0, axis));
    const I = be.i32(idx!);
    const X = be.off(x!), Y = be.off(y!);
    const m = I.length;
    if (inner === 1) {
      // element picks (e.g. a bias at k latents per row): a plain loop, not one memcpy call each
      const mem = new Int32Array(be.wasmMemory.buffer); // moves bits: any dtype
      const xw = X / 4, yw = Y / 4;
      for (let o = 0; o < outer; o++) for (let j = 0; j < m; j++) mem[yw + o * m + j] = mem[xw + o * n + checkIndex('gather', I[j]!, n, axis)]!;
      return true;
    }
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        const r = checkIndex('gather', I[j]!, n, axis);
        be.call('memcpy', Y + 4 * (o * m + j) * inner, X + 4 * (o * n + r) * inner, 4 * inner);
      }
    }
    return true;
  },
  scatterAdd: (be, [x, idx, upd], [y], attrs) => {
    if (x!.dtype !== 'float32') return false;
    const axis = attrs.axis as number;
    const n = x!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const outer = sizeOf(x!.shape.slice(0, axis));
    const I = be.i32(idx!);
    const mem = new Float32Array(be.wasmMemory.buffer);
    const Y = w(be, y!), U = w(be, upd!);
    be.call('memcpy', be.off(y!), be.off(x!), 4 * sizeOf(x!.shape));
    const m = I.length;
    if (inner === 1) {
      // validate in the reference's order, then sum in wasm (f32 adds: the same bits as the
      // JavaScript double add rounded to float32, since 53 ≥ 2·24 + 2 makes that double rounding exact)
      for (let j = 0; j < m; j++) checkIndex('scatterAdd', I[j]!, n, axis);
      for (let o = 0; o < outer; o++) be.call('scatter_add_1d', be.off(y!) + 4 * o * n, be.off(idx!), be.off(upd!) + 4 * o * m, m);
      return true;
    }
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        const r = checkIndex('scatterAdd', I[j]!, n, axis);
        const d = Y + (o * n + r) * inner;
        const s = U + (o * m + j) * inner;
        for (let k = 0; k < inner; k++) mem[d + k]! += mem[s + k]!;
      }
    }
    return true;
  },
  takeAlongAxis: (be, [x, idx], [y], attrs) => {
    const axis = attrs.axis as number;
    const n = x!.shape[axis]!;
    const m = idx!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const I = be.i32(idx!);
    const mem = new Int32Array(be.wasmMemory.buffer); // moves bits: any dtype
    const X = w(be, x!), Y = w(be, y!);
    const total = I.length;
    if (inner === 1) {
      // validate in the reference's order (the first bad index is the one reported), then move
      // the words in wasm, rows split over threads
      for (let p = 0; p < total; p++) checkIndex('takeAlongAxis', I[p]!, n, axis);
      const rows = m === 0 ? 0 : total / m;
      const ranges = splitRange(rows, be.threadsFor(total, 1 << 13));
      be.parallel('take_last', ranges.map(([r0, r1]) => [be.off(x!), be.off(idx!), be.off(y!), n, m, r0, r1]));
      return true;
    }
    for (let p = 0; p < total; p++) {
      const k = p % inner;
      const o = Math.floor(p / (inner * m));
      mem[Y + p] = mem[X + (o * n + checkIndex('takeAlongAxis', I[p]!, n, axis)) * inner + k]!;
    }
    return true;
  },
  scatterAddAlongAxis: (be, [x, idx, upd], [y], attrs) => {
    if (x!.dtype !== 'float32') return false;
    const axis = attrs.axis as number;
    const n = x!.shape[axis]!;
    const m = idx!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const I = be.i32(idx!);
    const mem = new Float32Array(be.wasmMemory.buffer);
    const Y = w(be, y!), U = w(be, upd!);
    be.call('memcpy', be.off(y!), be.off(x!), 4 * sizeOf(x!.shape));
    const total = I.length;
    if (inner === 1) {
      for (let p = 0, o = 0; p < total; o++) {
        for (let j = 0; j < m; j++, p++) mem[Y + o * n + checkIndex('scatterAddAlongAxis', I[p]!, n, axis)]! += mem[U + p]!;
      }
      return true;
    }
    for (let p = 0; p < total; p++) {
      const k = p % inner;
      const o = Math.floor(p / (inner * m));
      mem[Y + (o * n + checkIndex('scatterAddAlongAxis', I[p]!, n, axis)) * inner + k]! += mem[U + p]!;
    }
    return true;
  },
  topkIndices: (be, [x], [y], attrs) => {
    if (x!.dtype !== 'float32') return false;
    const k = attrs.k as number;
    const n = x!.shape[x!.shape.length - 1]!;
    const rows = n === 0 ? 0 : sizeOf(x!.shape) / n;
    if (rows === 0) return true;
    const ranges = splitRange(rows, be.threadsFor(rows * n, 1 << 15));
    if (useRadix(n, k) && rows < be.threads && n >= 1 << 16) {
      radixSplitRows(be, x!, y!, rows, n, k);
      return true;
    }
    if (useRadix(n, k)) {
      // large k: radix selection, four O(n) passes (kernels/topk_radix.ts), whole rows per thread;
      // per thread: its scratch, then the 16 bytes of error slots
      const scr = topkRadixScratch(k);
      topkRowsWithErr(be, 'topk_radix_rows', ranges, scr + 16, scr, (r0, r1, s, e) => [be.off(x!), be.off(y!), n, k, r0, r1, s, e]);
      return true;
    }
    // the heap: per thread a heap of k (value, index) pairs, 16 bytes of error slots, and the
    // row's block maxima (blocks are at least 4 wide: at most ⌈n / 4⌉ of them)
    topkRowsWithErr(be, 'topk_rows', ranges, topkRowsScratch(n, k), 8 * k, (r0, r1, s, e) => [be.off(x!), be.off(y!), n, k, r0, r1, s, e, e + 16]);
    return true;
  },
};
