/**
 * Driver of gsaeTopkIndices (ops/gsae_topk.ts; the kernel and its proof: kernels/gsae_topk.ts).
 * float32 only (other dtypes decline to the reference kernel). Steps, rows split over threads:
 *  1. `sumsq_rows` on g and W: ‖g_b‖² and ‖w_i‖² in float32;
 *  2. here, per row: the proven bound A_b ≥ |fl(a_bi)| and F_b = fl(1 + fl(β·A_b)) (F_b = 0
 *     marks a row whose bound is not finite: no screening);
 *  3. `gsae_select_rows`, per row: a lower bound of the k-th largest z from block maxima, the
 *     threshold τ_b, candidates, their exact scores, the top k (a NaN in z: the driver declines
 *     to the reference kernel, which reports it where the dense topk of s would).
 */
import type { TensorRef } from '../../../backend.js';
import { BackendError } from '../../../errors.js';
import { topkNanError } from '../../reference/structural.js';
import type { WasmBackend, WasmKernel } from '../backend.js';
import { gsaeSelectScratch } from '../kernels/gsae_topk.js';
import { splitRange } from './layout.js';

const U = 2 ** -24; // float32 unit roundoff
const TINY = 2 ** -149; // smallest float32 subnormal

/** γ_n = n·u / (1 − n·u): the relative error bound of n float32 roundings in a sum of products. */
const gamma = (n: number): number => (n * U) / (1 - n * U);

const f32buf = new Float32Array(1);
const i32buf = new Int32Array(f32buf.buffer);
/** The least float32 ≥ v (v ≥ 0 finite, or +Inf). */
function roundUp32(v: number): number {
  f32buf[0] = v;
  if (f32buf[0]! < v) i32buf[0]!++;
  return f32buf[0]!;
}

/**
 * Upper bound of Σ x² from its float32 sum of n squares (each square and each addition rounded:
 * n + 1 roundings per term, plus underflow of the squares).
 */
const sumsqUpper = (s: number, n: number): number => s * (1 + 2 * gamma(n + 2)) + 2 * n * TINY;

export const gsaeTopkDrivers: Record<string, WasmKernel> = {
  gsaeTopkIndices: (be: WasmBackend, [z, g, w]: readonly TensorRef[], [y]: readonly TensorRef[], attrs) => {
    if (z!.dtype !== 'float32' || g!.dtype !== 'float32' || w!.dtype !== 'float32') return false;
    const [B, m] = z!.shape as [number, number];
    const d = g!.shape[1]!;
    const k = attrs.k as number;
    if (B === 0 || m === 0) return true;
    const beta = Math.fround(attrs.beta as number); // the float32 β the dense path's scalar tensor holds
    const rowRanges = splitRange(B, be.threadsFor(B * m, 1 << 15));
    const selPer = gsaeSelectScratch(m, k);
    // the threshold's blocks: about 4k blocks of a multiple of 4 latents, or single latents
    const bs = k > 0 && 16 * k <= m ? 4 * Math.floor(m / (16 * k)) : 1;
    // scratch: ‖g_b‖² [B] | ‖w_i‖² [m] | F [B] | per-thread select scratch
    const oG = 0, oW = oG + 4 * B, oF = oW + 4 * m, oSel = oF + 4 * B;
    return be.withScratch(oSel + selPer * rowRanges.length, (base) => {
      // 1. squared norms
      be.parallel('sumsq_rows', rowRanges.map(([r0, r1]) => [be.off(g!), base + oG, d, r0, r1]));
      be.parallel('sumsq_rows', splitRange(m, be.threadsFor(m * d, 1 << 16)).map(([r0, r1]) => [be.off(w!), base + oW, d, r0, r1]));
      // 2. per-row bound F_b (views made after every allocation)
      const buf = be.wasmMemory.buffer;
      const g2 = new Float32Array(buf, base + oG, B);
      const w2 = new Float32Array(buf, base + oW, m);
      const Fs = new Float32Array(buf, base + oF, B);
      let wmax = 0;
      for (let i = 0; i < m; i++) {
        const v = w2[i]!;
        if (v !== v) { // a NaN row: no finite bound, every row runs unscreened
          wmax = NaN;
          break;
        }
        if (v > wmax) wmax = v;
      }
      const n = 2 * d + 2 * Math.ceil(d / be.gemm.KC) + 2;
      const wNorm = Math.sqrt(sumsqUpper(wmax, d));
      for (let r = 0; r < B; r++) {
        const A = roundUp32((1 + gamma(n)) * Math.sqrt(sumsqUpper(g2[r]!, d)) * wNorm * (1 + 1e-12) + n * TINY);
        // F_b = fl(1 + fl(β·A)): the dense path's float32 operations at the bound
        const F = Math.fround(1 + Math.fround(beta * A));
        Fs[r] = Number.isFinite(F) ? F : 0; // 0: all mode, every latent scored exactly
      }
      // 3. per row: the k-th largest z, the threshold, candidates, exact scores, top k
      const errs = rowRanges.map((_, t) => base + oSel + (t + 1) * selPer - 16);
      for (const e of errs) new Int32Array(buf, e, 3).fill(0);
      be.parallel('gsae_select_rows', rowRanges.map(([r0, r1], t) => [
        be.off(z!), be.off(g!), be.off(w!), be.off(y!), m, d, k, r0, r1, base + oF, bs, base + oSel + t * selPer, errs[t]!, beta,
      ]));
      for (const e of errs) {
        const v = new Int32Array(be.wasmMemory.buffer, e, 3);
        if (v[0] === 3) return false; // NaN in z: the reference kernel reports it as the dense path would
        if (v[0] === 1) throw topkNanError(v[1]!, v[2]!);
        if (v[0] === 2) throw new BackendError(`gsaeTopkIndices: internal error, row ${v[1]} kept ${v[2]} candidates for k = ${k} (the screening bound is violated)`);
      }
      return true;
    });
  },
};
