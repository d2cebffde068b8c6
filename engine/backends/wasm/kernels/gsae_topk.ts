/**
 * The g-SAE's screened selection (ops/gsae_topk.ts): the top k of s = z ⊙ (1 + β|a|), a = g @ Wᵀ,
 * without the dense product a. Per row b (the driver, ops/gsae_topk.ts, computes the bound F_b;
 * the kernel does the rest):
 *
 *  1. Bound |a|. By Cauchy–Schwarz |a_i| ≤ ‖g_b‖‖w_i‖; the GEMM's float32 value fl(a_i) is within
 *     γ_n Σ_t |g_t w_t| ≤ γ_n ‖g_b‖‖w_i‖ of it (n roundings per term at most, n = 2d + 2⌈d/KC⌉ + 2
 *     covers mul+add and the K-block additions; an absolute n·2⁻¹⁴⁹ covers underflow). So
 *     |fl(a_i)| ≤ A_b = (1 + γ_n)‖g_b‖ max_i ‖w_i‖ + n·2⁻¹⁴⁹, rounded up to float32. The norms
 *     come from float32 sums of squares (`sumsq_rows`), inflated by their own rounding bound.
 *  2. Bound s. Float rounding is monotone, so with β ≥ 0 the dense path's factor
 *     f_i = fl(1 + fl(β·|fl(a_i)|)) lies in [1, F_b], F_b = fl(1 + fl(β·A_b)) (the same float32
 *     operations at the bound), and s_i = fl(z_i·f_i) in [L(z_i), U(z_i)]:
 *     z ≥ 0: [z, fl(z·F)]; z < 0: [fl(z·F), z]. L and U are non-decreasing in z.
 *  3. Screen. τ_b = L(T), T ≤ z_(k) (the k-th largest z of the row): T is the k-th largest of
 *     the maxima of about 4k disjoint blocks of the row, so at least k latents have z ≥ T. Those
 *     k latents have s ≥ L(z) ≥ τ_b; a latent with U(z_i) < τ_b has s_i < τ_b, strictly below k
 *     others, so it is not in the top k, ties included. Only candidates, U(z_i) ≥ τ_b, need a
 *     (on the benchmark's data about 2–3% of the latents). U is non-decreasing, so a block whose
 *     max M has U(M) < τ_b is skipped whole; the block maxima are formed with pmax and a NaN
 *     lane mask, and a NaN in z stops the row there (code 3, below). With blocks, a finite bound
 *     and τ_b > −∞, T comes from key bisection and the candidates are compacted in order without
 *     a branch per latent (kernels/select.ts); the same T, so the same candidates.
 *  4. Exact scores. A candidate's a is computed in the GEMM's own order (kernels/gemm.ts): per
 *     K-block of KC, a fresh accumulator updated t by t with the same multiply-add instruction
 *     (relaxed fused, or mul then add), the first block's sum kept and each later block's added,
 *     so fl(a_i) is the dense path's value bit for bit. Four candidates share one f32x4
 *     accumulator (lane j gathers row i_j: 4×4 transposes of row loads), and G such groups run
 *     side by side (one accumulator chain is bound by the multiply-add's latency). Then s_i with the dense
 *     path's float32 operations, and the top k by (s descending, index ascending), exactly
 *     `topk_rows`' order: by rank counting (select.ts) for at most 4k + 16 candidates, else a heap.
 *     The branch-free pieces took the op from 10.5 to 5.7 ms at B 1024, d 256, m 4096, k 32
 *     (two threads). A latent with z = −∞ needs no a: s = −∞·f = −∞ (f finite).
 *
 * Rows whose bound is not finite (g or W holding Inf/NaN, or overflow) run in "all" mode (F_b = 0
 * from the driver): every latent is a candidate with its exact a, i.e. the dense computation, so
 * NaN is reported where the dense topk would report it. A NaN in z stops the row with code 3: the
 * driver then declines to the reference kernel, which reports it as the dense path does.
 *
 *   sumsq_rows(x, out, d, r0, r1)   out[r] = Σ_t x[r, t]² in float32 (4 lanes, then the tail)
 *   gsae_select_rows(z, g, W, out, m, d, k, r0, r1, F, bs, scratch, err, β)
 *     F: per row F_b (float32; 0 = all mode); bs: the threshold's block size (1: every latent is
 *     a block); scratch per thread: `gsaeSelectScratch` bytes (its last 16 are err); err: 3 i32
 *     slots, (1, row, position) for a NaN score, (3, row, position) for a NaN in z, (2, row, count) if fewer than k candidates survived (impossible by the
 *     argument above: an internal error).
 */
import {
  block, br, brIf, call, f32, f32x4, forLoop, get, i32, i32x4, ifThen, loop, ret, select, set, transpose4, v128, type Ex, type Func, type ModuleBuilder,
} from '../encoder.js';
import { heapifyEx, hmaxEx, popSortedEx, worseEx } from './topk.js';
import { blockSlots, blockSlotsBytesEx, compactEx, COMPACT_TABLE_BYTES, kthKeyEx, rankSelectEx, rankSelectMax, storeCompactTableEx } from './select.js';

const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));
const hsum = (v: Ex): Ex => f32.add(f32.add(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), f32.add(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));

/** Independent groups of four candidates per step of the exact-a loop. */
const G = 2;

export function addGsaeTopk(mb: ModuleBuilder, opts: { relaxed: boolean; KC: number; sift: Func }): void {
  const { relaxed, KC, sift } = opts;
  // the GEMM micro-kernel's multiply-add: fma(A element splat, B vector, acc)
  const fma = (a: Ex, b: Ex, c: Ex): Ex => (relaxed ? f32x4.relaxed_madd(a, b, c) : f32x4.add(f32x4.mul(a, b), c));

  {
    const f = mb.func('sumsq_rows', Array(5).fill('i32'), []);
    const [x, out, d, r0, r1] = [0, 1, 2, 3, 4];
    const r = f.local('i32'), t = f.local('i32'), p = f.local('i32'), d4 = f.local('i32'), acc = f.local('v128'), v = f.local('v128'), s = f.local('f32'), e = f.local('f32');
    f.emit(
      set(d4, i32.and(get(d), i32.const(~3))),
      forLoop(r, get(r0), get(r1), 1,
        set(p, i32.add(get(x), sh2(i32.mul(get(r), get(d))))),
        set(acc, f32x4.const(0)),
        forLoop(t, i32.const(0), get(d4), 4, set(v, v128.load(i32.add(get(p), sh2(get(t))))), set(acc, f32x4.add(get(acc), f32x4.mul(get(v), get(v))))),
        set(s, hsum(get(acc))),
        forLoop(t, get(d4), get(d), 1, set(e, f32.load(i32.add(get(p), sh2(get(t))))), set(s, f32.add(get(s), f32.mul(get(e), get(e))))),
        f32.store(i32.add(get(out), sh2(get(r))), get(s)),
      ),
    );
  }

  const f = mb.func('gsae_select_rows', [...Array(13).fill('i32'), 'f32'], []);
  const [Z, Gr, W, out, m, d, k, r0, r1, Fr, bs, scratch, err, beta] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const L = {
    r: f.local('i32'), i: f.local('i32'), j: f.local('i32'), q: f.local('i32'), t: f.local('i32'), pc: f.local('i32'), kend: f.local('i32'),
    zb: f.local('i32'), gb: f.local('i32'), na: f.local('i32'), ni: f.local('i32'), m4: f.local('i32'), all: f.local('i32'),
    nb: f.local('i32'), bm: f.local('i32'), pb: f.local('i32'), la: f.local('i32'), ls: f.local('i32'), li: f.local('i32'), hv: f.local('i32'), hi: f.local('i32'), tmp: f.local('i32'),
    e: f.local('i32'), n: f.local('i32'), ix: f.local('i32'), s: f.local('i32'),
    F: f.local('f32'), tau: f.local('f32'), zv: f.local('f32'), av: f.local('f32'), sv: f.local('f32'),
    Fv: f.local('v128'), Tau: f.local('v128'), allV: f.local('v128'), vz: f.local('v128'), vm: f.local('v128'), nan: f.local('v128'),
    keys: f.local('i32'), blist: f.local('i32'), tbl: f.local('i32'), rb: f.local('i32'), nbl: f.local('i32'),
  };
  // U(z) ≥ τ for four latents: U(z) = z ≥ 0 ? z·F : z
  const passU = (vz: Ex): Ex => f32x4.ge(v128.bitselect(f32x4.mul(vz, get(L.Fv)), vz, f32x4.ge(vz, f32x4.const(0))), get(L.Tau));
  const at = (base: number, idx: Ex): Ex => i32.add(get(base), sh2(idx));
  const fail = (code: number, pos: Ex): Ex[] => [i32.store(get(err), i32.const(code)), i32.store(get(err), get(L.r), 4), i32.store(get(err), pos, 8), ret()];
  // latent j of the row is a candidate: all mode, or U(z_j) ≥ τ; z = −∞ goes to the list that needs no a
  const consider = (j: Ex): Ex[] => [
    set(L.zv, f32.load(at(L.zb, j))),
    // a NaN in z: code 3 (the driver declines to the reference kernel, which reports it)
    ifThen(f32.ne(get(L.zv), get(L.zv)), fail(3, j)),
    ifThen(i32.or(get(L.all), f32.ge(select(f32.mul(get(L.zv), get(L.F)), get(L.zv), f32.ge(get(L.zv), f32.const(0))), get(L.tau))), [
      ifThen(i32.and(i32.eqz(get(L.all)), f32.eq(get(L.zv), f32.const(-Infinity))),
        [i32.store(at(L.li, get(L.ni)), j), set(L.ni, i32.add(get(L.ni), i32.const(1)))],
        [i32.store(at(L.la, get(L.na)), j), set(L.na, i32.add(get(L.na), i32.const(1)))],
      ),
    ]),
  ];
  // latents i .. i + 3: only a vector with a candidate (or NaN) leaves the vector test
  const screen4 = (): Ex[] => [
    set(L.vz, v128.load(at(L.zb, get(L.i)))),
    ifThen(
      v128.any_true(v128.or(v128.or(get(L.allV), f32x4.ne(get(L.vz), get(L.vz))), f32x4.ge(v128.bitselect(f32x4.mul(get(L.vz), get(L.Fv)), get(L.vz), f32x4.ge(get(L.vz), f32x4.const(0))), get(L.Tau)))),
      [forLoop(L.j, get(L.i), i32.add(get(L.i), i32.const(4)), 1, ...consider(get(L.j)))],
    ),
  ];
  // G groups of four candidate rows (pointers P), each with its own accumulator chain
  const P = Array.from({ length: 4 * G }, () => f.local('i32'));
  const ACC = Array.from({ length: G }, () => f.local('v128'));
  const RES = Array.from({ length: G }, () => f.local('v128'));
  const Wv = Array.from({ length: 4 }, () => f.local('v128'));
  const T4 = transpose4(Wv, Array.from({ length: 4 }, () => f.local('v128')));
  // one step of 4 values of t: per group, a 4×4 transpose of its rows' loads, then four
  // multiply-adds against g[t..t+3] broadcast (the GEMM's fma(A splat, B vector, acc))
  // g[t..t+3] broadcast once per step, shared by the G groups
  const GS = Array.from({ length: 4 }, () => f.local('v128'));
  const transposeStep = (): Ex[] => {
    const out: Ex[] = GS.map((gs, q) => set(gs, v128.load32_splat(at(L.gb, get(L.t)), 4 * q)));
    for (let gi = 0; gi < G; gi++) {
      for (let c = 0; c < 4; c++) out.push(set(Wv[c]!, v128.load(at(P[4 * gi + c]!, get(L.t)))));
      // column q of the transpose: the four candidates' elements at t + q, against g[t + q]
      const acc = ACC[gi]!;
      out.push(...T4.setup, ...[0, 1, 2, 3].map((q) => set(acc, fma(get(GS[q]!), T4.col(q), get(acc)))));
    }
    return out;
  };
  const lane = (p: number, t: Ex): Ex => f32.load(at(p, t));
  const scalarStep = (): Ex[] =>
    ACC.map((acc, gi) =>
      set(acc, fma(
        v128.load32_splat(at(L.gb, get(L.t))),
        f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(lane(P[4 * gi]!, get(L.t))), 1, lane(P[4 * gi + 1]!, get(L.t))), 2, lane(P[4 * gi + 2]!, get(L.t))), 3, lane(P[4 * gi + 3]!, get(L.t))),
        get(acc),
      )),
    );
  const rowPtr = (pos: Ex): Ex => i32.add(get(W), sh2(i32.mul(i32.load(at(L.la, pos)), get(d))));
  const minI = (a: Ex, b: Ex): Ex => select(a, b, i32.lt_s(a, b));
  // rank `rank` of the row's top k is latent `index`
  const outRank = (rank: Ex, index: Ex): Ex => i32.store(at(out, i32.add(i32.mul(get(L.r), get(k)), rank)), index);
  // element e of the candidates: the scored list first, then the z = −∞ list (s = −∞)
  const elemV = (e: Ex): Ex => select(f32.load(at(L.ls, e)), f32.const(-Infinity), i32.lt_s(e, get(L.na)));
  const elemI = (e: Ex): Ex => select(i32.load(at(L.la, e)), i32.load(at(L.li, i32.sub(e, get(L.na)))), i32.lt_s(e, get(L.na)));

  // scratch (gsaeSelectScratch): la, ls m + 4 entries each (compactEx's and rankSelectEx's room),
  // li m, hv k, hi k, tmp 4G, keys and blist blockSlots(m) each, the shuffle table, rb k + 4
  const NB4 = blockSlotsBytesEx(get(m));
  f.emit(
    set(L.la, get(scratch)),
    set(L.ls, i32.add(get(L.la), sh2(i32.add(get(m), i32.const(4))))),
    set(L.li, i32.add(get(L.ls), sh2(i32.add(get(m), i32.const(4))))),
    set(L.hv, i32.add(get(L.li), sh2(get(m)))),
    set(L.hi, i32.add(get(L.hv), sh2(get(k)))),
    set(L.tmp, i32.add(get(L.hi), sh2(get(k)))),
    set(L.keys, i32.add(get(L.tmp), i32.const(16 * G))),
    set(L.blist, i32.add(get(L.keys), NB4)),
    set(L.tbl, i32.add(get(L.blist), NB4)),
    set(L.rb, i32.add(get(L.tbl), i32.const(COMPACT_TABLE_BYTES))),
    storeCompactTableEx(get(L.tbl)),
    set(L.m4, i32.and(get(m), i32.const(~3))),
    // blocks for the threshold: nb disjoint blocks of bs latents (bs = 1: every latent)
    set(L.nb, select(get(m), i32.div_u(get(m), get(bs)), i32.eq(get(bs), i32.const(1)))),
    forLoop(L.r, get(r0), get(r1), 1,
      set(L.F, f32.load(at(Fr, get(L.r)))),
      set(L.all, f32.eq(get(L.F), f32.const(0))),
      set(L.zb, i32.add(get(Z), sh2(i32.mul(get(L.r), get(m))))),
      // -------- threshold. T = the k-th largest of the nb block maxima: k blocks have their max
      // ≥ T, so k latents have z ≥ T, hence T ≤ z_(k) and τ = L(T) ≤ L(z_(k)) is a valid
      // screening threshold (a little looser than the exact k-th z, and much cheaper: no pass
      // of a heap over the whole row). k = 0: τ = +∞ (no latent needs a score).
      set(L.tau, f32.const(Infinity)),
      ifThen(i32.gt_s(get(k), i32.const(0)), [
        set(L.bm, get(L.zb)),
        ifThen(i32.ne(get(bs), i32.const(1)), [
          set(L.bm, get(L.ls)),
          forLoop(L.e, i32.const(0), get(L.nb), 1,
            set(L.pb, at(L.zb, i32.mul(get(L.e), get(bs)))),
            set(L.vm, v128.load(get(L.pb))),
            set(L.nan, f32x4.ne(get(L.vm), get(L.vm))),
            // pmax (one instruction) with NaN lanes tracked on the side: the screen below skips
            // whole blocks, so a NaN must be caught here
            forLoop(L.j, i32.const(4), get(bs), 4,
              set(L.vz, v128.load(at(L.pb, get(L.j)))),
              set(L.vm, f32x4.pmax(get(L.vm), get(L.vz))),
              set(L.nan, v128.or(get(L.nan), f32x4.ne(get(L.vz), get(L.vz)))),
            ),
            ifThen(v128.any_true(get(L.nan)), fail(3, i32.mul(get(L.e), get(bs)))),
            f32.store(at(L.bm, get(L.e)), hmaxEx(get(L.vm))),
          ),
        ]),
        // the k-th largest block max: by keys (select.ts) when there are blocks, else a heap
        ifThen(i32.ne(get(bs), i32.const(1)), [kthKeyEx(f, get(L.bm), get(L.keys), get(L.nb), get(k), L.zv)], [
          forLoop(L.e, i32.const(0), get(k), 1,
            f32.store(at(L.hv, get(L.e)), f32.load(at(L.bm, get(L.e)))),
            i32.store(at(L.hi, get(L.e)), get(L.e)),
          ),
          heapifyEx(sift, L.hv, L.hi, get(k), L.e),
          forLoop(L.e, get(k), get(L.nb), 1,
            set(L.zv, f32.load(at(L.bm, get(L.e)))),
            ifThen(f32.gt(get(L.zv), f32.load(get(L.hv))), [
              f32.store(get(L.hv), get(L.zv)),
              i32.store(get(L.hi), get(L.e)),
              call(sift.index, get(L.hv), get(L.hi), i32.const(0), get(k)),
            ]),
          ),
          set(L.zv, f32.load(get(L.hv))),
        ]),
        // τ = L(T): T ≥ 0 → T, else fl(T·F)
        set(L.tau, select(get(L.zv), f32.mul(get(L.zv), get(L.F)), f32.ge(get(L.zv), f32.const(0)))),
      ]),
      ifThen(get(L.all), [set(L.tau, f32.const(-Infinity))]),
      set(L.gb, i32.add(get(Gr), sh2(i32.mul(get(L.r), get(d))))),
      set(L.na, i32.const(0)),
      set(L.ni, i32.const(0)),
      set(L.Fv, f32x4.splat(get(L.F))),
      set(L.Tau, f32x4.splat(get(L.tau))),
      set(L.allV, i32x4.splat(i32.sub(i32.const(0), get(L.all)))),
      // -------- screen: U(z) = z ≥ 0 ? z·F : z against τ, four latents at a time. U is
      // non-decreasing, so a block whose max has U(max) < τ holds no candidate and is skipped
      // whole (the blocks exist when bs > 1; NaN was ruled out while they were formed); the
      // latents past the last block, or every latent when bs = 1, are screened one vector at a time.
      set(L.i, i32.const(0)),
      ifThen(i32.ne(get(bs), i32.const(1)), [
        ifThen(
          // the fast path (select.ts): with a finite bound and τ > −∞ (so no z = −∞ can be a
          // candidate), the blocks with U(max) ≥ τ and then their latents with U(z) ≥ τ are
          // compacted in order without a branch per latent; kthKeyEx padded bm with −∞ (U = −∞ < τ)
          i32.and(i32.eqz(get(L.all)), f32.gt(get(L.tau), f32.const(-Infinity))),
          [
            set(L.nbl, i32.const(0)),
            forLoop(L.e, i32.const(0), get(L.nb), 4,
              compactEx(f, L.tbl, L.nbl, passU(v128.load(at(L.bm, get(L.e)))), get(L.e), get(L.blist)),
            ),
            forLoop(L.e, i32.const(0), get(L.nbl), 1,
              set(L.i, i32.mul(i32.load(at(L.blist, get(L.e))), get(bs))),
              forLoop(L.j, get(L.i), i32.add(get(L.i), get(bs)), 4,
                compactEx(f, L.tbl, L.na, passU(v128.load(at(L.zb, get(L.j)))), get(L.j), get(L.la)),
              ),
            ),
          ],
          [
            forLoop(L.e, i32.const(0), get(L.nb), 1,
              set(L.zv, f32.load(at(L.bm, get(L.e)))),
              ifThen(i32.or(get(L.all), f32.ge(select(f32.mul(get(L.zv), get(L.F)), get(L.zv), f32.ge(get(L.zv), f32.const(0))), get(L.tau))), [
                set(L.kend, i32.mul(i32.add(get(L.e), i32.const(1)), get(bs))),
                forLoop(L.i, i32.mul(get(L.e), get(bs)), get(L.kend), 4, ...screen4()),
              ]),
            ),
          ],
        ),
        set(L.i, i32.mul(get(L.nb), get(bs))),
      ]),
      forLoop(L.i, get(L.i), get(L.m4), 4, ...screen4()),
      forLoop(L.j, get(L.m4), get(m), 1, ...consider(get(L.j))),
      ifThen(i32.lt_s(i32.add(get(L.na), get(L.ni)), get(k)), fail(2, i32.add(get(L.na), get(L.ni)))),
      // -------- exact a for the scored candidates, 4·G per step (G independent accumulator
      // chains: one chain is bound by the multiply-add latency), in the GEMM's order
      forLoop(L.q, i32.const(0), get(L.na), 4 * G,
        set(L.n, i32.sub(get(L.na), i32.const(1))),
        ...P.map((pl, c) => set(pl, rowPtr(c === 0 ? get(L.q) : minI(i32.add(get(L.q), i32.const(c)), get(L.n))))),
        forLoop(L.pc, i32.const(0), get(d), KC,
          set(L.kend, minI(i32.add(get(L.pc), i32.const(KC)), get(d))),
          ...ACC.map((a) => set(a, f32x4.const(0))),
          set(L.t, get(L.pc)),
          block(loop(
            brIf(1, i32.gt_s(i32.add(get(L.t), i32.const(4)), get(L.kend))),
            ...transposeStep(),
            set(L.t, i32.add(get(L.t), i32.const(4))),
            br(0),
          )),
          block(loop(
            brIf(1, i32.ge_s(get(L.t), get(L.kend))),
            ...scalarStep(),
            set(L.t, i32.add(get(L.t), i32.const(1))),
            br(0),
          )),
          // the first block's sum is the value, later blocks are added to it (gemm: C + acc)
          ...RES.map((r, gi) => ifThen(i32.eqz(get(L.pc)), [set(r, get(ACC[gi]!))], [set(r, f32x4.add(get(r), get(ACC[gi]!)))])),
        ),
        ...RES.map((r, gi) => v128.store(get(L.tmp), get(r), 16 * gi)),
        // s = z · (1 + |a|·β), the dense path's operations in its order, for the real lanes
        forLoop(L.j, i32.const(0), minI(i32.const(4 * G), i32.sub(get(L.na), get(L.q))), 1,
          set(L.e, i32.add(get(L.q), get(L.j))),
          set(L.ix, i32.load(at(L.la, get(L.e)))),
          set(L.av, f32.load(at(L.tmp, get(L.j)))),
          set(L.sv, f32.mul(f32.load(at(L.zb, get(L.ix))), f32.add(f32.const(1), f32.mul(f32.abs(get(L.av)), get(beta))))),
          ifThen(f32.ne(get(L.sv), get(L.sv)), fail(1, get(L.ix))),
          f32.store(at(L.ls, get(L.e)), get(L.sv)),
        ),
      ),
      // -------- top k of the candidates: by rank counting (select.ts) when they are few and all
      // scored, else a heap whose root is the worst kept (topk_rows' order)
      ifThen(i32.gt_s(get(k), i32.const(0)), [ifThen(
        i32.and(i32.eqz(get(L.ni)), i32.le_s(get(L.na), rankSelectMax(get(k)))),
        [rankSelectEx(f, get(L.ls), get(L.la), get(L.na), get(k), get(L.rb), outRank)],
        [
          forLoop(L.e, i32.const(0), get(k), 1,
            f32.store(at(L.hv, get(L.e)), elemV(get(L.e))),
            i32.store(at(L.hi, get(L.e)), elemI(get(L.e))),
          ),
          heapifyEx(sift, L.hv, L.hi, get(k), L.e),
          set(L.n, i32.add(get(L.na), get(L.ni))),
          forLoop(L.e, get(k), get(L.n), 1,
            set(L.sv, elemV(get(L.e))),
            set(L.ix, elemI(get(L.e))),
            ifThen(worseEx(f32.load(get(L.hv)), i32.load(get(L.hi)), get(L.sv), get(L.ix)), [
              f32.store(get(L.hv), get(L.sv)),
              i32.store(get(L.hi), get(L.ix)),
              call(sift.index, get(L.hv), get(L.hi), i32.const(0), get(k)),
            ]),
          ),
          popSortedEx(sift, L.hv, L.hi, get(k), L.s, outRank),
        ],
      )]),
    ),
  );
}

/** Per-thread bytes for `gsae_select_rows`: its scratch, then 16 for its err slots. */
export const gsaeSelectScratch = (m: number, k: number): number =>
  4 * (3 * m + 8) + 8 * k + 16 * G + 8 * blockSlots(m) + COMPACT_TABLE_BYTES + 4 * (k + 4) + 16;
