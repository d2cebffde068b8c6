/**
 * A fused optimiser primitive: one Adam/AdamW step for one parameter tensor, as one kernel pass
 * instead of the ~13 elementwise passes of its composite form (sae/adam.ts), which dominate a
 * training step once the model's matmuls are sparse (each pass streams a [d, m] tensor).
 *
 *   m' = m + (g − m)·(1 − β1)                      (torch's lerp)
 *   v' = v·β2 + g²·(1 − β2)
 *   p' = base − stepSize · m' / (sqrt(v') / sqrtBc2 + ε),  base = p·decay if `decoupledDecay`, else p
 *
 * stepSize, sqrtBc2 and decay are 0-d tensors (they change every step; one compiled plan serves
 * all steps); β1, β2, ε are attributes. Every operation is rounded to the dtype in the order
 * written (constants 1 − β1, β2, 1 − β2, ε first rounded to the dtype, as a 0-d tensor of them
 * would be), so the result is bit-identical to the composite of elementwise ops.
 */
import { ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { dispatch } from '../engine.js';
import { registerOp, type TensorMeta } from './registry.js';
import { requireArity, requireFloat } from './util.js';

export interface AdamStepAttrs {
  readonly [key: string]: unknown;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly decoupledDecay: boolean;
}

registerOp<AdamStepAttrs>({
  name: 'adamStep',
  infer(inputs, attrs) {
    requireArity('adamStep', inputs, 7);
    const [p, g, m, v, ...scalars] = inputs as TensorMeta[];
    const names = ['param', 'grad', 'm', 'v'];
    [p!, g!, m!, v!].forEach((t, i) => {
      requireFloat('adamStep', t, names[i]);
      if (t.dtype !== p!.dtype) throw new ShapeError(`adamStep: ${names[i]} is ${t.dtype} but the parameter is ${p!.dtype}`);
      if (t.shape.length !== p!.shape.length || t.shape.some((d, j) => d !== p!.shape[j])) {
        throw new ShapeError(`adamStep: ${names[i]} ${fmtShape(t.shape)} must have the parameter's shape ${fmtShape(p!.shape)}`);
      }
    });
    ['stepSize', 'sqrtBc2', 'decay'].forEach((n, i) => {
      const s = scalars[i]!;
      if (s.shape.length !== 0 || s.dtype !== p!.dtype) throw new ShapeError(`adamStep: ${n} must be a 0-d ${p!.dtype} tensor, got ${fmtShape(s.shape)} ${s.dtype}`);
    });
    for (const k of ['beta1', 'beta2', 'eps'] as const) {
      if (typeof attrs[k] !== 'number' || !Number.isFinite(attrs[k])) throw new ShapeError(`adamStep: ${k} must be a finite number, got ${String(attrs[k])}`);
    }
    return [p!, p!, p!].map((t) => ({ shape: t.shape, dtype: t.dtype }));
  },
  notDifferentiable: 'an optimiser update: it runs after the gradient is taken, never inside one',
});

/** One Adam step for one tensor: returns the new parameter and moments (see the file comment). */
export function adamStep(
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  scalars: { stepSize: Tensor; sqrtBc2: Tensor; decay: Tensor },
  hyper: { beta1: number; beta2: number; eps: number; decoupledDecay: boolean },
): { p: Tensor; m: Tensor; v: Tensor } {
  const [p1, m1, v1] = dispatch('adamStep', [p, g, m, v, scalars.stepSize, scalars.sqrtBc2, scalars.decay], { ...hyper }) as [Tensor, Tensor, Tensor];
  return { p: p1, m: m1, v: v1 };
}
