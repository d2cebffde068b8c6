/**
 * Reference kernel of gsaeTopkIndices (ops/gsae_topk.ts): the composite it stands for, step by
 * step with the reference's own kernels and roundings, so it is the definition the fast kernels
 * are tested against: a = g @ Wᵀ (the reference matmul), s = z ⊙ (1 + β|a|) with every
 * operation rounded to the dtype as the elementwise kernels round it (β a 0-d tensor of that
 * dtype), then the reference topk of s (ties to the lower index, NaN refused).
 */
import { allocArray } from '../../dtype.js';
import { structuralKernels } from './structural.js';
import type { Kernel } from './view.js';

export const gsaeTopkKernels: Record<string, Kernel> = {
  gsaeTopkIndices: ([z, g, w], [y], attrs) => {
    const [B, m] = z!.shape as [number, number];
    const dtype = z!.dtype;
    const a = allocArray(dtype, B * m);
    structuralKernels.matmul!([g!, w!], [{ data: a, shape: [B, m], dtype }], { transA: false, transB: true });
    // every intermediate goes through an array of the dtype, as separate elementwise ops would
    const r = allocArray(dtype, 1);
    const round = (v: number): number => ((r[0] = v), r[0]!);
    const beta = round(attrs.beta as number);
    const s = allocArray(dtype, B * m);
    const Z = z!.data;
    for (let i = 0; i < B * m; i++) s[i] = Z[i]! * round(1 + round(Math.abs(a[i]!) * beta));
    structuralKernels.topkIndices!([{ data: s, shape: [B, m], dtype }], [y!], { k: attrs.k });
  },
};
