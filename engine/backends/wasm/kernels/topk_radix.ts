/**
 * topk indices for a large k by radix selection (BatchTopK ranks B·k of B·m pre-activations in one
 * row: k = 32,768 of n = 4,194,304 at the benchmark's shape). The heap of `topk_rows` costs
 * O(log k) per insertion and its block screen is weak when k is a sizeable share of the row
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
 * The passes are functions of a range of one row, so that one long row (BatchTopK's) can be split
 * over threads: the driver (ops/indexing.ts) adds the threads' histograms, finds the bins, joins
 * the collected lists in range order and sorts once. Rows of a matrix go whole to one thread each
 * through `topk_radix_rows`, which runs the same passes.
 *
 *   rsel_hist(base, i0, i1, pass, prefix, hist, err)
 *     pass 0: zero hist, then the NaN check (err = (1, 0, first NaN position); returns) and the
 *             histogram of bits 21..31 over positions [i0, i1) of the row at base;
 *     pass 1: bits 10..20 of the keys whose bits 21..31 equal prefix; pass 2: bits 0..9 of the keys
 *             whose bits 10..31 equal prefix (hist zeroed first: 2048 bins, 1024 in pass 2)
 *   rsel_collect(base, i0, i1, K, need, aKey, aIdx, eq, counts)
 *     the keys > K with their positions into (aKey, aIdx), the first `need` positions with key = K
 *     into eq; counts[0], counts[1] = how many of each
 *   rsel_sort(aKey, aIdx, bKey, bIdx, cnt, na, out)
 *     out[0 .. na) = aIdx sorted by aKey descending, stable (b*: scratch of na words; cnt: 256)
 *   topk_radix_rows(x, out, n, k, r0, r1, scratch, err)
 *     whole rows r0 ≤ r < r1 of x [rows, n] → out [rows, k]; scratch: topkRadixScratch(k) bytes;
 *     err: 3 i32 slots, (1, row, position) at the first NaN (then the call returns)
 */
import {
  block, br, brIf, call, f32, f32x4, forLoop, get, i32, i32x4, ifThen, loop, memoryFill, ret, set, v128, type Ex, type ModuleBuilder,
} from '../encoder.js';
import { f32KeyV } from './select.js';

const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));

/** Scratch bytes per thread for `topk_radix_rows`: a 2048-bin histogram, 256 radix counts, 5 arrays of k words, 2 counts. */
export const topkRadixScratch = (k: number): number => 4 * (2048 + 256) + 20 * k + 16;

export function addTopkRadix(mb: ModuleBuilder): void {
  const at = (p: number, e: Ex): Ex => i32.add(get(p), sh2(e));

  // ---------------------------------------------------------------- histogram passes
  const hist = mb.func('rsel_hist', Array(7).fill('i32'), []);
  {
    const f = hist;
    const [base, i0, i1, pass, prefix, h, err] = [0, 1, 2, 3, 4, 5, 6];
    const i = f.local('i32'), j = f.local('i32'), e4 = f.local('i32'), v = f.local('f32'), u = f.local('i32'), key = f.local('i32'), vu = f.local('v128'), vk = f.local('v128');
    const keyOf = (pos: Ex): Ex[] => [
      set(u, i32.reinterpret_f32(f32.add(f32.load(at(base, pos)), f32.const(0)))),
      set(key, i32.xor(get(u), i32.or(i32.shr_s(get(u), i32.const(31)), i32.const(-2147483648)))),
    ];
    const bump = (bin: Ex): Ex => i32.store(at(h, bin), i32.add(i32.load(at(h, bin)), i32.const(1)));
    // passes 1 and 2 touch few keys: four at a time, and only a vector with a hit runs the scalar body
    const vscan = (shift: number, body: (pos: Ex) => Ex[]): Ex[] => [
      set(e4, i32.add(get(i0), i32.and(i32.sub(get(i1), get(i0)), i32.const(~3)))),
      forLoop(i, get(i0), get(e4), 4,
        set(vu, f32x4.add(v128.load(at(base, get(i))), f32x4.splat(f32.const(0)))),
        set(vk, v128.xor(get(vu), v128.or(i32x4.shr_s(get(vu), i32.const(31)), i32x4.splat(i32.const(-2147483648))))),
        ifThen(v128.any_true(i32x4.eq(i32x4.shr_u(get(vk), i32.const(shift)), i32x4.splat(get(prefix)))), [forLoop(j, get(i), i32.add(get(i), i32.const(4)), 1, ...body(get(j)))]),
      ),
      forLoop(j, get(e4), get(i1), 1, ...body(get(j))),
    ];
    f.emit(
      memoryFill(get(h), i32.const(0), i32.const(4 * 2048)),
      ifThen(i32.eqz(get(pass)), [
        forLoop(i, get(i0), get(i1), 1,
          set(v, f32.load(at(base, get(i)))),
          ifThen(f32.ne(get(v), get(v)), [i32.store(get(err), i32.const(1)), i32.store(get(err), i32.const(0), 4), i32.store(get(err), get(i), 8), ret()]),
          ...keyOf(get(i)),
          bump(i32.shr_u(get(key), i32.const(21))),
        ),
        ret(),
      ]),
      ifThen(i32.eq(get(pass), i32.const(1)), [
        ...vscan(21, (pos) => [
          ...keyOf(pos),
          ifThen(i32.eq(i32.shr_u(get(key), i32.const(21)), get(prefix)), [bump(i32.and(i32.shr_u(get(key), i32.const(10)), i32.const(2047)))]),
        ]),
        ret(),
      ]),
      ...vscan(10, (pos) => [
        ...keyOf(pos),
        ifThen(i32.eq(i32.shr_u(get(key), i32.const(10)), get(prefix)), [bump(i32.and(get(key), i32.const(1023)))]),
      ]),
    );
  }

  // ---------------------------------------------------------------- collect
  const collect = mb.func('rsel_collect', Array(9).fill('i32'), []);
  {
    const f = collect;
    const [base, i0, i1, K, need, aKey, aIdx, eq, counts] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const i = f.local('i32'), j = f.local('i32'), e4 = f.local('i32'), u = f.local('i32'), key = f.local('i32'), na = f.local('i32'), ne = f.local('i32');
    const vu = f.local('v128'), sK = f.local('v128');
    const body = (pos: Ex): Ex[] => [
      set(u, i32.reinterpret_f32(f32.add(f32.load(at(base, pos)), f32.const(0)))),
      set(key, i32.xor(get(u), i32.or(i32.shr_s(get(u), i32.const(31)), i32.const(-2147483648)))),
      ifThen(
        i32.gt_u(get(key), get(K)),
        [i32.store(at(aKey, get(na)), get(key)), i32.store(at(aIdx, get(na)), pos), set(na, i32.add(get(na), i32.const(1)))],
        [ifThen(i32.and(i32.eq(get(key), get(K)), i32.lt_s(get(ne), get(need))), [i32.store(at(eq, get(ne)), pos), set(ne, i32.add(get(ne), i32.const(1)))])],
      ),
    ];
    f.emit(
      set(na, i32.const(0)),
      set(ne, i32.const(0)),
      // vector test: key ≥ K unsigned ⇔ key ^ 2³¹ = u ^ (sign ? 0x7FFFFFFF : 0) ≥ K ^ 2³¹ signed
      // (u ^ (sign ? 0x7FFFFFFF : 0) is select.ts's signed key f32KeyV)
      set(sK, i32x4.splat(i32.xor(get(K), i32.const(-2147483648)))),
      set(e4, i32.add(get(i0), i32.and(i32.sub(get(i1), get(i0)), i32.const(~3)))),
      forLoop(i, get(i0), get(e4), 4,
        set(vu, f32x4.add(v128.load(at(base, get(i))), f32x4.splat(f32.const(0)))),
        ifThen(v128.any_true(i32x4.ge_s(f32KeyV(get(vu)), get(sK))), [
          forLoop(j, get(i), i32.add(get(i), i32.const(4)), 1, ...body(get(j))),
        ]),
      ),
      forLoop(j, get(e4), get(i1), 1, ...body(get(j))),
      i32.store(get(counts), get(na)),
      i32.store(get(counts), get(ne), 4),
    );
  }

  // ---------------------------------------------------------------- stable radix sort
  const sort = mb.func('rsel_sort', Array(7).fill('i32'), []);
  {
    const f = sort;
    const [aKey, aIdx, bKey, bIdx, cnt, na, out] = [0, 1, 2, 3, 4, 5, 6];
    const i = f.local('i32'), pass = f.local('i32'), sh = f.local('i32'), s = f.local('i32'), t = f.local('i32'), c = f.local('i32'), key = f.local('i32');
    const sk = f.local('i32'), si = f.local('i32'), dk = f.local('i32'), di = f.local('i32');
    // the digit of ~key (ascending ~key = descending key)
    const digit = (k: Ex): Ex => at(cnt, i32.and(i32.shr_u(i32.xor(k, i32.const(-1)), get(sh)), i32.const(255)));
    f.emit(
      set(sk, get(aKey)), set(si, get(aIdx)), set(dk, get(bKey)), set(di, get(bIdx)),
      forLoop(pass, i32.const(0), i32.const(4), 1,
        set(sh, i32.shl(get(pass), i32.const(3))),
        memoryFill(get(cnt), i32.const(0), i32.const(4 * 256)),
        forLoop(i, i32.const(0), get(na), 1, set(c, digit(i32.load(at(sk, get(i))))), i32.store(get(c), i32.add(i32.load(get(c)), i32.const(1)))),
        set(s, i32.const(0)),
        forLoop(i, i32.const(0), i32.const(256), 1, set(t, i32.load(at(cnt, get(i)))), i32.store(at(cnt, get(i)), get(s)), set(s, i32.add(get(s), get(t)))),
        forLoop(i, i32.const(0), get(na), 1,
          set(key, i32.load(at(sk, get(i)))),
          set(c, digit(get(key))),
          set(t, i32.load(get(c))),
          i32.store(get(c), i32.add(get(t), i32.const(1))),
          i32.store(at(dk, get(t)), get(key)),
          i32.store(at(di, get(t)), i32.load(at(si, get(i)))),
        ),
        set(t, get(sk)), set(sk, get(dk)), set(dk, get(t)),
        set(t, get(si)), set(si, get(di)), set(di, get(t)),
      ),
      // four passes: the sorted run is back in (aKey, aIdx)
      forLoop(i, i32.const(0), get(na), 1, i32.store(at(out, get(i)), i32.load(at(aIdx, get(i))))),
    );
  }

  // ---------------------------------------------------------------- whole rows
  {
    const f = mb.func('topk_radix_rows', Array(8).fill('i32'), []);
    const [x, out, n, k, r0, r1, scratch, err] = [0, 1, 2, 3, 4, 5, 6, 7];
    const r = f.local('i32'), i = f.local('i32'), base = f.local('i32'), b = f.local('i32'), c = f.local('i32'), need = f.local('i32'), prefix = f.local('i32');
    const h = f.local('i32'), cnt = f.local('i32'), aKey = f.local('i32'), aIdx = f.local('i32'), bKey = f.local('i32'), bIdx = f.local('i32'), eq = f.local('i32'), counts = f.local('i32');
    const orow = f.local('i32'), na = f.local('i32');
    // from bin top − 1 down: the bin where the count reaches `need` (left in need: how many to
    // take from that bin); sets b
    const findBin = (top: number): Ex[] => [
      set(b, i32.const(top - 1)),
      block(loop(
        set(c, i32.load(at(h, get(b)))),
        brIf(1, i32.ge_s(get(c), get(need))),
        set(need, i32.sub(get(need), get(c))),
        set(b, i32.sub(get(b), i32.const(1))),
        br(0),
      )),
    ];
    f.emit(
      set(h, get(scratch)),
      set(cnt, i32.add(get(scratch), i32.const(4 * 2048))),
      set(aKey, i32.add(get(cnt), i32.const(4 * 256))),
      set(aIdx, at(aKey, get(k))),
      set(bKey, at(aIdx, get(k))),
      set(bIdx, at(bKey, get(k))),
      set(eq, at(bIdx, get(k))),
      set(counts, at(eq, get(k))),
      forLoop(r, get(r0), get(r1), 1,
        set(base, i32.add(get(x), sh2(i32.mul(get(r), get(n))))),
        call(hist.index, get(base), i32.const(0), get(n), i32.const(0), i32.const(0), get(h), get(err)),
        ifThen(i32.load(get(err)), [i32.store(get(err), get(r), 4), ret()]),
        ifThen(i32.gt_s(get(k), i32.const(0)), [
          set(need, get(k)),
          ...findBin(2048),
          set(prefix, get(b)),
          call(hist.index, get(base), i32.const(0), get(n), i32.const(1), get(prefix), get(h), get(err)),
          ...findBin(2048),
          set(prefix, i32.or(i32.shl(get(prefix), i32.const(11)), get(b))),
          call(hist.index, get(base), i32.const(0), get(n), i32.const(2), get(prefix), get(h), get(err)),
          ...findBin(1024),
          call(collect.index, get(base), i32.const(0), get(n), i32.or(i32.shl(get(prefix), i32.const(10)), get(b)), get(need), get(aKey), get(aIdx), get(eq), get(counts)),
          set(na, i32.load(get(counts))),
          set(orow, at(out, i32.mul(get(r), get(k)))),
          call(sort.index, get(aKey), get(aIdx), get(bKey), get(bIdx), get(cnt), get(na), get(orow)),
          // the ties (key = K), in index order, after the sorted keys above K
          forLoop(i, i32.const(0), i32.load(get(counts), 4), 1, i32.store(at(orow, i32.add(get(na), get(i))), i32.load(at(eq, get(i))))),
        ]),
      ),
    );
  }
}
