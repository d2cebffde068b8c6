/**
 * Single-precision GEMM in WebAssembly SIMD128: C[m0:m1, n0:n1] = op(A) · op(B) for row-major
 * operands, op = identity or transpose. BLIS-style structure, all in wasm:
 *
 *   for jc (NC columns):  for pc (KC of K):  pack B[pc:, jc:] into NR-wide panels  (L2-resident)
 *     for ic (MC rows):  pack A[ic:, pc:] into MR-tall panels                      (L1/L2)
 *       for jr (NR):  for ir (MR):  micro-kernel: MR×NR tile of C += panelA · panelB
 *
 * Packing makes every micro-kernel access contiguous and absorbs the four transpose variants and
 * the ragged edges (panels are zero-padded to MR/NR; edge tiles go through a scratch tile). The
 * micro-kernel keeps the MR×NR tile in MR·NR/4 vector registers, broadcasting one A element per row
 * (`v128.load32_splat`) against NR/4 vectors of B per step of k; it uses relaxed SIMD's fused
 * multiply-add when available, else mul+add.
 *
 * One call computes one rectangle of C; threads are given disjoint rectangles (the driver splits
 * rows or columns), each with its own packing buffers. Every C element is summed in the same
 * order whatever the split, so results do not depend on the number of threads.
 */
import {
  block, br, brIf, call, f32, f32x4, forLoop, get, i32, ifThen, loop, select, set, v128, type Ex, type Func, type ModuleBuilder,
} from '../encoder.js';

export interface GemmConfig {
  /** rows of the register tile */
  MR: number;
  /** vectors (of 4 columns) per row of the register tile; NR = 4·NV */
  NV: number;
  KC: number;
  MC: number;
  NC: number;
  relaxed: boolean;
}

export const DEFAULT_GEMM: Omit<GemmConfig, 'relaxed'> = { MR: 6, NV: 2, KC: 256, MC: 96, NC: 2048 };

/** Bytes of per-thread scratch the gemm needs: packed A block, packed B block, one C tile. */
export function gemmScratchBytes(c: Omit<GemmConfig, 'relaxed'>): { packA: number; packB: number; tile: number } {
  const NR = 4 * c.NV;
  const MCr = Math.ceil(c.MC / c.MR) * c.MR;
  const NCr = Math.ceil(c.NC / NR) * NR;
  return { packA: MCr * c.KC * 4, packB: NCr * c.KC * 4, tile: c.MR * NR * 4 };
}

const min = (a: Ex, b: Ex): Ex => select(a, b, i32.lt_s(a, b));
const idx4 = (x: Ex): Ex => i32.shl(x, i32.const(2));

/** Adds `gemm_micro`, `gemm_packA`, `gemm_packB` (internal) and the exported `gemm`. Returns `gemm`. */
export function addGemm(mb: ModuleBuilder, cfg: GemmConfig): Func {
  const { MR, NV, KC, MC, NC, relaxed } = cfg;
  const NR = 4 * NV;
  if (MC % MR !== 0 || NC % NR !== 0) throw new Error(`gemm config: MC ${MC} must be a multiple of MR ${MR} and NC ${NC} of NR ${NR}`);
  const fma = (a: Ex, b: Ex, c: Ex): Ex => (relaxed ? f32x4.relaxed_madd(a, b, c) : f32x4.add(f32x4.mul(a, b), c));

  // ---------------------------------------------------------------- micro-kernel
  // micro(pa, pb, kb, c, ldc_bytes, accumulate, bias): bias 0, or the address of the tile's NR
  // bias values, added to each stored value as a separate rounding (the last K block's call)
  const micro = mb.func('gemm_micro', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], false);
  {
    const [pa, pb, kb, c, ldc, accum, bias] = [0, 1, 2, 3, 4, 5, 6];
    const acc: number[][] = [];
    for (let r = 0; r < MR; r++) acc.push(Array.from({ length: NV }, () => micro.local('v128')));
    const bv = Array.from({ length: NV }, () => micro.local('v128'));
    const a = micro.local('v128');
    const paEnd = micro.local('i32');
    const crow = micro.local('i32');
    // one step of k: NV vectors of B, then per row one broadcast A element and NV multiply-adds
    const step = (): Ex[] => {
      const out: Ex[] = [];
      for (let v = 0; v < NV; v++) out.push(set(bv[v]!, v128.load(get(pb), 16 * v)));
      for (let r = 0; r < MR; r++) {
        out.push(set(a, v128.load32_splat(get(pa), 4 * r)));
        for (let v = 0; v < NV; v++) out.push(set(acc[r]![v]!, fma(get(a), get(bv[v]!), get(acc[r]![v]!))));
      }
      return out;
    };
    const bb = Array.from({ length: NV }, () => micro.local('v128'));
    // the tile's stores: C = C + acc (accumulate) or acc, and with a bias then + b as a separate
    // rounding (fl(fl(C + acc) + b) or fl(acc + b): what the separate add kernel computes)
    const storeTile = (withBias: boolean): Ex[] => {
      const out: Ex[] = withBias ? bb.map((v, i) => set(v, v128.load(get(bias), 16 * i))) : [];
      const plusBias = (x: Ex, v: number): Ex => (withBias ? f32x4.add(x, get(bb[v]!)) : x);
      for (let r = 0; r < MR; r++) {
        for (let v = 0; v < NV; v++) {
          out.push(
            ifThen(
              get(accum),
              [v128.store(get(crow), plusBias(f32x4.add(v128.load(get(crow), 16 * v), get(acc[r]![v]!)), v), 16 * v)],
              [v128.store(get(crow), plusBias(get(acc[r]![v]!), v), 16 * v)],
            ),
          );
        }
        out.push(set(crow, i32.add(get(crow), get(ldc))));
      }
      return out;
    };
    // One loop over k, not unrolled: TurboFan hoists the loads of an unrolled body and then
    // spills accumulators; a second (remainder) loop after it also made it spill (measured).
    micro.emit(
      ...acc.flat().map((l) => set(l, f32x4.const(0))),
      set(paEnd, i32.add(get(pa), i32.mul(get(kb), i32.const(MR * 4)))),
      block(
        brIf(0, i32.ge_u(get(pa), get(paEnd))),
        loop(
          ...step(),
          set(pa, i32.add(get(pa), i32.const(MR * 4))),
          set(pb, i32.add(get(pb), i32.const(NR * 4))),
          brIf(0, i32.lt_u(get(pa), get(paEnd))),
        ),
      ),
      set(crow, get(c)),
      ifThen(get(bias), storeTile(true), storeTile(false)),
    );
  }

  // ---------------------------------------------------------------- pack A
  // packA(A, M, K, transA, ic, pc, mb, kb, dst): panels of MR rows, k-major, zero-padded rows.
  const packA = mb.func('gemm_packA', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], false);
  {
    const [A, M, K, tA, ic, pc, mbl, kb, dst] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const p = packA.local('i32'); // panel start row (relative)
    const r = packA.local('i32');
    const k = packA.local('i32');
    const src = packA.local('i32');
    const d = packA.local('i32');
    const rows = packA.local('i32'); // valid rows in this panel
    const rowStride = packA.local('i32'); // bytes between consecutive k for one row (normal: 4; trans: 4M)
    const kStride = packA.local('i32');
    packA.emit(
      // normal: A[i,k] at (i*K + k); trans: A[i,k] at (k*M + i)
      set(kStride, select(idx4(get(M)), i32.const(4), get(tA))),
      set(rowStride, select(i32.const(4), idx4(get(K)), get(tA))),
      forLoop(p, i32.const(0), get(mbl), MR,
        set(rows, min(i32.const(MR), i32.sub(get(mbl), get(p)))),
        ifThen(
          i32.and(get(tA), i32.eq(get(rows), i32.const(MR))),
          [
            // transposed and full: MR contiguous floats per k
            set(src, i32.add(get(A), idx4(i32.add(i32.mul(get(pc), get(M)), i32.add(get(ic), get(p)))))),
            set(d, i32.add(get(dst), i32.mul(get(p), i32.shl(get(kb), i32.const(2))))),
            forLoop(k, i32.const(0), get(kb), 1,
              ...(MR % 4 === 0
                ? Array.from({ length: MR / 4 }, (_, q) => v128.store(get(d), v128.load(get(src), 16 * q), 16 * q))
                : Array.from({ length: MR }, (_, q) => f32.store(get(d), f32.load(get(src), 4 * q), 4 * q))),
              set(src, i32.add(get(src), get(kStride))),
              set(d, i32.add(get(d), i32.const(MR * 4))),
            ),
          ],
          [
            forLoop(r, i32.const(0), i32.const(MR), 1,
              set(d, i32.add(i32.add(get(dst), i32.mul(get(p), i32.shl(get(kb), i32.const(2)))), idx4(get(r)))),
              ifThen(
                i32.lt_s(get(r), get(rows)),
                [
                  // row ic+p+r, k from pc
                  set(src, i32.add(get(A), i32.add(i32.mul(i32.add(get(ic), i32.add(get(p), get(r))), get(rowStride)), i32.mul(get(pc), get(kStride))))),
                  forLoop(k, i32.const(0), get(kb), 1,
                    f32.store(get(d), f32.load(get(src))),
                    set(src, i32.add(get(src), get(kStride))),
                    set(d, i32.add(get(d), i32.const(MR * 4))),
                  ),
                ],
                [
                  forLoop(k, i32.const(0), get(kb), 1,
                    f32.store(get(d), f32.const(0)),
                    set(d, i32.add(get(d), i32.const(MR * 4))),
                  ),
                ],
              ),
            ),
          ],
        ),
      ),
    );
  }

  // ---------------------------------------------------------------- pack B
  // packB(B, N, K, transB, pc, jc, kb, nb, dst): panels of NR columns, k-major, zero-padded columns.
  const packB = mb.func('gemm_packB', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], false);
  {
    const [B, N, K, tB, pc, jc, kb, nb, dst] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const q = packB.local('i32');
    const cc = packB.local('i32');
    const k = packB.local('i32');
    const src = packB.local('i32');
    const d = packB.local('i32');
    const cols = packB.local('i32');
    const kStride = packB.local('i32');
    const colStride = packB.local('i32');
    packB.emit(
      // normal: B[k,j] at (k*N + j); trans: B[k,j] at (j*K + k)
      set(kStride, select(i32.const(4), idx4(get(N)), get(tB))),
      set(colStride, select(idx4(get(K)), i32.const(4), get(tB))),
      forLoop(q, i32.const(0), get(nb), NR,
        set(cols, min(i32.const(NR), i32.sub(get(nb), get(q)))),
        ifThen(
          i32.and(i32.eqz(get(tB)), i32.eq(get(cols), i32.const(NR))),
          [
            set(src, i32.add(get(B), idx4(i32.add(i32.mul(get(pc), get(N)), i32.add(get(jc), get(q)))))),
            set(d, i32.add(get(dst), i32.mul(get(q), i32.shl(get(kb), i32.const(2))))),
            forLoop(k, i32.const(0), get(kb), 1,
              ...Array.from({ length: NV }, (_, v) => v128.store(get(d), v128.load(get(src), 16 * v), 16 * v)),
              set(src, i32.add(get(src), get(kStride))),
              set(d, i32.add(get(d), i32.const(NR * 4))),
            ),
          ],
          [
            forLoop(cc, i32.const(0), i32.const(NR), 1,
              set(d, i32.add(i32.add(get(dst), i32.mul(get(q), i32.shl(get(kb), i32.const(2)))), idx4(get(cc)))),
              ifThen(
                i32.lt_s(get(cc), get(cols)),
                [
                  set(src, i32.add(get(B), i32.add(i32.mul(i32.add(get(jc), i32.add(get(q), get(cc))), get(colStride)), i32.mul(get(pc), get(kStride))))),
                  forLoop(k, i32.const(0), get(kb), 1,
                    f32.store(get(d), f32.load(get(src))),
                    set(src, i32.add(get(src), get(kStride))),
                    set(d, i32.add(get(d), i32.const(NR * 4))),
                  ),
                ],
                [
                  forLoop(k, i32.const(0), get(kb), 1,
                    f32.store(get(d), f32.const(0)),
                    set(d, i32.add(get(d), i32.const(NR * 4))),
                  ),
                ],
              ),
            ),
          ],
        ),
      ),
    );
  }

  // ---------------------------------------------------------------- driver
  // gemm(A, B, C, M, N, K, transA, transB, m0, m1, n0, n1, scratch, bias)
  // scratch: packA block, then packB block, then one C tile (see gemmScratchBytes)
  // bias: 0, or the address of N floats added to every row of C after its last K block, as a
  // separate rounding (C = fl(fl(A·B) + bias): what matmul then add computes, bit for bit)
  const g = mb.func('gemm', Array(14).fill('i32'), []);
  {
    const [A, B, C, M, N, K, tA, tB, m0, m1, n0, n1, scratch, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
    const sz = gemmScratchBytes(cfg);
    const bufA = g.local('i32');
    const bufB = g.local('i32');
    const tile = g.local('i32');
    const jc = g.local('i32');
    const pc = g.local('i32');
    const ic = g.local('i32');
    const jr = g.local('i32');
    const ir = g.local('i32');
    const nb = g.local('i32');
    const kb = g.local('i32');
    const mbl = g.local('i32');
    const accum = g.local('i32');
    const pa = g.local('i32');
    const pb = g.local('i32');
    const cp = g.local('i32');
    const rr = g.local('i32');
    const cc = g.local('i32');
    const rows = g.local('i32');
    const cols = g.local('i32');
    const ldcB = g.local('i32');
    const dstp = g.local('i32');
    const srcp = g.local('i32');
    const addBias = g.local('i32');
    g.emit(
      set(bufA, get(scratch)),
      set(bufB, i32.add(get(scratch), i32.const(sz.packA))),
      set(tile, i32.add(get(bufB), i32.const(sz.packB))),
      set(ldcB, idx4(get(N))),
      forLoop(jc, get(n0), get(n1), NC,
        set(nb, min(i32.const(NC), i32.sub(get(n1), get(jc)))),
        forLoop(pc, i32.const(0), get(K), KC,
          set(kb, min(i32.const(KC), i32.sub(get(K), get(pc)))),
          set(accum, i32.gt_s(get(pc), i32.const(0))),
          set(addBias, i32.and(i32.ne(get(bias), i32.const(0)), i32.ge_s(i32.add(get(pc), i32.const(KC)), get(K)))),
          call(packB.index, get(B), get(N), get(K), get(tB), get(pc), get(jc), get(kb), get(nb), get(bufB)),
          forLoop(ic, get(m0), get(m1), MC,
            set(mbl, min(i32.const(MC), i32.sub(get(m1), get(ic)))),
            call(packA.index, get(A), get(M), get(K), get(tA), get(ic), get(pc), get(mbl), get(kb), get(bufA)),
            forLoop(jr, i32.const(0), get(nb), NR,
              set(pb, i32.add(get(bufB), i32.mul(get(jr), i32.shl(get(kb), i32.const(2))))),
              set(cols, min(i32.const(NR), i32.sub(get(nb), get(jr)))),
              forLoop(ir, i32.const(0), get(mbl), MR,
                set(pa, i32.add(get(bufA), i32.mul(get(ir), i32.shl(get(kb), i32.const(2))))),
                set(rows, min(i32.const(MR), i32.sub(get(mbl), get(ir)))),
                set(cp, i32.add(get(C), idx4(i32.add(i32.mul(i32.add(get(ic), get(ir)), get(N)), i32.add(get(jc), get(jr)))))),
                ifThen(
                  i32.and(i32.eq(get(rows), i32.const(MR)), i32.eq(get(cols), i32.const(NR))),
                  [call(micro.index, get(pa), get(pb), get(kb), get(cp), get(ldcB), get(accum),
                    select(i32.add(get(bias), idx4(i32.add(get(jc), get(jr)))), i32.const(0), get(addBias)))],
                  [
                    // edge tile: compute into scratch, then copy (or add) the valid part, and the bias
                    call(micro.index, get(pa), get(pb), get(kb), get(tile), i32.const(NR * 4), i32.const(0), i32.const(0)),
                    forLoop(rr, i32.const(0), get(rows), 1,
                      set(dstp, i32.add(get(cp), i32.mul(get(rr), get(ldcB)))),
                      set(srcp, i32.add(get(tile), i32.mul(get(rr), i32.const(NR * 4)))),
                      forLoop(cc, i32.const(0), get(cols), 1,
                        f32.store(
                          get(dstp),
                          select(f32.add(f32.load(get(dstp)), f32.load(get(srcp))), f32.load(get(srcp)), get(accum)),
                        ),
                        ifThen(get(addBias), [
                          f32.store(get(dstp), f32.add(f32.load(get(dstp)), f32.load(i32.add(get(bias), idx4(i32.add(i32.add(get(jc), get(jr)), get(cc))))))),
                        ]),
                        set(dstp, i32.add(get(dstp), i32.const(4))),
                        set(srcp, i32.add(get(srcp), i32.const(4))),
                      ),
                    ),
                  ],
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }
  return g;
}

/**
 * `gemm_dyn(A, B, C, M, N, K, transA, transB, scratch, counter, chunk, byCols, nbatch, strideA, strideB, bias)`:
 * the work of a (batched) matmul as items — per batch matrix, ranges of `chunk` columns (byCols)
 * or rows — that every thread running this function claims one at a time with an atomic
 * fetch-and-add on the shared `counter` (zeroed by the caller). A thread that is descheduled
 * (a busy machine) holds up at most one item instead of a fixed half of the work. Batch matrices
 * advance by fixed strides (elements; 0 for a broadcast operand). Which thread computes an item
 * does not change its result.
 */
export function addGemmDyn(mb: ModuleBuilder, gemm: Func): Func {
  const f = mb.func('gemm_dyn', Array(16).fill('i32'), []);
  const [A, B, C, M, N, K, tA, tB, scratch, counter, chunk, byCols, nbatch, sA, sB, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const item = f.local('i32'), per = f.local('i32'), b = f.local('i32'), s = f.local('i32'), e = f.local('i32'), extent = f.local('i32');
  f.emit(
    set(extent, select(get(N), get(M), get(byCols))),
    set(per, i32.div_u(i32.sub(i32.add(get(extent), get(chunk)), i32.const(1)), get(chunk))),
    block(
      loop(
        set(item, i32.atomic_rmw_add(get(counter), i32.const(1))),
        brIf(1, i32.ge_u(get(item), i32.mul(get(per), get(nbatch)))),
        set(b, i32.div_u(get(item), get(per))),
        set(s, i32.mul(i32.rem_u(get(item), get(per)), get(chunk))),
        set(e, min(i32.add(get(s), get(chunk)), get(extent))),
        call(gemm.index,
          i32.add(get(A), idx4(i32.mul(get(b), get(sA)))),
          i32.add(get(B), idx4(i32.mul(get(b), get(sB)))),
          i32.add(get(C), idx4(i32.mul(get(b), i32.mul(get(M), get(N))))),
          get(M), get(N), get(K), get(tA), get(tB),
          select(i32.const(0), get(s), get(byCols)), select(get(M), get(e), get(byCols)),
          select(get(s), i32.const(0), get(byCols)), select(get(e), get(N), get(byCols)),
          get(scratch),
          get(bias),
        ),
        br(0),
      ),
    ),
  );
  return f;
}
