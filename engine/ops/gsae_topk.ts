/**
 * gsaeTopkIndices: the g-SAE's selection (METHODS §1.3) as one primitive,
 *
 *   gsaeTopkIndices(z [B, m], g [B, d], W [m, d], k, β) = topkIndices(z ⊙ (1 + β·|g @ Wᵀ|), k)
 *
 * bit for bit what the composite `topkIndices(mul(z, add(1, mul(abs(matmul(g, W, false, true)),
 * β))), k)` gives on the same backend (ties to the lower index, NaN refused as topk refuses it).
 * It exists so that a backend can rank without the dense product a = g @ Wᵀ (2·B·d·m FLOP): the
 * wasm kernel bounds |a| by Cauchy–Schwarz, keeps only the latents whose score bound can reach
 * the k-th lower bound, and computes their a exactly in the GEMM's own summation order
 * (engine/backends/wasm/kernels/gsae_topk.ts has the proof). The reference kernel is the
 * composite itself.
 *
 * β must be ≥ 0 (the score's bound uses 1 ≤ 1 + β|a|); the g-SAE's β is validated ≥ 0 anyway.
 */
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { registerOp, type TensorMeta } from './registry.js';
import { requireArity, requireFloat, run1 } from './util.js';

export interface GsaeTopkAttrs {
  readonly [key: string]: unknown;
  readonly k: number;
  readonly beta: number;
}

registerOp<GsaeTopkAttrs>({
  name: 'gsaeTopkIndices',
  infer(inputs, attrs) {
    requireArity('gsaeTopkIndices', inputs, 3);
    const [z, g, w] = inputs as [TensorMeta, TensorMeta, TensorMeta];
    for (const [t, what] of [[z, 'z'], [g, 'g'], [w, 'W']] as const) requireFloat('gsaeTopkIndices', t, what);
    const desc = () => `z ${fmtShape(z.shape)}, g ${fmtShape(g.shape)}, W ${fmtShape(w.shape)}`;
    if (z.shape.length !== 2 || g.shape.length !== 2 || w.shape.length !== 2) {
      throw new ShapeError(`gsaeTopkIndices: z [B, m], g [B, d] and W [m, d] must be matrices, got ${desc()}`);
    }
    const [B, m] = z.shape as [number, number];
    if (g.shape[0] !== B || w.shape[0] !== m || w.shape[1] !== g.shape[1]) {
      throw new ShapeError(`gsaeTopkIndices: shapes disagree (want z [B, m], g [B, d], W [m, d]), got ${desc()}`);
    }
    if (g.dtype !== z.dtype || w.dtype !== z.dtype) throw new DTypeError(`gsaeTopkIndices: z, g and W must share one dtype, got ${z.dtype}, ${g.dtype}, ${w.dtype}`);
    if (!Number.isInteger(attrs.k) || attrs.k < 0 || attrs.k > m) throw new ShapeError(`gsaeTopkIndices: k = ${attrs.k} must be an integer in [0, ${m}] for z ${fmtShape(z.shape)}`);
    if (!(Number.isFinite(attrs.beta) && attrs.beta >= 0)) throw new ShapeError(`gsaeTopkIndices: β = ${attrs.beta} must be a finite number ≥ 0`);
    return [{ shape: [B, attrs.k], dtype: 'int32' }];
  },
  notDifferentiable: 'returns integer indices (the g-SAE takes its values at them with gather ops)',
});

/** Indices of the k largest s = z ⊙ (1 + β|g Wᵀ|) of each row, descending, ties to the lower index. */
export function gsaeTopkIndices(z: Tensor, g: Tensor, W: Tensor, k: number, beta: number): Tensor {
  return run1('gsaeTopkIndices', [z, g, W], { k, beta });
}
