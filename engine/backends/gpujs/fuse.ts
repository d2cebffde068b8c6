/**
 * Elementwise fusion of jit plans (the backend's `compilePlan` hook): chains and trees of
 * elementwise launches with one output shape become one gpu.js kernel, so their intermediates are
 * never written to a texture / host array, read back, or (webasm) copied into WebAssembly memory.
 *
 * A group grows from a root (the last launch of the chain) backwards over its producers. A producer
 * joins only when
 *  - it is elementwise with a float32 result of exactly the root's shape (no recomputation of
 *    broadcast intermediates),
 *  - its output is not returned by the plan and every launch that reads it is already in the group
 *    (an intermediate that escapes is materialized by a launch of its own: fusion never crosses it),
 *  - the group stays within `maxTensors` distinct tensor arguments and `maxNodes` ops.
 * Float32 constants of one element (scalars such as a learning rate, captured at trace time) become
 * scalar kernel arguments instead of textures. Groups of one launch stay as they are.
 *
 * The fused launch reads the group's external tensors and writes the root's output slot, at the
 * root's position in the plan (every external was written before then; the members it replaces fed
 * only the group).
 */
import type { Attrs, PlanInfo, PlanStep } from '../../backend.js';
import type { Shape } from '../../shape.js';
import { sizeOf } from '../../shape.js';

/** Op name of a fused launch in a compiled plan (only the gpujs backend runs it). */
export const FUSED_OP = 'gpujs.fused';

export const FUSIBLE_UNARY: readonly string[] = ['neg', 'exp', 'log', 'tanh', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'gelu', 'geluGrad', 'heaviside'];
export const FUSIBLE_BINARY: readonly string[] = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'equal', 'notEqual', 'greater', 'greaterEqual', 'less', 'lessEqual',
];
const FUSIBLE = new Set([...FUSIBLE_UNARY, ...FUSIBLE_BINARY, 'where', 'cast']);

/** An operand of a fused node: external tensor argument i, scalar argument i, or the value of node i. */
export type FusedRef = { t: number } | { s: number } | { n: number };

export interface FusedNode {
  op: string;
  args: FusedRef[];
  attrs: Attrs;
}

/** The fused program (the fused launch's attrs): nodes in order, the last is the output. */
export interface FusedProgram {
  nodes: FusedNode[];
  /** values of the scalar arguments */
  scalars: number[];
}

export interface FuseOptions {
  /** most distinct tensor arguments of one fused kernel (GL texture units) */
  maxTensors: number;
  /** most ops in one fused kernel */
  maxNodes: number;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fusible(s: PlanStep): boolean {
  if (!FUSIBLE.has(s.op) || s.outs.length !== 1) return false;
  const m = s.outMeta[0]!;
  return m.dtype === 'float32' && sizeOf(m.shape) > 0;
}

/** Rewrites `steps` with fused launches; returns the same steps when nothing fuses. */
export function fuseElementwise(steps: readonly PlanStep[], info: PlanInfo, opts: FuseOptions): PlanStep[] {
  const producer = new Map<number, number>();
  const readers = new Map<number, Set<number>>();
  steps.forEach((s, i) => {
    for (const o of s.outs) producer.set(o, i);
    for (const x of s.ins) {
      let r = readers.get(x);
      if (!r) readers.set(x, (r = new Set()));
      r.add(i);
    }
  });
  const assigned = new Set<number>();
  /** root index → its members (sorted) */
  const groups = new Map<number, number[]>();
  for (let root = steps.length - 1; root >= 0; root--) {
    const r = steps[root]!;
    if (assigned.has(root) || !fusible(r)) continue;
    const shape = r.outMeta[0]!.shape;
    const members = new Set<number>([root]);
    const externals = (extra?: number): number => {
      const ext = new Set<number>();
      const inGroup = (slot: number) => {
        const p = producer.get(slot);
        return p !== undefined && (members.has(p) || p === extra);
      };
      for (const m of extra === undefined ? members : [...members, extra]) {
        for (const x of steps[m]!.ins) if (!inGroup(x) && !info.scalarConsts.has(x)) ext.add(x);
      }
      return ext.size;
    };
    let grew = true;
    while (grew && members.size < opts.maxNodes) {
      grew = false;
      for (const m of [...members].sort((a, b) => b - a)) {
        for (const x of steps[m]!.ins) {
          const p = producer.get(x);
          if (p === undefined || members.has(p) || assigned.has(p)) continue;
          const ps = steps[p]!;
          if (!fusible(ps) || !sameShape(ps.outMeta[0]!.shape, shape) || info.escapes.has(x)) continue;
          if (![...readers.get(x)!].every((i) => members.has(i))) continue;
          if (members.size >= opts.maxNodes || externals(p) > opts.maxTensors) continue;
          members.add(p);
          grew = true;
        }
      }
    }
    if (members.size < 2) continue;
    for (const m of members) assigned.add(m);
    groups.set(root, [...members].sort((a, b) => a - b));
  }
  if (groups.size === 0) return [...steps];
  const out: PlanStep[] = [];
  steps.forEach((s, i) => {
    const g = groups.get(i);
    if (g) out.push(fusedStep(steps, g, info));
    else if (!assigned.has(i)) out.push(s);
  });
  return out;
}

function fusedStep(steps: readonly PlanStep[], members: number[], info: PlanInfo): PlanStep {
  const nodeOf = new Map<number, number>(); // output slot → node index
  const ins: number[] = [];
  const tensorArg = new Map<number, number>();
  const scalarArg = new Map<number, number>();
  const scalars: number[] = [];
  const nodes: FusedNode[] = members.map((m, k) => {
    const s = steps[m]!;
    const args = s.ins.map((x): FusedRef => {
      const n = nodeOf.get(x);
      if (n !== undefined) return { n };
      const c = info.scalarConsts.get(x);
      if (c !== undefined) {
        let i = scalarArg.get(x);
        if (i === undefined) {
          scalarArg.set(x, (i = scalars.length));
          scalars.push(c);
        }
        return { s: i };
      }
      let i = tensorArg.get(x);
      if (i === undefined) {
        tensorArg.set(x, (i = ins.length));
        ins.push(x);
      }
      return { t: i };
    });
    nodeOf.set(s.outs[0]!, k);
    return { op: s.op, args, attrs: s.attrs };
  });
  const root = steps[members[members.length - 1]!]!;
  const program: FusedProgram = { nodes, scalars };
  return { op: FUSED_OP, ins, outs: [...root.outs], outMeta: [...root.outMeta], attrs: { program } };
}
