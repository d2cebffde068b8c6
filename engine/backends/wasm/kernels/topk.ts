/**
 * topk indices along the last axis by partial selection: per row, a min-heap of the k best so
 * far (root = the worst kept; order: value descending, ties to the lower index). After the first
 * k elements, the row is scanned 4 lanes at a time against the root's value: only lanes that beat
 * it (rare once the heap is warm) or are NaN leave the vector loop. Output is sorted descending.
 *
 * A vector pre-pass bounds the k-th largest value from below and finds where it can be: T is the
 * k-th largest of the maxima of nb ≈ 4k disjoint blocks of bs = 4·⌊n / 16k⌋ elements (k blocks
 * have their max ≥ T, so at least k elements are ≥ T and nothing below T can be in the top k).
 * Blocks whose max is below T are then skipped whole, and lanes below T skip the heap. On SAE
 * pre-activations (n = 4096, k = 32) about a third of the blocks are scanned. (The first version
 * took T as the least of k block maxima and scanned every element.) A NaN block max makes
 * T = −∞ (no filter, every element scanned in order) and the scan reports the first NaN as before.
 *
 * Fast path (kernels/select.ts): T is found by bisection on integer keys rather than a heap, the
 * elements ≥ T (whole blocks, then the tail one by one) are compacted in order without a branch
 * per element, and when there are at most 4k + 16 of them they are ranked by counting. The heap
 * path above stays for T = −∞, a NaN in the tail, and rows with more elements ≥ T (many ties).
 * On 1,024 distinct rows of 4,096 normals (k 32, one thread): 10.2 → 4.1 µs a row; the heap's
 * data-dependent branches were mispredicted (the same rows repeated took 2.5 µs).
 *
 *   topk_rows(x, out, n, k, r0, r1, heap, err, bmax)
 *     rows r0 ≤ r < r1 of x [rows, n] → out [rows, k] (int32)
 *     heap: scratch for k (f32 value) + k (i32 index); err: 3 i32 slots, set to (1, row, position)
 *     at the first NaN, after which the call returns (the reference throws there too);
 *     bmax: scratch for the row's block maxima, then the fast path's (topkRowsScratch: the
 *     driver's bytes per thread in all)
 */
import {
  block, br, brIf, call, f32, f32x4, forLoop, get, i32, ifThen, loop, ret, seq, set, v128, type Ex, type Func, type ModuleBuilder,
} from '../encoder.js';
import { blockSlots, blockSlotsBytesEx, compactEx, COMPACT_TABLE_BYTES, kthKeyEx, rankSelectEx, rankSelectMax, storeCompactTableEx } from './select.js';

const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));

// ---- the heap of the k best (value, index) pairs, root = the worst kept; shared with gsae_topk.ts

/**
 * worse(v1, i1, v2, i2): (v1, i1) ranks below (v2, i2) — value descending, ties to the lower
 * index. Emitted inline (Node 20's V8 does not inline wasm calls, and sift evaluates it twice per
 * level).
 */
export const worseEx = (v1: Ex, i1: Ex, v2: Ex, i2: Ex): Ex => i32.or(f32.lt(v1, v2), i32.and(f32.eq(v1, v2), i32.gt_s(i1, i2)));

/** The largest of a vector's four lanes. */
export const hmaxEx = (v: Ex): Ex => f32.max(f32.max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), f32.max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));

/** Heapify the `size` pairs at hv (values) / hi (indices): sift down every parent, last first (`i`: an i32 local). */
export const heapifyEx = (sift: Func, hv: number, hi: number, size: Ex, i: number): Ex => seq(
  set(i, i32.sub(i32.shr_s(size, i32.const(1)), i32.const(1))),
  block(loop(brIf(1, i32.lt_s(get(i), i32.const(0))), call(sift.index, get(hv), get(hi), get(i), size), set(i, i32.sub(get(i), i32.const(1))), br(0))),
);

/**
 * Empties a heap of `size` pairs in ascending rank: the worst comes out first, so rank s (0 = best)
 * is written from the back by `store(s, index)` (`s`: an i32 local).
 */
export const popSortedEx = (sift: Func, hv: number, hi: number, size: Ex, s: number, store: (rank: Ex, index: Ex) => Ex): Ex => seq(
  set(s, size),
  block(
    loop(
      brIf(1, i32.le_s(get(s), i32.const(0))),
      set(s, i32.sub(get(s), i32.const(1))),
      store(get(s), i32.load(get(hi))),
      f32.store(get(hv), f32.load(i32.add(get(hv), sh2(get(s))))),
      i32.store(get(hi), i32.load(i32.add(get(hi), sh2(get(s))))),
      call(sift.index, get(hv), get(hi), i32.const(0), get(s)),
      br(0),
    ),
  ),
);

/**
 * `topk_rows`' scratch from bmax on, as byte addresses, sizes in entries of 4 bytes: bmax, keys
 * and blist `blockSlots(n)` each, cv and ci CN = n + 8 rounded down to 4 each (≥ n + 5:
 * compactEx's and rankSelectEx's 4 slots of room), the shuffle table, rb k + 4.
 * `topkRowsScratch` is the same sum in bytes.
 */
function topkFastLayout(bmax: Ex, n: Ex): Record<'keys' | 'blist' | 'cv' | 'ci' | 'tbl' | 'rb', Ex> {
  const NB4 = blockSlotsBytesEx(n);
  const CN = i32.shl(i32.and(i32.add(n, i32.const(8)), i32.const(~3)), i32.const(2));
  const cv = i32.add(bmax, i32.mul(NB4, i32.const(3)));
  const tbl = i32.add(cv, i32.shl(CN, i32.const(1)));
  return { keys: i32.add(bmax, NB4), blist: i32.add(bmax, i32.shl(NB4, i32.const(1))), cv, ci: i32.add(cv, CN), tbl, rb: i32.add(tbl, i32.const(COMPACT_TABLE_BYTES)) };
}

/** Per-thread bytes of `topk_rows`' scratch: the heap (8k), the error slots (16), then topkFastLayout's regions. */
export const topkRowsScratch = (n: number, k: number): number =>
  8 * k + 16 + 4 * (3 * blockSlots(n) + 2 * ((n + 8) & ~3) + (k + 4)) + COMPACT_TABLE_BYTES;

/** Adds `topk_rows` and its heap's `topk_sift`; returns `topk_sift` (gsae_topk.ts's heaps use it). */
export function addTopk(mb: ModuleBuilder): Func {
  // siftDown(hv, hi, p, size)
  const sift = mb.func('topk_sift', ['i32', 'i32', 'i32', 'i32'], [], false);
  {
    const [hv, hi, p, size] = [0, 1, 2, 3];
    const v = sift.local('f32'), ix = sift.local('i32'), c = sift.local('i32');
    const V = (i: Ex) => f32.load(i32.add(get(hv), sh2(i)));
    const I = (i: Ex) => i32.load(i32.add(get(hi), sh2(i)));
    sift.emit(
      set(v, V(get(p))),
      set(ix, I(get(p))),
      block(
        loop(
          set(c, i32.add(i32.shl(get(p), i32.const(1)), i32.const(1))),
          brIf(1, i32.ge_s(get(c), get(size))),
          ifThen(
            i32.and(
              i32.lt_s(i32.add(get(c), i32.const(1)), get(size)),
              worseEx(V(i32.add(get(c), i32.const(1))), I(i32.add(get(c), i32.const(1))), V(get(c)), I(get(c))),
            ),
            [set(c, i32.add(get(c), i32.const(1)))],
          ),
          brIf(1, i32.eqz(worseEx(V(get(c)), I(get(c)), get(v), get(ix)))),
          f32.store(i32.add(get(hv), sh2(get(p))), V(get(c))),
          i32.store(i32.add(get(hi), sh2(get(p))), I(get(c))),
          set(p, get(c)),
          br(0),
        ),
      ),
      f32.store(i32.add(get(hv), sh2(get(p))), get(v)),
      i32.store(i32.add(get(hi), sh2(get(p))), get(ix)),
    );
  }

  const f = mb.func('topk_rows', Array(9).fill('i32'), []);
  const [x, out, n, k, r0, r1, heap, err, bmax] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = f.local('i32'), i = f.local('i32'), j = f.local('i32'), base = f.local('i32'), hv = f.local('i32'), hi = f.local('i32');
  const first = f.local('i32'), s = f.local('i32'), v = f.local('f32'), root = f.local('f32'), thr = f.local('v128'), vec = f.local('v128');
  const T = f.local('f32'), Tv = f.local('v128'), bs = f.local('i32'), nb = f.local('i32'), blk = f.local('i32'), vm = f.local('v128'), pb = f.local('i32');
  const end = f.local('i32'), end4 = f.local('i32'), nan = f.local('v128');
  const keys = f.local('i32'), blist = f.local('i32'), cv = f.local('i32'), ci = f.local('i32'), tbl = f.local('i32'), rb = f.local('i32');
  const done = f.local('i32'), nbl = f.local('i32'), cnt = f.local('i32'), e = f.local('i32'), bad = f.local('i32');
  // the fast path's scratch after bmax (topkRowsScratch)
  const lay = topkFastLayout(get(bmax), get(n));
  // rank `rank` of row r's top k is position `index`
  const outRank = (rank: Ex, index: Ex): Ex => i32.store(i32.add(get(out), sh2(i32.add(i32.mul(get(r), get(k)), rank))), index);
  const nanAt = (pos: Ex): Ex[] => [
    i32.store(get(err), i32.const(1)),
    i32.store(get(err), get(r), 4),
    i32.store(get(err), pos, 8),
  ];
  // one element at position i (value v): NaN → error and return; beats the root → replace it
  const consider = (pos: Ex): Ex[] => [
    set(v, f32.load(i32.add(get(base), sh2(pos)))),
    ifThen(f32.ne(get(v), get(v)), [...nanAt(pos), ret()]),
    ifThen(i32.and(f32.gt(get(v), get(root)), f32.ge(get(v), get(T))), [
      f32.store(get(hv), get(v)),
      i32.store(get(hi), pos),
      call(sift.index, get(hv), get(hi), i32.const(0), get(k)),
      set(root, f32.load(get(hv))),
      set(thr, f32x4.splat(get(root))),
    ]),
  ];
  // positions [i, end) of the row: 4 lanes at a time against the root and T (only lanes that can
  // enter, or NaN, leave the vector loop), then a scalar tail
  const scan: Ex[] = [
    set(end4, i32.sub(get(end), i32.const(3))),
    block(
      loop(
        brIf(1, i32.ge_s(get(i), get(end4))),
        set(vec, v128.load(i32.add(get(base), sh2(get(i))))),
        ifThen(v128.any_true(v128.or(v128.and(f32x4.gt(get(vec), get(thr)), f32x4.ge(get(vec), get(Tv))), f32x4.ne(get(vec), get(vec)))), [
          forLoop(j, get(i), i32.add(get(i), i32.const(4)), 1, ...consider(get(j))),
        ]),
        set(i, i32.add(get(i), i32.const(4))),
        br(0),
      ),
    ),
    forLoop(j, get(i), get(end), 1, ...consider(get(j))),
  ];
  f.emit(
    set(hv, get(heap)),
    set(hi, i32.add(get(heap), sh2(get(k)))),
    set(keys, lay.keys), set(blist, lay.blist), set(cv, lay.cv), set(ci, lay.ci), set(tbl, lay.tbl), set(rb, lay.rb),
    storeCompactTableEx(get(tbl)),
    forLoop(r, get(r0), get(r1), 1,
      set(base, i32.add(get(x), sh2(i32.mul(get(r), get(n))))),
      // T: the k-th largest of the maxima of nb ≈ 4k disjoint blocks of bs elements. At least k
      // blocks have their max ≥ T, so at least k elements are ≥ T: nothing below T can be in the
      // top k, and a block whose max is below T is skipped whole. −∞ (no filter, one block) when
      // blocks would be < 4 wide, k = 0, or a block max is NaN (the scan then reports the NaN).
      set(T, f32.const(-Infinity)),
      set(nb, i32.const(1)),
      set(bs, get(n)),
      ifThen(i32.gt_s(get(k), i32.const(0)), [
        set(bs, i32.shl(i32.div_s(get(n), i32.shl(get(k), i32.const(4))), i32.const(2))),
        ifThen(
          i32.ge_s(get(bs), i32.const(4)),
          [
            set(nb, i32.div_s(get(n), get(bs))),
            forLoop(blk, i32.const(0), get(nb), 1,
              set(pb, i32.add(get(base), sh2(i32.mul(get(blk), get(bs))))),
              set(vm, v128.load(get(pb))),
              set(nan, f32x4.ne(get(vm), get(vm))),
              // pmax is one instruction (f32x4.max's NaN and ±0 rules cost several in V8 on x64);
              // a NaN is tracked on the side, in a lane mask
              forLoop(j, i32.const(4), get(bs), 4,
                set(vec, v128.load(i32.add(get(pb), sh2(get(j))))),
                set(vm, f32x4.pmax(get(vm), get(vec))),
                set(nan, v128.or(get(nan), f32x4.ne(get(vec), get(vec)))),
              ),
              f32.store(i32.add(get(bmax), sh2(get(blk))), hmaxEx(get(vm))),
              ifThen(v128.any_true(get(nan)), [set(T, f32.const(NaN))]),
            ),
            ifThen(
              f32.ne(get(T), get(T)),
              [set(T, f32.const(-Infinity))],
              // the k-th largest block max, without a heap's branches (select.ts)
              [kthKeyEx(f, get(bmax), get(keys), get(nb), get(k), T)],
            ),
          ],
          [set(bs, get(n))],
        ),
      ]),
      // -------- the fast path (select.ts): the latents ≥ T in order, without a branch per latent,
      // then their ranks. Exactly the heap's result: every latent that can be in the top k is
      // ≥ T, and at least k are (the k blocks whose max is ≥ T).
      set(done, i32.const(0)),
      ifThen(f32.gt(get(T), f32.const(-Infinity)), [
        set(Tv, f32x4.splat(get(T))),
        // the blocks whose max is ≥ T (kthKeyEx padded bmax with −∞ to a multiple of 4)
        set(nbl, i32.const(0)),
        forLoop(blk, i32.const(0), get(nb), 4,
          compactEx(f, tbl, nbl, f32x4.ge(v128.load(i32.add(get(bmax), sh2(get(blk)))), get(Tv)), get(blk), get(blist)),
        ),
        set(cnt, i32.const(0)),
        forLoop(e, i32.const(0), get(nbl), 1,
          set(i, i32.mul(i32.load(i32.add(get(blist), sh2(get(e)))), get(bs))),
          forLoop(j, get(i), i32.add(get(i), get(bs)), 4,
            set(vec, v128.load(i32.add(get(base), sh2(get(j))))),
            compactEx(f, tbl, cnt, f32x4.ge(get(vec), get(Tv)), get(j), get(ci), get(vec), get(cv)),
          ),
        ),
        // the tail past the last whole block, one latent at a time; a NaN there: the heap path reports it
        set(bad, i32.const(0)),
        forLoop(j, i32.mul(get(nb), get(bs)), get(n), 1,
          set(v, f32.load(i32.add(get(base), sh2(get(j))))),
          set(bad, i32.or(get(bad), f32.ne(get(v), get(v)))),
          f32.store(i32.add(get(cv), sh2(get(cnt))), get(v)),
          i32.store(i32.add(get(ci), sh2(get(cnt))), get(j)),
          set(cnt, i32.add(get(cnt), f32.ge(get(v), get(T)))),
        ),
        ifThen(i32.and(i32.eqz(get(bad)), i32.le_s(get(cnt), rankSelectMax(get(k)))), [
          rankSelectEx(f, get(cv), get(ci), get(cnt), get(k), get(rb), outRank),
          set(done, i32.const(1)),
        ]),
      ]),
      // -------- the heap path: no filter (T = −∞), a NaN in the tail, or too many latents ≥ T
      block(
        brIf(0, get(done)),
        // one block of the whole row when there is no filter
        ifThen(f32.eq(get(T), f32.const(-Infinity)), [set(nb, i32.const(1)), set(bs, get(n)), f32.store(get(bmax), f32.const(-Infinity))]),
        set(Tv, f32x4.splat(get(T))),
        // the first k elements fill the heap
        set(first, get(k)),
        forLoop(i, i32.const(0), get(first), 1,
          set(v, f32.load(i32.add(get(base), sh2(get(i))))),
          ifThen(f32.ne(get(v), get(v)), [...nanAt(get(i)), ret()]),
          f32.store(i32.add(get(hv), sh2(get(i))), get(v)),
          i32.store(i32.add(get(hi), sh2(get(i))), get(i)),
        ),
        heapifyEx(sift, hv, hi, get(k), i),
        // with k = 0 nothing can enter (+Inf root) but NaN is still an error
        set(root, f32.const(Infinity)),
        ifThen(i32.gt_s(get(k), i32.const(0)), [set(root, f32.load(get(hv)))]),
        set(thr, f32x4.splat(get(root))),
        // the blocks that can hold a top-k element (max ≥ T), in order, from position k on
        forLoop(blk, i32.const(0), get(nb), 1,
          ifThen(f32.ge(f32.load(i32.add(get(bmax), sh2(get(blk)))), get(T)), [
            set(i, i32.mul(get(blk), get(bs))),
            ifThen(i32.lt_s(get(i), get(k)), [set(i, get(k))]),
            set(end, i32.add(i32.mul(get(blk), get(bs)), get(bs))),
            ...scan,
          ]),
        ),
        // the tail past the last whole block
        set(i, i32.mul(get(nb), get(bs))),
        ifThen(i32.lt_s(get(i), get(k)), [set(i, get(k))]),
        set(end, get(n)),
        ...scan,
        popSortedEx(sift, hv, hi, get(k), s, outRank),
      ),
    ),
  );
  return sift;
}
