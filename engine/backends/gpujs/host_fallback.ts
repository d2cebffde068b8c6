/**
 * What an op runs when it has no gpu.js kernel here (or its preconditions fail): the reference
 * backend's kernel on host copies of its inputs; for a fused jit program, the reference kernel of
 * each of its ops in turn. The backend downloads the inputs, uploads the results (where int32
 * results are checked against ±2^24) and counts each fallback by op and reason.
 */
import type { Attrs } from '../../backend.js';
import { allocArray } from '../../dtype.js';
import { BackendError } from '../../errors.js';
import { sizeOf } from '../../shape.js';
import { referenceKernels } from '../reference/index.js';
import type { Kernel, View as HostView } from '../reference/view.js';
import { FUSED_OP, type FusedProgram } from './fuse.js';

/** The host kernel of `op`, or undefined if the reference backend has none. */
export function hostKernel(op: string): Kernel | undefined {
  return op === FUSED_OP ? fusedOnHost : referenceKernels[op];
}

/** A fused program on the host: the reference kernel of each node in turn (the fallback of a fused launch). */
function fusedOnHost(ins: readonly HostView[], outs: readonly HostView[], attrs: Attrs): void {
  const prog = attrs.program as FusedProgram;
  const out = outs[0]!;
  const vals: HostView[] = [];
  prog.nodes.forEach((n, j) => {
    const args = n.args.map((r): HostView => ('t' in r ? ins[r.t]! : 's' in r ? { data: Float32Array.of(prog.scalars[r.s]!), shape: [], dtype: 'float32' } : vals[r.n]!));
    const res: HostView = j === prog.nodes.length - 1 ? out : { data: allocArray('float32', sizeOf(out.shape)), shape: out.shape, dtype: 'float32' };
    const k = referenceKernels[n.op];
    if (!k) throw new BackendError(`gpujs: no reference kernel for fused '${n.op}'`);
    k(args, [res], n.attrs);
    vals.push(res);
  });
}
