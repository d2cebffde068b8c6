/**
 * Kernels of the sparse row primitives (ops/sparse.ts) and the fused Adam step (ops/optim.ts).
 * Pointers are byte offsets; every kernel computes a disjoint range of its output (the driver
 * splits rows over threads), each element by one thread in a fixed order, so results do not
 * depend on the thread count. Indices are validated by the driver before any kernel runs.
 *
 * Table in rows layout (W [m, d]): row r is contiguous, so the d-long loops run 4 lanes at a time.
 *   sp_dot_rows(a, W, idx, out, d, k, b0, b1)          out[b, j] = a[b] · W[idx[b, j]]
 *   sp_bag_rows(v, idx, W, out, d, k, b0, b1)          out[b] = Σ_j v[b, j] W[idx[b, j]]
 *   sp_outer_rows(v, a, ent, start, out, d, k, r0, r1) out[r] = Σ_{e ∈ [start[r], start[r+1])} v[ent[e]] a[ent[e] / k]
 *   sp_outer_rows_t(v, a, ent, start, out, d, k, r0, r1, m, tmp)  the same sums stored into a [d, m] output
 *     (tmp: 256·d bytes per thread)
 *     (ent: the flat positions b·k + j grouped by index r — a counting sort the driver builds — so
 *      each output row is written by one thread, once, with no atomics)
 * Flat picks (idx [N] of q = b·m + r; rows layout only, cols tables are transposed first):
 *   sp_dot_flat(a, W, idx, out, d, m, p0, p1)                out[p] = a[q / m] · W[q mod m]
 *   sp_bag_flat(v, W, idx, ent, start, out, d, m, b0, b1)    out[b] = Σ_{e ∈ [start[b], start[b+1])} v[ent[e]] W[q mod m]
 *   sp_outer_flat(v, a, idx, ent, start, out, d, m, r0, r1)  out[r] = Σ_{e ∈ [start[r], start[r+1])} v[ent[e]] a[q / m]
 *   sp_outer_flat_t(v, a, idx, ent, start, out, d, m, r0, r1, tmp)  the same sums stored into a [d, m] output
 *     (ent groups the picks by batch row (bag) or by latent (outer), stable, as for sp_outer_rows)
 * Table in cols layout (W [d, m]): vector r is a strided column, so these walk W row by row (one
 * row t of m floats stays in cache while every pick reads its element) with scalar gathers:
 *   sp_dot_cols(a, W, idx, out, d, m, k, b0, b1)       out rows b0..b1 accumulated over t
 *   sp_bag_cols(v, idx, W, out, d, m, k, b0, b1)
 *   sp_outer_cols(v, idx, a, out, d, m, k, B, t0, t1)  out rows t0..t1 ([d, m]): zero, then scatter
 *
 *   adam_step(p, g, m, v, pOut, mOut, vOut, n, c1, b2, c2, eps, stepSize, sqrtBc2, decay)
 *     the composite Adam update, operation by operation in float32 (bit-identical to it; decay is
 *     1 when there is no weight decay, and p·1 = p exactly)
 */
import {
  block, brIf, f32, f32x4, forLoop, get, i32, ifThen, loop, memoryFill, set, transpose4, v128, type Ex, type ModuleBuilder,
} from '../encoder.js';

const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));

/** Latents per group of sp_outer_rows_t / sp_outer_flat_t (their scratch: 4·OUTER_T_GROUP·d bytes a thread). */
export const OUTER_T_GROUP = 64;
const hsum = (v: Ex): Ex => f32.add(f32.add(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), f32.add(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
// s = pa[0..d) · pw[0..d): 4 lanes into acc, its horizontal sum, then a scalar tail (one fixed order,
// shared by the rows and flat kernels so both give the same bits for the same pair of vectors)
const dot = (t: number, d4: number, d: number, pa: number, pw: number, acc: number, s: number): Ex[] => [
  set(acc, f32x4.const(0)),
  forLoop(t, i32.const(0), get(d4), 4,
    set(acc, f32x4.add(get(acc), f32x4.mul(v128.load(i32.add(get(pa), sh2(get(t)))), v128.load(i32.add(get(pw), sh2(get(t))))))),
  ),
  set(s, hsum(get(acc))),
  forLoop(t, get(d4), get(d), 1,
    set(s, f32.add(get(s), f32.mul(f32.load(i32.add(get(pa), sh2(get(t)))), f32.load(i32.add(get(pw), sh2(get(t))))))),
  ),
];

/**
 * Four of `dot`'s products side by side (pa[i] · pw[i] for i < 4, each with its own accumulator in
 * `dot`'s order: the same bits): one accumulator chain is bound by the add's latency, four are not.
 * Stores s_i at out address po[i].
 */
const dot4 = (t: number, d4: number, d: number, pa: readonly number[], pw: readonly number[], acc: readonly number[], s: number, po: readonly number[]): Ex[] => [
  ...acc.map((a) => set(a, f32x4.const(0))),
  forLoop(t, i32.const(0), get(d4), 4,
    ...acc.map((a, i) => set(a, f32x4.add(get(a), f32x4.mul(v128.load(i32.add(get(pa[i]!), sh2(get(t)))), v128.load(i32.add(get(pw[i]!), sh2(get(t)))))))),
  ),
  ...acc.flatMap((a, i) => [
    set(s, hsum(get(a))),
    forLoop(t, get(d4), get(d), 1,
      set(s, f32.add(get(s), f32.mul(f32.load(i32.add(get(pa[i]!), sh2(get(t)))), f32.load(i32.add(get(pw[i]!), sh2(get(t))))))),
    ),
    f32.store(get(po[i]!), get(s)),
  ]),
];

export function addSparse(mb: ModuleBuilder): void {
  // ------------------------------------------------------------------ rows layout
  {
    const f = mb.func('sp_dot_rows', Array(8).fill('i32'), []);
    const [a, W, idx, out, d, k, b0, b1] = [0, 1, 2, 3, 4, 5, 6, 7];
    const b = f.local('i32'), j = f.local('i32'), t = f.local('i32'), pa = f.local('i32'), pw = f.local('i32'), d4 = f.local('i32'), p = f.local('i32'), k4 = f.local('i32');
    const acc = f.local('v128'), s = f.local('f32');
    const PW = [0, 1, 2, 3].map(() => f.local('i32')), PO = [0, 1, 2, 3].map(() => f.local('i32')), ACC = [0, 1, 2, 3].map(() => f.local('v128'));
    f.emit(
      set(d4, i32.and(get(d), i32.const(~3))),
      set(k4, i32.and(get(k), i32.const(~3))),
      forLoop(b, get(b0), get(b1), 1,
        set(pa, i32.add(get(a), sh2(i32.mul(get(b), get(d))))),
        // four picks at a time (they share the row of a), then the rest one by one
        forLoop(j, i32.const(0), get(k4), 4,
          ...PW.flatMap((pwi, i) => [
            set(p, i32.add(i32.add(i32.mul(get(b), get(k)), get(j)), i32.const(i))),
            set(pwi, i32.add(get(W), sh2(i32.mul(i32.load(i32.add(get(idx), sh2(get(p)))), get(d))))),
            set(PO[i]!, i32.add(get(out), sh2(get(p)))),
          ]),
          ...dot4(t, d4, d, [pa, pa, pa, pa], PW, ACC, s, PO),
        ),
        forLoop(j, get(k4), get(k), 1,
          set(p, i32.add(i32.mul(get(b), get(k)), get(j))),
          set(pw, i32.add(get(W), sh2(i32.mul(i32.load(i32.add(get(idx), sh2(get(p)))), get(d))))),
          ...dot(t, d4, d, pa, pw, acc, s),
          f32.store(i32.add(get(out), sh2(get(p))), get(s)),
        ),
      ),
    );
  }
  /**
   * po[0..d) = Σ c · src[0..d) over the entries that `each(body)` walks (it sets src and c, then
   * runs body). Every element is summed as the in-place loop `po = 0; po = po + c·src` per entry
   * in order would (the same float32 operations: the same bits), but a 32-float chunk of the
   * output row stays in eight registers across the entries instead of being loaded and stored
   * once per entry; the d tail goes a vector, then an element, at a time.
   */
  const blockedSum = (f: ReturnType<ModuleBuilder['func']>, t: number, d: number, po: number, src: number, c: number, each: (body: Ex[]) => Ex): Ex[] => {
    const acc = Array.from({ length: 8 }, () => f.local('v128'));
    const d32 = f.local('i32'), d4 = f.local('i32'), sc = f.local('f32'), cv = f.local('v128');
    const at = (base: number): Ex => i32.add(get(base), sh2(get(t)));
    return [
      set(d32, i32.and(get(d), i32.const(~31))),
      set(d4, i32.and(get(d), i32.const(~3))),
      forLoop(t, i32.const(0), get(d32), 32,
        ...acc.map((a) => set(a, f32x4.const(0))),
        each([set(cv, f32x4.splat(get(c))), ...acc.map((a, i) => set(a, f32x4.add(get(a), f32x4.mul(get(cv), v128.load(at(src), 16 * i)))))]),
        ...acc.map((a, i) => v128.store(at(po), get(a), 16 * i)),
      ),
      forLoop(t, get(d32), get(d4), 4,
        set(acc[0]!, f32x4.const(0)),
        each([set(acc[0]!, f32x4.add(get(acc[0]!), f32x4.mul(f32x4.splat(get(c)), v128.load(at(src)))))]),
        v128.store(at(po), get(acc[0]!)),
      ),
      forLoop(t, get(d4), get(d), 1,
        set(sc, f32.const(0)),
        each([set(sc, f32.add(get(sc), f32.mul(get(c), f32.load(at(src)))))]),
        f32.store(at(po), get(sc)),
      ),
    ];
  };
  {
    const f = mb.func('sp_bag_rows', Array(8).fill('i32'), []);
    const [v, idx, W, out, d, k, b0, b1] = [0, 1, 2, 3, 4, 5, 6, 7];
    const b = f.local('i32'), j = f.local('i32'), t = f.local('i32'), po = f.local('i32'), pw = f.local('i32'), p = f.local('i32');
    const c = f.local('f32');
    f.emit(
      forLoop(b, get(b0), get(b1), 1,
        set(po, i32.add(get(out), sh2(i32.mul(get(b), get(d))))),
        ...blockedSum(f, t, d, po, pw, c, (body) =>
          forLoop(j, i32.const(0), get(k), 1,
            set(p, i32.add(i32.mul(get(b), get(k)), get(j))),
            set(pw, i32.add(get(W), sh2(i32.mul(i32.load(i32.add(get(idx), sh2(get(p)))), get(d))))),
            set(c, f32.load(i32.add(get(v), sh2(get(p))))),
            ...body,
          ),
        ),
      ),
    );
  }
  {
    const f = mb.func('sp_outer_rows', Array(9).fill('i32'), []);
    const [v, a, ent, start, out, d, k, r0, r1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const r = f.local('i32'), e = f.local('i32'), eEnd = f.local('i32'), t = f.local('i32'), po = f.local('i32'), pa = f.local('i32'), p = f.local('i32');
    const c = f.local('f32');
    f.emit(
      forLoop(r, get(r0), get(r1), 1,
        set(po, i32.add(get(out), sh2(i32.mul(get(r), get(d))))),
        set(eEnd, i32.load(i32.add(get(start), sh2(i32.add(get(r), i32.const(1)))))),
        ...blockedSum(f, t, d, po, pa, c, (body) =>
          forLoop(e, i32.load(i32.add(get(start), sh2(get(r)))), get(eEnd), 1,
            set(p, i32.load(i32.add(get(ent), sh2(get(e))))),
            set(pa, i32.add(get(a), sh2(i32.mul(i32.div_u(get(p), get(k)), get(d))))),
            set(c, f32.load(i32.add(get(v), sh2(get(p))))),
            ...body,
          ),
        ),
      ),
    );
  }

  // sp_outer_rows_t(v, a, ent, start, out, d, k, r0, r1, m, tmp): sp_outer_rows for a cols-layout
  // output ([d, m]): 64 latents' rows are summed into tmp (64·d floats, in L2) exactly as
  // sp_outer_rows sums them, then stored transposed with 4×4 register transposes. 64 latents
  // write 256 contiguous bytes of each output row: with 4 (or 16) the strided rows, all in one
  // cache set when m·4 bytes is a multiple of 4 KiB, made it slower than the separate pass it
  // replaces (measured). Against sp_outer_rows into an [m, d] scratch plus a tiled transpose
  // (two more passes over m·d words): 1.3 vs 1.9 ms at d256 m4096, 7.9 vs 13.4 ms at d768
  // m16384 (B 1024, k 32, caches flushed). Ranges start at multiples of 64; latents or t left
  // over by the 4×4 blocks are stored element by element.
  // sp_outer_flat_t(v, a, idx, ent, start, out, d, m, r0, r1, tmp): the same for flat picks
  // (q = idx[p] = b·m + r; the source row of pick p is b = q / m), as sp_outer_flat sums them
  for (const flat of [false, true]) {
    const f = flat ? mb.func('sp_outer_flat_t', Array(11).fill('i32'), []) : mb.func('sp_outer_rows_t', Array(11).fill('i32'), []);
    // rows: (v, a, ent, start, out, d, k, r0, r1, m, tmp); flat: (v, a, idx, ent, start, out, d, m, r0, r1, tmp)
    const [v, a, ent, start, out, d, k, r0, r1, m, tmp] = flat ? [0, 1, 3, 4, 5, 6, 7, 8, 9, 7, 10] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const idx = 2;
    const r = f.local('i32'), q = f.local('i32'), nq = f.local('i32'), n4q = f.local('i32'), e = f.local('i32'), eEnd = f.local('i32'), t = f.local('i32');
    const po = f.local('i32'), pa = f.local('i32'), d4 = f.local('i32'), p = f.local('i32'), py = f.local('i32'), pt = f.local('i32');
    const c = f.local('f32');
    const row = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
    const T4 = transpose4(row, [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')]);
    const ldy = f.local('i32'), ldt = f.local('i32');
    const elem = (tt: Ex, qq: Ex): Ex =>
      i32.store(i32.add(get(out), sh2(i32.add(i32.mul(tt, get(m)), i32.add(get(r), qq)))), i32.load(i32.add(get(tmp), sh2(i32.add(i32.mul(qq, get(d)), tt)))));
    f.emit(
      set(d4, i32.and(get(d), i32.const(~3))),
      set(ldy, sh2(get(m))),
      set(ldt, sh2(get(d))),
      forLoop(r, get(r0), get(r1), OUTER_T_GROUP,
        set(nq, i32.sub(get(r1), get(r))),
        ifThen(i32.gt_s(get(nq), i32.const(OUTER_T_GROUP)), [set(nq, i32.const(OUTER_T_GROUP))]),
        set(n4q, i32.and(get(nq), i32.const(~3))),
        // the group's rows, each summed in (b, j) order as sp_outer_rows does
        forLoop(q, i32.const(0), get(nq), 1,
          set(po, i32.add(get(tmp), sh2(i32.mul(get(q), get(d))))),
          set(eEnd, i32.load(i32.add(get(start), sh2(i32.add(i32.add(get(r), get(q)), i32.const(1)))))),
          ...blockedSum(f, t, d, po, pa, c, (body) =>
            forLoop(e, i32.load(i32.add(get(start), sh2(i32.add(get(r), get(q))))), get(eEnd), 1,
              set(p, i32.load(i32.add(get(ent), sh2(get(e))))),
              // the pick's source row: p / k (rows), or q / m with q = idx[p] (flat; k is m there)
              set(pa, i32.add(get(a), sh2(i32.mul(i32.div_u(flat ? i32.load(i32.add(get(idx), sh2(get(p)))) : get(p), get(k)), get(d))))),
              set(c, f32.load(i32.add(get(v), sh2(get(p))))),
              ...body,
            ),
          ),
        ),
        // out[t + i, r + q .. r + q + 3] = tmp[q .. q + 3, t + i]: one 4×4 transpose per block
        forLoop(t, i32.const(0), get(d4), 4,
          forLoop(q, i32.const(0), get(n4q), 4,
            set(pt, i32.add(get(tmp), sh2(i32.add(i32.mul(get(q), get(d)), get(t))))),
            ...row.map((l, i) => set(l, v128.load(i32.add(get(pt), i32.mul(get(ldt), i32.const(i)))))),
            ...T4.setup,
            set(py, i32.add(get(out), sh2(i32.add(i32.mul(get(t), get(m)), i32.add(get(r), get(q)))))),
            ...[0, 1, 2, 3].map((i) => v128.store(i32.add(get(py), i32.mul(get(ldy), i32.const(i))), T4.col(i))),
          ),
          // latents past the last full block of four
          forLoop(q, get(n4q), get(nq), 1, ...[0, 1, 2, 3].map((i) => elem(i32.add(get(t), i32.const(i)), get(q)))),
        ),
        // the d tail
        forLoop(t, get(d4), get(d), 1, forLoop(q, i32.const(0), get(nq), 1, elem(get(t), get(q)))),
      ),
    );
  }

  // ------------------------------------------------------------------ flat picks, rows layout
  // q = idx[p] = b·m + r (ops/sparse.ts); ent/start group the picks by output row (a counting
  // sort the driver builds), so each output row is summed by one thread, in pick order
  {
    const f = mb.func('sp_dot_flat', Array(8).fill('i32'), []);
    const [a, W, idx, out, d, m, p0, p1] = [0, 1, 2, 3, 4, 5, 6, 7];
    const p = f.local('i32'), q = f.local('i32'), b = f.local('i32'), t = f.local('i32'), pa = f.local('i32'), pw = f.local('i32'), d4 = f.local('i32'), p4 = f.local('i32');
    const acc = f.local('v128'), s = f.local('f32');
    const PA = [0, 1, 2, 3].map(() => f.local('i32')), PW = [0, 1, 2, 3].map(() => f.local('i32')), PO = [0, 1, 2, 3].map(() => f.local('i32')), ACC = [0, 1, 2, 3].map(() => f.local('v128'));
    // pick p: its batch row of a and its latent's row of W
    const rowsOf = (pp: Ex, pai: number, pwi: number): Ex[] => [
      set(q, i32.load(i32.add(get(idx), sh2(pp)))),
      set(b, i32.div_u(get(q), get(m))),
      set(pai, i32.add(get(a), sh2(i32.mul(get(b), get(d))))),
      set(pwi, i32.add(get(W), sh2(i32.mul(i32.sub(get(q), i32.mul(get(b), get(m))), get(d))))),
    ];
    f.emit(
      set(d4, i32.and(get(d), i32.const(~3))),
      set(p4, i32.add(get(p0), i32.and(i32.sub(get(p1), get(p0)), i32.const(~3)))),
      forLoop(p, get(p0), get(p4), 4,
        ...PA.flatMap((pai, i) => [...rowsOf(i32.add(get(p), i32.const(i)), pai, PW[i]!), set(PO[i]!, i32.add(get(out), sh2(i32.add(get(p), i32.const(i)))))]),
        ...dot4(t, d4, d, PA, PW, ACC, s, PO),
      ),
      forLoop(p, get(p4), get(p1), 1,
        ...rowsOf(get(p), pa, pw),
        ...dot(t, d4, d, pa, pw, acc, s),
        f32.store(i32.add(get(out), sh2(get(p))), get(s)),
      ),
    );
  }
  // sp_bag_flat(v, W, idx, ent, start, out, d, m, b0, b1):   out[b] = Σ_{e ∈ row b} v[p] W[q mod m]
  // sp_outer_flat(v, a, idx, ent, start, out, d, m, r0, r1): out[r] = Σ_{e ∈ latent r} v[p] a[q / m]
  for (const [name, byRow] of [['sp_bag_flat', true], ['sp_outer_flat', false]] as const) {
    const f = mb.func(name, Array(10).fill('i32'), []);
    const [v, src, idx, ent, start, out, d, m, r0, r1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const r = f.local('i32'), e = f.local('i32'), eEnd = f.local('i32'), t = f.local('i32'), po = f.local('i32'), ps = f.local('i32'), p = f.local('i32'), q = f.local('i32');
    const c = f.local('f32');
    f.emit(
      forLoop(r, get(r0), get(r1), 1,
        set(po, i32.add(get(out), sh2(i32.mul(get(r), get(d))))),
        set(eEnd, i32.load(i32.add(get(start), sh2(i32.add(get(r), i32.const(1)))))),
        ...blockedSum(f, t, d, po, ps, c, (body) =>
          forLoop(e, i32.load(i32.add(get(start), sh2(get(r)))), get(eEnd), 1,
            set(p, i32.load(i32.add(get(ent), sh2(get(e))))),
            set(q, i32.load(i32.add(get(idx), sh2(get(p))))),
            // the other end of the pick: its latent's table row (bag) or its batch row of a (outer)
            set(ps, i32.add(get(src), sh2(i32.mul(byRow ? i32.rem_u(get(q), get(m)) : i32.div_u(get(q), get(m)), get(d))))),
            set(c, f32.load(i32.add(get(v), sh2(get(p))))),
            ...body,
          ),
        ),
      ),
    );
  }

  // ------------------------------------------------------------------ cols layout
  {
    const f = mb.func('sp_dot_cols', Array(9).fill('i32'), []);
    const [a, W, idx, out, d, m, k, b0, b1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const t = f.local('i32'), b = f.local('i32'), p = f.local('i32'), pEnd = f.local('i32'), wrow = f.local('i32'), av = f.local('f32'), po = f.local('i32');
    f.emit(
      memoryFill(i32.add(get(out), sh2(i32.mul(get(b0), get(k)))), i32.const(0), sh2(i32.mul(i32.sub(get(b1), get(b0)), get(k)))),
      forLoop(t, i32.const(0), get(d), 1,
        set(wrow, i32.add(get(W), sh2(i32.mul(get(t), get(m))))),
        forLoop(b, get(b0), get(b1), 1,
          set(av, f32.load(i32.add(get(a), sh2(i32.add(i32.mul(get(b), get(d)), get(t)))))),
          set(p, i32.mul(get(b), get(k))),
          set(pEnd, i32.add(get(p), get(k))),
          block(
            brIf(0, i32.ge_s(get(p), get(pEnd))),
            loop(
              set(po, i32.add(get(out), sh2(get(p)))),
              f32.store(get(po), f32.add(f32.load(get(po)), f32.mul(get(av), f32.load(i32.add(get(wrow), sh2(i32.load(i32.add(get(idx), sh2(get(p)))))))))),
              set(p, i32.add(get(p), i32.const(1))),
              brIf(0, i32.lt_s(get(p), get(pEnd))),
            ),
          ),
        ),
      ),
    );
  }
  {
    const f = mb.func('sp_bag_cols', Array(9).fill('i32'), []);
    const [v, idx, W, out, d, m, k, b0, b1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const t = f.local('i32'), b = f.local('i32'), p = f.local('i32'), pEnd = f.local('i32'), wrow = f.local('i32'), s = f.local('f32');
    f.emit(
      forLoop(t, i32.const(0), get(d), 1,
        set(wrow, i32.add(get(W), sh2(i32.mul(get(t), get(m))))),
        forLoop(b, get(b0), get(b1), 1,
          set(s, f32.const(0)),
          set(p, i32.mul(get(b), get(k))),
          set(pEnd, i32.add(get(p), get(k))),
          block(
            brIf(0, i32.ge_s(get(p), get(pEnd))),
            loop(
              set(s, f32.add(get(s), f32.mul(f32.load(i32.add(get(v), sh2(get(p)))), f32.load(i32.add(get(wrow), sh2(i32.load(i32.add(get(idx), sh2(get(p)))))))))),
              set(p, i32.add(get(p), i32.const(1))),
              brIf(0, i32.lt_s(get(p), get(pEnd))),
            ),
          ),
          f32.store(i32.add(get(out), sh2(i32.add(i32.mul(get(b), get(d)), get(t)))), get(s)),
        ),
      ),
    );
  }
  {
    const f = mb.func('sp_outer_cols', Array(10).fill('i32'), []);
    const [v, idx, a, out, d, m, k, B, t0, t1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const t = f.local('i32'), b = f.local('i32'), p = f.local('i32'), pEnd = f.local('i32'), orow = f.local('i32'), av = f.local('f32'), po = f.local('i32');
    f.emit(
      forLoop(t, get(t0), get(t1), 1,
        set(orow, i32.add(get(out), sh2(i32.mul(get(t), get(m))))),
        memoryFill(get(orow), i32.const(0), sh2(get(m))),
        forLoop(b, i32.const(0), get(B), 1,
          set(av, f32.load(i32.add(get(a), sh2(i32.add(i32.mul(get(b), get(d)), get(t)))))),
          set(p, i32.mul(get(b), get(k))),
          set(pEnd, i32.add(get(p), get(k))),
          block(
            brIf(0, i32.ge_s(get(p), get(pEnd))),
            loop(
              set(po, i32.add(get(orow), sh2(i32.load(i32.add(get(idx), sh2(get(p))))))),
              f32.store(get(po), f32.add(f32.load(get(po)), f32.mul(f32.load(i32.add(get(v), sh2(get(p)))), get(av)))),
              set(p, i32.add(get(p), i32.const(1))),
              brIf(0, i32.lt_s(get(p), get(pEnd))),
            ),
          ),
        ),
      ),
    );
  }

  // ------------------------------------------------------------------ fused Adam
  {
    const f = mb.func('adam_step', [...Array(8).fill('i32'), ...Array(7).fill('f32')], []);
    const [P, G, M, V, PO, MO, VO, n, c1, b2, c2, eps, ss, bc, dc] = Array.from({ length: 15 }, (_, i) => i) as number[];
    const i = f.local('i32'), n4 = f.local('i32'), off = f.local('i32');
    const C = [c1, b2, c2, eps, ss, bc, dc].map(() => f.local('v128'));
    const gv = f.local('v128'), mv = f.local('v128'), m1 = f.local('v128'), v1 = f.local('v128');
    const gs = f.local('f32'), ms = f.local('f32'), m1s = f.local('f32'), v1s = f.local('f32');
    const [C1, B2, C2, EPS, SS, BC, DC] = C as [number, number, number, number, number, number, number];
    const at = (base: number): Ex => i32.add(get(base), get(off));
    f.emit(
      ...[c1, b2, c2, eps, ss, bc, dc].map((s, k) => set(C[k]!, f32x4.splat(get(s!)))),
      set(n4, i32.and(get(n!), i32.const(~3))),
      forLoop(i, i32.const(0), get(n4), 4,
        set(off, sh2(get(i))),
        set(gv, v128.load(at(G!))),
        set(mv, v128.load(at(M!))),
        set(m1, f32x4.add(get(mv), f32x4.mul(f32x4.sub(get(gv), get(mv)), get(C1)))),
        set(v1, f32x4.add(f32x4.mul(v128.load(at(V!)), get(B2)), f32x4.mul(f32x4.mul(get(gv), get(gv)), get(C2)))),
        v128.store(at(MO!), get(m1)),
        v128.store(at(VO!), get(v1)),
        v128.store(
          at(PO!),
          f32x4.sub(
            f32x4.mul(v128.load(at(P!)), get(DC)),
            f32x4.mul(get(SS), f32x4.div(get(m1), f32x4.add(f32x4.div(f32x4.sqrt(get(v1)), get(BC)), get(EPS)))),
          ),
        ),
      ),
      forLoop(i, get(n4), get(n!), 1,
        set(off, sh2(get(i))),
        set(gs, f32.load(at(G!))),
        set(ms, f32.load(at(M!))),
        set(m1s, f32.add(get(ms), f32.mul(f32.sub(get(gs), get(ms)), get(c1!)))),
        set(v1s, f32.add(f32.mul(f32.load(at(V!)), get(b2!)), f32.mul(f32.mul(get(gs), get(gs)), get(c2!)))),
        f32.store(at(MO!), get(m1s)),
        f32.store(at(VO!), get(v1s)),
        f32.store(at(PO!), f32.sub(f32.mul(f32.load(at(P!)), get(dc!)), f32.mul(get(ss!), f32.div(get(m1s), f32.add(f32.div(f32.sqrt(get(v1s)), get(bc!)), get(eps!)))))),
      ),
    );
  }
}
