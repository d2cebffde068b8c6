/**
 * Branch-free pieces of a row's top-k selection, shared by `topk_rows` (kernels/topk.ts) and
 * `gsae_select_rows` (kernels/gsae_topk.ts).
 *
 * Why: both kernels rank about 4k block maxima with a heap, then keep the latents at or above a
 * threshold with a heap. Each heap step branches on the data, and on an SAE batch, whose rows
 * differ, those branches are mispredicted: `topk_rows` took 10.2 µs a row on 1,024 distinct rows
 * of 4,096 normal values (k 32), and 2.5 µs a row when every row held the same values (the same
 * memory traffic, branches the predictor has learnt). So the fast path here does the same
 * selection with vector compares, masks and counts:
 *
 *  1. `kthKeyEx`: the k-th largest of the block maxima, by bisection on order-preserving integer
 *     keys (a count of keys ≥ mid per step, vector compares; the bounds move by `select`).
 *  2. `compactEx`: the positions (and values) of the lanes that pass a vector test, stored in
 *     order without a branch: `i32x4.bitmask` picks one of 16 byte-shuffles from a table
 *     (`storeCompactTableEx`), `i8x16.swizzle` packs the passing lanes to the front, the stores
 *     write all four lanes, and the count grows by `popcnt` of the mask.
 *  3. `rankSelectEx`: the top k of c candidates (value descending, ties to the lower index, the
 *     heap's order exactly): each candidate's rank is the number of candidates that rank above it,
 *     counted four at a time; rank r < k goes to slot r. c² / 4 vector steps, so the callers use
 *     it only for c ≤ `rankSelectMax(k)` and keep their heap otherwise.
 */
import {
  block, br, brIf, f32, f32x4, forLoop, get, i32, i32x4, i8x16, loop, select, seq, set, v128, type Ex, type Func,
} from '../encoder.js';

const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));
const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;

/**
 * The order-preserving key of float32 bits (four lanes): signed order of keys = the order of the
 * floats, with −0 below +0 (NaN keys lie outside [key(−∞), key(+∞)]; callers rule NaN out).
 */
export const f32KeyV = (bits: Ex): Ex => v128.xor(bits, i32x4.shr_u(i32x4.shr_s(bits, i32.const(31)), i32.const(1)));
/** The float32 whose key is `key` (the map is its own inverse on the bits). */
export const keyToF32 = (key: Ex): Ex => f32.reinterpret_i32(i32.xor(key, i32.shr_u(i32.shr_s(key, i32.const(31)), i32.const(1))));

/** The sum of an i32x4's lanes. */
const hsumI = (v: Ex): Ex => i32.add(i32.add(i32x4.extract_lane(v, 0), i32x4.extract_lane(v, 1)), i32.add(i32x4.extract_lane(v, 2), i32x4.extract_lane(v, 3)));

/**
 * Sets `out` (an f32 local) to the k-th largest of the nb floats at `vals` (no NaN; 1 ≤ k ≤ nb).
 * Overwrites vals[nb .. nb4) with −∞ and writes keys[0 .. nb4), nb4 = nb rounded up to 4. The pads
 * cannot change the answer: they are −∞, whose key is the least of any float, so they only count
 * at a mid ≤ key(−∞), where the real keys alone already number nb ≥ k.
 */
export function kthKeyEx(f: Func, vals: Ex, keys: Ex, nb: Ex, k: Ex, out: number): Ex {
  const pv = f.local('i32'), pk = f.local('i32'), n4 = f.local('i32'), j = f.local('i32'), kk = f.local('i32');
  const lo = f.local('i32'), hi = f.local('i32'), mid = f.local('i32'), c = f.local('i32');
  const vlo = f.local('v128'), vhi = f.local('v128'), v = f.local('v128'), acc = f.local('v128'), M = f.local('v128');
  return seq(
    set(pv, vals),
    set(pk, keys),
    set(kk, k),
    set(n4, i32.and(i32.add(nb, i32.const(3)), i32.const(~3))),
    forLoop(j, nb, get(n4), 1, f32.store(i32.add(get(pv), sh2(get(j))), f32.const(-Infinity))),
    set(vlo, i32x4.splat(i32.const(INT_MAX))),
    set(vhi, i32x4.splat(i32.const(INT_MIN))),
    forLoop(j, i32.const(0), get(n4), 4,
      set(v, f32KeyV(v128.load(i32.add(get(pv), sh2(get(j)))))),
      v128.store(i32.add(get(pk), sh2(get(j))), get(v)),
      set(vlo, i32x4.min_s(get(vlo), get(v))),
      set(vhi, i32x4.max_s(get(vhi), get(v))),
    ),
    set(lo, i32x4.extract_lane(get(vlo), 0)),
    set(hi, i32x4.extract_lane(get(vhi), 0)),
    ...[1, 2, 3].flatMap((l) => [
      set(c, i32x4.extract_lane(get(vlo), l)), set(lo, select(get(c), get(lo), i32.lt_s(get(c), get(lo)))),
      set(c, i32x4.extract_lane(get(vhi), l)), set(hi, select(get(c), get(hi), i32.gt_s(get(c), get(hi)))),
    ]),
    // invariant: count(keys ≥ lo) ≥ k > count(keys ≥ hi); hi + 1 cannot overflow (no NaN key)
    set(hi, i32.add(get(hi), i32.const(1))),
    block(loop(
      // hi − lo as unsigned is exact (< 2³²); the midpoint below never overflows
      brIf(1, i32.le_u(i32.sub(get(hi), get(lo)), i32.const(1))),
      set(mid, i32.add(get(lo), i32.shr_u(i32.sub(get(hi), get(lo)), i32.const(1)))),
      set(M, i32x4.splat(get(mid))),
      set(acc, i32x4.splat(i32.const(0))),
      forLoop(j, i32.const(0), get(n4), 4, set(acc, i32x4.sub(get(acc), i32x4.ge_s(v128.load(i32.add(get(pk), sh2(get(j)))), get(M))))),
      set(c, i32.ge_s(hsumI(get(acc)), get(kk))),
      set(lo, select(get(mid), get(lo), get(c))),
      set(hi, select(get(hi), get(mid), get(c))),
      br(0),
    )),
    set(out, keyToF32(get(lo))),
  );
}

/**
 * Entries (4 bytes each) of a row's block maxima, their keys or its block list, for a row of n:
 * ⌊n/4⌋ + 8 rounded down to 4, at least nb + 4 for the nb ≤ n/4 blocks (kthKeyEx pads to a
 * multiple of 4, compactEx writes 4 past its count). `blockSlotsBytesEx` is the same in bytes,
 * in wasm.
 */
export const blockSlots = (n: number): number => (Math.floor(n / 4) + 8) & ~3;
export const blockSlotsBytesEx = (n: Ex): Ex => i32.shl(i32.and(i32.add(i32.shr_u(n, i32.const(2)), i32.const(8)), i32.const(~3)), i32.const(2));

/** Bytes of the shuffle table `storeCompactTableEx` writes. */
export const COMPACT_TABLE_BYTES = 256;

/**
 * Writes at `tbl` the 16 byte-shuffles of `compactEx`: entry `mask` moves the 32-bit lanes whose
 * mask bit is set to the front, in order (the other lanes: don't care).
 */
export function storeCompactTableEx(tbl: Ex): Ex {
  const out: Ex[] = [];
  for (let mask = 0; mask < 16; mask++) {
    const lanes: number[] = [];
    for (let l = 0; l < 4; l++) if (mask & (1 << l)) lanes.push(4 * l | ((4 * l + 1) << 8) | ((4 * l + 2) << 16) | ((4 * l + 3) << 24));
    while (lanes.length < 4) lanes.push(0x80808080 | 0);
    out.push(v128.store(i32.add(tbl, i32.const(16 * mask)), v128.const(lanes as [number, number, number, number])));
  }
  return seq(...out);
}

/**
 * Appends the lanes of a vector that pass `mask` (an f32x4/i32x4 compare result): their
 * positions (lane l of the vector is position `first` + l) at outI + 4·cnt, and, with `outV`,
 * their values `vals` at outV + 4·cnt; `cnt` (an i32 local) grows by their number. All four lanes
 * are stored, so each output needs 4 slots of room past the last count.
 */
export function compactEx(f: Func, tbl: number, cnt: number, mask: Ex, first: Ex, outI: Ex, vals?: Ex, outV?: Ex): Ex {
  const bits = f.local('i32'), sh = f.local('v128');
  return seq(
    set(bits, i32x4.bitmask(mask)),
    set(sh, v128.load(i32.add(get(tbl), i32.shl(get(bits), i32.const(4))))),
    ...(vals && outV ? [v128.store(i32.add(outV, sh2(get(cnt))), i8x16.swizzle(vals, get(sh)))] : []),
    v128.store(i32.add(outI, sh2(get(cnt))), i8x16.swizzle(i32x4.add(i32x4.splat(first), v128.const([0, 1, 2, 3])), get(sh))),
    set(cnt, i32.add(get(cnt), i32.popcnt(get(bits)))),
  );
}

/** The largest candidate count for which `rankSelectEx` is used (c² / 4 steps against a heap's c·log k). */
export const rankSelectMax = (k: Ex): Ex => i32.add(i32.shl(k, i32.const(2)), i32.const(16));

/**
 * The top k of c candidates (no NaN among them; c ≥ k) — values at cv, indices at ci, each with 4
 * slots of room past c — by (value descending, index ascending): out(rank, index) is called for
 * ranks 0 … k − 1 (through `rb`, scratch for k + 1 indices). The rank of candidate i is the number
 * of candidates j with v_j > v_i, or v_j = v_i and index_j < index_i; indices are distinct, so the
 * ranks are 0 … c − 1, each once. The pads past c (−∞, index 2³¹ − 1) rank below every candidate.
 */
export function rankSelectEx(f: Func, cv: Ex, ci: Ex, c: Ex, k: Ex, rb: Ex, out: (rank: Ex, index: Ex) => Ex): Ex {
  const pv = f.local('i32'), pi = f.local('i32'), n = f.local('i32'), n4 = f.local('i32'), kk = f.local('i32'), prb = f.local('i32');
  const i = f.local('i32'), j = f.local('i32'), rank = f.local('i32');
  const vi = f.local('v128'), ii = f.local('v128'), acc = f.local('v128'), V = f.local('v128');
  return seq(
    set(pv, cv), set(pi, ci), set(n, c), set(kk, k), set(prb, rb),
    set(n4, i32.and(i32.add(get(n), i32.const(3)), i32.const(~3))),
    v128.store(i32.add(get(pv), sh2(get(n))), f32x4.const(-Infinity)),
    v128.store(i32.add(get(pi), sh2(get(n))), i32x4.splat(i32.const(INT_MAX))),
    forLoop(i, i32.const(0), get(n), 1,
      set(vi, v128.load32_splat(i32.add(get(pv), sh2(get(i))))),
      set(ii, v128.load32_splat(i32.add(get(pi), sh2(get(i))))),
      set(acc, i32x4.splat(i32.const(0))),
      forLoop(j, i32.const(0), get(n4), 4,
        set(V, v128.load(i32.add(get(pv), sh2(get(j))))),
        set(acc, i32x4.sub(get(acc), v128.or(
          f32x4.gt(get(V), get(vi)),
          v128.and(f32x4.eq(get(V), get(vi)), i32x4.lt_s(v128.load(i32.add(get(pi), sh2(get(j)))), get(ii))),
        ))),
      ),
      set(rank, hsumI(get(acc))),
      // ranks ≥ k all go to the spare slot k
      i32.store(i32.add(get(prb), sh2(select(get(rank), get(kk), i32.lt_s(get(rank), get(kk))))), i32x4.extract_lane(get(ii), 0)),
    ),
    forLoop(i, i32.const(0), get(kk), 1, out(get(i), i32.load(i32.add(get(prb), sh2(get(i)))))),
  );
}
