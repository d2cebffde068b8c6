/**
 * topk indices for a large k by radix selection (BatchTopK ranks B·k of B·m pre-activations in one
 * row: k = 32,768 of n = 4,194,304 at the benchmark's shape). The heap of `topk_rows` costs
 * O(log k) per insertion and its block screen is weak when k is a sizeable fraction of the row
 * (22 ms at that shape); this costs four passes over the row, each O(n), then a sort of the k.
 *
 * Order-preserving keys: key(v) = bits(v + 0) ^ (sign ? 0xFFFFFFFF : 0x80000000) compares as an
 * unsigned integer in the order of the values (v + 0 turns −0 into +0, which the reference treats
 * as equal; NaN is an error before any key is used).
 *   1. histogram of key bits 21..31 (2048 bins): from the top, the bin holding the k-th largest
 *      key and how many keys lie above it;
 *   2. the same over bits 10..20 for the keys in that bin; 3. over bits 0..9 in the new bin:
 *      K = the k-th largest key exactly, A = how many keys are > K (A < k), E = k − A ≤ #(key = K);
 *   4. collect, in index order, the A indices with key > K and the first E with key = K (ties
 *      go to the lower index, as in the reference);
 *   5. a stable LSD radix sort (4 × 8 bits) of the A by key descending keeps equal keys in index
 *      order; the E ties (all equal to K, the smallest kept) follow in index order.
 * The result is the reference's: the k best by (value descending, index ascending), in that order.
 *
 *   topk_radix_rows(x, out, n, k, r0, r1, scratch, err)
 *     rows r0 ≤ r < r1 of x [rows, n] → out [rows, k]; scratch: topkRadixScratch(k) bytes;
 *     err: 3 i32 slots, (1, row, position) at the first NaN (then the call returns)
 */
import { block, br, brIf, f32, f32x4, forLoop, get, i32, i32x4, ifThen, loop, memoryFill, ret, set, v128, type Ex, type ModuleBuilder } from '../encoder.js';

const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));

/** Scratch bytes per thread: a 2048-bin histogram, 256 radix counts, then 5 arrays of k words. */
export const topkRadixScratch = (k: number): number => 4 * (2048 + 256) + 20 * k;

export function addTopkRadix(mb: ModuleBuilder): void {
  const f = mb.func('topk_radix_rows', Array(8).fill('i32'), []);
  const [x, out, n, k, r0, r1, scratch, err] = [0, 1, 2, 3, 4, 5, 6, 7];
  const r = f.local('i32'), i = f.local('i32'), base = f.local('i32'), v = f.local('f32'), u = f.local('i32'), key = f.local('i32');
  const b = f.local('i32'), c = f.local('i32'), need = f.local('i32'), prefix = f.local('i32'), K = f.local('i32');
  const na = f.local('i32'), ne = f.local('i32'), pass = f.local('i32'), sh = f.local('i32'), s = f.local('i32'), t = f.local('i32');
  const hist = f.local('i32'), cnt = f.local('i32'), aKey = f.local('i32'), aIdx = f.local('i32'), bKey = f.local('i32'), bIdx = f.local('i32'), eq = f.local('i32');
  const sk = f.local('i32'), si = f.local('i32'), dk = f.local('i32'), di = f.local('i32');
  const at = (p: number, e: Ex): Ex => i32.add(get(p), sh2(e));
  const keyOf = (pos: Ex): Ex[] => [
    set(u, i32.reinterpret_f32(f32.add(f32.load(at(base, pos)), f32.const(0)))),
    set(key, i32.xor(get(u), i32.or(i32.shr_s(get(u), i32.const(31)), i32.const(-2147483648)))),
  ];
  // from bin top-1 down: stop at the bin where the count reaches `need` (left in need: how many
  // to take from that bin); sets b
  const findBin = (top: number): Ex[] => [
    set(b, i32.const(top - 1)),
    block(loop(
      set(c, i32.load(at(hist, get(b)))),
      brIf(1, i32.ge_s(get(c), get(need))),
      set(need, i32.sub(get(need), get(c))),
      set(b, i32.sub(get(b), i32.const(1))),
      br(0),
    )),
  ];
  const bump = (bin: Ex): Ex => i32.store(at(hist, bin), i32.add(i32.load(at(hist, bin)), i32.const(1)));
  // passes 2–4 touch few elements: four keys at a time, and only a vector with a hit (`hit` of
  // its unsigned keys vk and of u = bits(v + 0)) runs the scalar `body` for its four positions
  const vu = f.local('v128'), vk = f.local('v128'), j = f.local('i32'), n4 = f.local('i32');
  const vscan = (hit: (vk: Ex, vu: Ex) => Ex, body: (pos: Ex) => Ex[]): Ex[] => [
    forLoop(i, i32.const(0), get(n4), 4,
      set(vu, f32x4.add(v128.load(at(base, get(i))), f32x4.splat(f32.const(0)))),
      set(vk, v128.xor(get(vu), v128.or(i32x4.shr_s(get(vu), i32.const(31)), i32x4.splat(i32.const(-2147483648))))),
      ifThen(v128.any_true(hit(get(vk), get(vu))), [forLoop(j, get(i), i32.add(get(i), i32.const(4)), 1, ...body(get(j)))]),
    ),
    forLoop(j, get(n4), get(n), 1, ...body(get(j))),
  ];
  f.emit(
    set(hist, get(scratch)),
    set(cnt, i32.add(get(scratch), i32.const(4 * 2048))),
    set(aKey, i32.add(get(cnt), i32.const(4 * 256))),
    set(aIdx, at(aKey, get(k))),
    set(bKey, at(aIdx, get(k))),
    set(bIdx, at(bKey, get(k))),
    set(eq, at(bIdx, get(k))),
    forLoop(r, get(r0), get(r1), 1,
      set(base, i32.add(get(x), sh2(i32.mul(get(r), get(n))))),
      set(n4, i32.and(get(n), i32.const(~3))),
      // 1. NaN check (first in index order) and the histogram of the top 11 bits
      memoryFill(get(hist), i32.const(0), i32.const(4 * 2048)),
      forLoop(i, i32.const(0), get(n), 1,
        set(v, f32.load(at(base, get(i)))),
        ifThen(f32.ne(get(v), get(v)), [i32.store(get(err), i32.const(1)), i32.store(get(err), get(r), 4), i32.store(get(err), get(i), 8), ret()]),
        ...keyOf(get(i)),
        bump(i32.shr_u(get(key), i32.const(21))),
      ),
      ifThen(i32.gt_s(get(k), i32.const(0)), [
        set(need, get(k)),
        ...findBin(2048),
        set(prefix, get(b)),
        // 2. bits 10..20 of the keys in that bin
        memoryFill(get(hist), i32.const(0), i32.const(4 * 2048)),
        ...vscan((k4) => i32x4.eq(i32x4.shr_u(k4, i32.const(21)), i32x4.splat(get(prefix))), (pos) => [
          ...keyOf(pos),
          ifThen(i32.eq(i32.shr_u(get(key), i32.const(21)), get(prefix)), [bump(i32.and(i32.shr_u(get(key), i32.const(10)), i32.const(2047)))]),
        ]),
        ...findBin(2048),
        set(prefix, i32.or(i32.shl(get(prefix), i32.const(11)), get(b))),
        // 3. bits 0..9 of the keys in the new bin: K exactly
        memoryFill(get(hist), i32.const(0), i32.const(4 * 1024)),
        ...vscan((k4) => i32x4.eq(i32x4.shr_u(k4, i32.const(10)), i32x4.splat(get(prefix))), (pos) => [
          ...keyOf(pos),
          ifThen(i32.eq(i32.shr_u(get(key), i32.const(10)), get(prefix)), [bump(i32.and(get(key), i32.const(1023)))]),
        ]),
        ...findBin(1024),
        set(K, i32.or(i32.shl(get(prefix), i32.const(10)), get(b))),
        // 4. collect: keys > K (A = k − need of them), and the first `need` keys equal to K
        set(na, i32.const(0)),
        set(ne, i32.const(0)),
        // (vector test: key ≥ K unsigned, i.e. skey = key ^ 2³¹ = u ^ (sign ? 0x7FFFFFFF : 0) ≥ K ^ 2³¹ signed)
        ...vscan((_k4, u4) => i32x4.ge_s(v128.xor(u4, v128.and(i32x4.shr_s(u4, i32.const(31)), i32x4.splat(i32.const(0x7fffffff)))), i32x4.splat(i32.xor(get(K), i32.const(-2147483648)))), (pos) => [
          ...keyOf(pos),
          ifThen(
            i32.gt_u(get(key), get(K)),
            [i32.store(at(aKey, get(na)), get(key)), i32.store(at(aIdx, get(na)), pos), set(na, i32.add(get(na), i32.const(1)))],
            [ifThen(i32.and(i32.eq(get(key), get(K)), i32.lt_s(get(ne), get(need))), [i32.store(at(eq, get(ne)), pos), set(ne, i32.add(get(ne), i32.const(1)))])],
          ),
        ]),
        // 5. stable LSD radix sort of the na by key descending (digits of ~key ascending)
        set(sk, get(aKey)), set(si, get(aIdx)), set(dk, get(bKey)), set(di, get(bIdx)),
        forLoop(pass, i32.const(0), i32.const(4), 1,
          set(sh, i32.shl(get(pass), i32.const(3))),
          memoryFill(get(cnt), i32.const(0), i32.const(4 * 256)),
          forLoop(i, i32.const(0), get(na), 1,
            set(c, at(cnt, i32.and(i32.shr_u(i32.xor(i32.load(at(sk, get(i))), i32.const(-1)), get(sh)), i32.const(255)))),
            i32.store(get(c), i32.add(i32.load(get(c)), i32.const(1))),
          ),
          // exclusive prefix sums
          set(s, i32.const(0)),
          forLoop(i, i32.const(0), i32.const(256), 1,
            set(t, i32.load(at(cnt, get(i)))),
            i32.store(at(cnt, get(i)), get(s)),
            set(s, i32.add(get(s), get(t))),
          ),
          forLoop(i, i32.const(0), get(na), 1,
            set(key, i32.load(at(sk, get(i)))),
            set(c, at(cnt, i32.and(i32.shr_u(i32.xor(get(key), i32.const(-1)), get(sh)), i32.const(255)))),
            set(t, i32.load(get(c))),
            i32.store(get(c), i32.add(get(t), i32.const(1))),
            i32.store(at(dk, get(t)), get(key)),
            i32.store(at(di, get(t)), i32.load(at(si, get(i)))),
          ),
          // swap source and destination
          set(t, get(sk)), set(sk, get(dk)), set(dk, get(t)),
          set(t, get(si)), set(si, get(di)), set(di, get(t)),
        ),
        // after 4 passes the sorted run is back in (aKey, aIdx): si = aIdx
        forLoop(i, i32.const(0), get(na), 1, i32.store(at(out, i32.add(i32.mul(get(r), get(k)), get(i))), i32.load(at(si, get(i))))),
        forLoop(i, i32.const(0), get(ne), 1, i32.store(at(out, i32.add(i32.add(i32.mul(get(r), get(k)), get(na)), get(i))), i32.load(at(eq, get(i))))),
      ]),
    ),
  );
}
