/**
 * topk indices along the last axis by partial selection: per row, a min-heap of the k best so
 * far (root = the worst kept; order: value descending, ties to the lower index). After the first
 * k elements, the row is scanned 4 lanes at a time against the root's value: only lanes that beat
 * it (rare once the heap is warm) or are NaN leave the vector loop. Output is sorted descending.
 *
 * A vector pre-pass bounds the k-th largest value from below before the heap warms up: the row's
 * first k blocks of bs = 4·⌊n / 4k⌋ elements have k maxima, all ≥ their minimum T, so at least
 * k elements are ≥ T and nothing below T can be in the top k. Lanes below T then skip the heap
 * (on SAE pre-activations most of the ~k·ln(n/k) early insertions did not survive; measured 3–5×
 * faster at n = 4096, k = 32). A NaN makes T = −∞ (no filter) and the scan reports it as before.
 *
 *   topk_rows(x, out, n, k, r0, r1, heap, err)
 *     rows r0 ≤ r < r1 of x [rows, n] → out [rows, k] (int32)
 *     heap: scratch for k (f32 value) + k (i32 index); err: 3 i32 slots, set to (1, row, position)
 *     at the first NaN, after which the call returns (the reference throws there too)
 */
import {
  block, br, brIf, call, f32, f32x4, forLoop, get, i32, ifThen, loop, ret, seq, set, v128, type Ex, type Func, type ModuleBuilder,
} from '../encoder.js';

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

  const f = mb.func('topk_rows', Array(8).fill('i32'), []);
  const [x, out, n, k, r0, r1, heap, err] = [0, 1, 2, 3, 4, 5, 6, 7];
  const r = f.local('i32'), i = f.local('i32'), j = f.local('i32'), base = f.local('i32'), hv = f.local('i32'), hi = f.local('i32');
  const first = f.local('i32'), s = f.local('i32'), v = f.local('f32'), root = f.local('f32'), thr = f.local('v128'), vec = f.local('v128');
  const n4 = f.local('i32');
  const T = f.local('f32'), Tv = f.local('v128'), bs = f.local('i32'), blk = f.local('i32'), vm = f.local('v128'), pb = f.local('i32');
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
  f.emit(
    set(hv, get(heap)),
    set(hi, i32.add(get(heap), sh2(get(k)))),
    forLoop(r, get(r0), get(r1), 1,
      set(base, i32.add(get(x), sh2(i32.mul(get(r), get(n))))),
      // T: the least of the maxima of k blocks of bs elements (−∞ when blocks would be < 4 wide)
      set(T, f32.const(-Infinity)),
      set(bs, i32.const(0)),
      ifThen(i32.gt_s(get(k), i32.const(0)), [set(bs, i32.shl(i32.div_s(get(n), i32.shl(get(k), i32.const(2))), i32.const(2)))]),
      ifThen(i32.ge_s(get(bs), i32.const(4)), [
        set(T, f32.const(Infinity)),
        forLoop(blk, i32.const(0), get(k), 1,
          set(pb, i32.add(get(base), sh2(i32.mul(get(blk), get(bs))))),
          set(vm, v128.load(get(pb))),
          forLoop(j, i32.const(4), get(bs), 4, set(vm, f32x4.pmax(get(vm), v128.load(i32.add(get(pb), sh2(get(j))))))),
          set(T, f32.min(get(T), hmaxEx(get(vm)))),
        ),
        ifThen(f32.ne(get(T), get(T)), [set(T, f32.const(-Infinity))]),
      ]),
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
      set(i, get(k)),
      set(n4, i32.sub(get(n), i32.const(3))),
      block(
        loop(
          brIf(1, i32.ge_s(get(i), get(n4))),
          set(vec, v128.load(i32.add(get(base), sh2(get(i))))),
          ifThen(v128.any_true(v128.or(v128.and(f32x4.gt(get(vec), get(thr)), f32x4.ge(get(vec), get(Tv))), f32x4.ne(get(vec), get(vec)))), [
            forLoop(j, get(i), i32.add(get(i), i32.const(4)), 1, ...consider(get(j))),
          ]),
          set(i, i32.add(get(i), i32.const(4))),
          br(0),
        ),
      ),
      forLoop(j, get(i), get(n), 1, ...consider(get(j))),
      popSortedEx(sift, hv, hi, get(k), s, (rank, index) => i32.store(i32.add(get(out), sh2(i32.add(i32.mul(get(r), get(k)), rank))), index)),
    ),
  );
  return sift;
}
