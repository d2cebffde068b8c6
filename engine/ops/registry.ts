/**
 * The op registry: every primitive is defined exactly once, here-registered with
 *  - `infer`: its shape/dtype rule (throws ShapeError/DTypeError naming the op),
 *  - `vjp`: its vector-Jacobian product written in other ops, or `notDifferentiable` with a reason
 *    (its outputs are then constants for autodiff, as comparisons are in PyTorch),
 * and one kernel per backend (looked up by name in each backend).
 */
import type { Attrs } from '../backend.js';
import type { DType } from '../dtype.js';
import type { Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';

export interface TensorMeta {
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface VjpContext<A extends Attrs = Attrs> {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly attrs: A;
  /** One per output; null where the output received no gradient. */
  readonly cotangents: readonly (Tensor | null)[];
  /** One per input: whether its cotangent is wanted (skip the work otherwise). */
  readonly needsGrad: readonly boolean[];
}

/** Returns one cotangent per input (null/undefined = zero or not wanted), each of the input's shape. */
export type VjpRule<A extends Attrs = Attrs> = (ctx: VjpContext<A>) => readonly (Tensor | null | undefined)[];

export interface OpDef<A extends Attrs = Attrs> {
  readonly name: string;
  infer(inputs: readonly TensorMeta[], attrs: A): TensorMeta[];
  readonly vjp?: VjpRule<A>;
  /** Why gradients do not flow through this op; its outputs are treated as constants. */
  readonly notDifferentiable?: string;
}

const registry = new Map<string, OpDef>();

export function registerOp<A extends Attrs>(def: OpDef<A>): OpDef<A> {
  if (registry.has(def.name)) throw new Error(`op '${def.name}' is registered twice`);
  if (!def.vjp && !def.notDifferentiable) {
    throw new Error(`op '${def.name}' needs a vjp rule or an explicit notDifferentiable reason`);
  }
  registry.set(def.name, def as unknown as OpDef);
  return def;
}

export function getOp(name: string): OpDef {
  const d = registry.get(name);
  if (!d) throw new Error(`unknown op '${name}'`);
  return d;
}

export function allOps(): OpDef[] {
  return [...registry.values()];
}
