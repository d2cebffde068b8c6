/**
 * Matrix–vector product y = A x (A [M, K] row-major, x [K]) with the GEMM's own summation order
 * (kernels/gemm.ts), so a matmul with N = 1 gives the same bits through either kernel.
 *
 * Why: the GEMM packs A into MR-row panels and pads the single column of B to NR = 8 lanes, so
 * for N = 1 it copies all of A once and runs eight multiply-adds per useful one (a TopK SAE's
 * b_dec gradient, W_enc h: 0.7 ms at d256, 7.7 ms at d768 on 50 MB of W_enc). This kernel reads
 * A once, in place.
 *
 * The order, per element y[i] (as the GEMM sums C[i, 0]): per K-block of KC (in order) a fresh
 * accumulator from +0 updated t by t with the same multiply-add instruction (relaxed fused, or mul
 * then add), the first block's sum kept and each later block's added to it (C + acc). The GEMM's
 * lanes run along j with A[i, t] broadcast; here they run along i (four rows per f32x4, read as
 * 4×4 transposes of row loads) with x[t] broadcast. The product is the same either way, so each
 * lane's chain is the GEMM's chain bit for bit. G groups of four rows run side by side (one chain
 * is bound by the multiply-add's latency); rows past M in the last groups repeat the last row
 * and are not stored.
 *
 *   gemv(A, x, y, M, K, i0, i1)   rows i0 ≤ i < i1 of y
 */
import { block, br, brIf, f32, f32x4, forLoop, get, i32, ifThen, loop, select, set, transpose4, v128, type Ex, type ModuleBuilder } from '../encoder.js';

const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));
const minI = (a: Ex, b: Ex): Ex => select(a, b, i32.lt_s(a, b));

/** Groups of four rows per step (the driver splits rows in multiples of 4·G). */
const G = 2;
export const GEMV_ROWS = G;

export function addGemv(mb: ModuleBuilder, opts: { relaxed: boolean; KC: number }): void {
  const { relaxed, KC } = opts;
  const fma = (a: Ex, b: Ex, c: Ex): Ex => (relaxed ? f32x4.relaxed_madd(a, b, c) : f32x4.add(f32x4.mul(a, b), c));
  const f = mb.func('gemv', Array(7).fill('i32'), []);
  const [A, x, y, M, K, i0, i1] = [0, 1, 2, 3, 4, 5, 6];
  const i = f.local('i32'), t = f.local('i32'), pc = f.local('i32'), kend = f.local('i32'), last = f.local('i32'), c = f.local('i32');
  const P = Array.from({ length: 4 * G }, () => f.local('i32'));
  const ACC = Array.from({ length: G }, () => f.local('v128'));
  const RES = Array.from({ length: G }, () => f.local('v128'));
  const Wv = Array.from({ length: 4 }, () => f.local('v128'));
  const T4 = transpose4(Wv, Array.from({ length: 4 }, () => f.local('v128')));
  const xs = (off: number): Ex => v128.load32_splat(i32.add(get(x), sh2(get(t))), off);
  // t .. t + 3: per group, the four rows' loads transposed, then four multiply-adds
  const step4 = (): Ex[] => {
    const out: Ex[] = [];
    for (let g = 0; g < G; g++) {
      for (let r = 0; r < 4; r++) out.push(set(Wv[r]!, v128.load(i32.add(get(P[4 * g + r]!), sh2(get(t))))));
      // column q of the transpose: the four rows' elements at t + q
      const acc = ACC[g]!;
      out.push(...T4.setup, ...[0, 1, 2, 3].map((q) => set(acc, fma(T4.col(q), xs(4 * q), get(acc)))));
    }
    return out;
  };
  // one t: the four rows' elements gathered into lanes
  const el = (p: number): Ex => v128.load32_splat(i32.add(get(p), sh2(get(t))));
  const step1 = (): Ex[] =>
    ACC.map((acc, g) => {
      let v = el(P[4 * g]!);
      for (let r = 1; r < 4; r++) v = f32x4.replace_lane(v, r, f32x4.extract_lane(el(P[4 * g + r]!), 0));
      return set(acc, fma(v, xs(0), get(acc)));
    });
  f.emit(
    set(last, i32.sub(get(i1), i32.const(1))),
    forLoop(i, get(i0), get(i1), 4 * G,
      // row pointers; rows past i1 repeat the last row (computed, not stored)
      ...P.map((p, r) => set(p, i32.add(get(A), sh2(i32.mul(minI(i32.add(get(i), i32.const(r)), get(last)), get(K)))))),
      forLoop(pc, i32.const(0), get(K), KC,
        set(kend, minI(i32.add(get(pc), i32.const(KC)), get(K))),
        ...ACC.map((a) => set(a, f32x4.const(0))),
        set(t, get(pc)),
        block(loop(brIf(1, i32.gt_s(i32.add(get(t), i32.const(4)), get(kend))), ...step4(), set(t, i32.add(get(t), i32.const(4))), br(0))),
        block(loop(brIf(1, i32.ge_s(get(t), get(kend))), ...step1(), set(t, i32.add(get(t), i32.const(1))), br(0))),
        // the first block's sum is the value, later blocks are added to it (gemm: C + acc)
        ...RES.map((r, g) => ifThen(i32.eqz(get(pc)), [set(r, get(ACC[g]!))], [set(r, f32x4.add(get(r), get(ACC[g]!)))])),
      ),
      // store the real rows
      ...RES.flatMap((r, g) => [0, 1, 2, 3].map((l) =>
        ifThen(i32.lt_s(i32.add(get(i), i32.const(4 * g + l)), get(i1)), [
          set(c, i32.add(get(y), sh2(i32.add(get(i), i32.const(4 * g + l))))),
          f32.store(get(c), f32x4.extract_lane(get(r), l)),
        ]),
      )),
    ),
  );
}
