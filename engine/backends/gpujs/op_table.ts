/**
 * The op table: for each primitive, the gpu.js kernel plan that computes it (with the int32 bounds
 * of its result), a zero-copy alias, or the reason it must run on the host instead.
 */
import type { Attrs, TensorRef } from '../../backend.js';
import { sizeOf } from '../../shape.js';
import type { MatmulAttrs } from '../../ops/matmul.js';
import { viewOf } from './codegen.js';
import { FUSED_OP, type FusedProgram } from './fuse.js';
import { exact, indexRangeProblem, intBinaryRange, scatterRange, union, type Range } from './int_bounds.js';
import {
  argmaxKernel,
  arangeKernel,
  binaryKernel,
  concatKernel,
  copyKernel,
  fullKernel,
  fusedKernel,
  gatherKernel,
  matmulKernel,
  padKernel,
  reduceKernel,
  relayoutKernel,
  scatterAddAlongAxisKernel,
  scatterAddKernel,
  sliceKernel,
  takeAlongAxisKernel,
  transposeKernel,
  unaryKernel,
  whereKernel,
  type KernelPlan,
} from './kernels.js';
import type { CodegenOptions } from './elementwise_math.js';
import type { DeviceBuffer } from './residency.js';

/**
 * Ops that run as gpu.js kernels (reshape and stopGradient as zero-copy aliases) whenever their
 * preconditions hold: 44 of the engine's 50 primitives. The preconditions that send an op to the
 * host instead: int32 results that could leave ±2^24, indices not proven in range, a float → int32
 * cast, gather-style scatterAdd above its work bound, concat of more than 8 tensors.
 */
export const NATIVE_OPS: readonly string[] = [
  'neg', 'exp', 'log', 'tanh', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'gelu', 'geluGrad', 'heaviside',
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'equal', 'notEqual', 'greater', 'greaterEqual', 'less', 'lessEqual',
  'where', 'cast', 'sum', 'max', 'argmax',
  'reshape', 'stopGradient', 'transpose', 'slice', 'pad', 'concat', 'broadcastTo',
  'matmul', 'gather', 'scatterAdd', 'takeAlongAxis', 'scatterAddAlongAxis', 'full', 'arange',
];
/**
 * Ops that always run the reference kernel on the host (counted in `fallbacks()`): topk (sorting),
 * the sparse row primitives (data-dependent gathers/scatters over k ≪ m picks: small work, and
 * scatterOuter's accumulation has no gather-form kernel here), the multi-output adamStep and
 * gsaeTopkIndices (a ranking, like topk; the reference kernel is its dense definition).
 */
export const HOST_OPS: readonly string[] = ['topkIndices', 'gatherDot', 'embeddingBag', 'scatterOuter', 'adamStep', 'gsaeTopkIndices'];

/** Why an op ran on the reference kernel instead. */
export class Fallback {
  constructor(readonly reason: string) {}
}

export type NativeResult = { plan: KernelPlan; range?: Range } | { alias: TensorRef; range?: Range } | Fallback;

/** scatterAdd is written gather-style (|out| × |indices| reads); above this it falls back. */
const SCATTER_WORK_LIMIT = 2 ** 26;

/**
 * How one single-output op runs: a kernel plan, an alias of its input's storage, or a Fallback.
 * `gl`: storage is textures laid out per view (a reshape that changes the last axis re-lays it).
 */
export function planOp(op: string, ins: readonly TensorRef[], out: TensorRef, attrs: Attrs, gl: boolean, cg: CodegenOptions): NativeResult {
  const range = (t: TensorRef | undefined): Range => (t?.buf as DeviceBuffer | undefined)?.range ?? [0, 0];
  const isInt = out.dtype === 'int32';
  const [x, y, z] = ins;
  switch (op) {
    case FUSED_OP: {
      const prog = attrs.program as FusedProgram;
      const ref = (r: FusedProgram['nodes'][number]['args'][number]) => ('t' in r ? `x${r.t}` : 's' in r ? `s${r.s}` : `y${r.n}`);
      const p = fusedKernel(out.shape, ins.map((t) => t.shape), prog.scalars, prog.nodes.map((n) => ({ op: n.op, args: n.args.map(ref) })), cg);
      return p ? { plan: p } : new Fallback('fused program has an op without an inline form');
    }
    case 'reshape':
    case 'stopGradient': {
      // tensors are immutable, so storage can be shared; a GL texture is laid out for one
      // column count, so a reshape that changes the last axis re-lays it
      const storeHasView = !gl || (x!.buf as DeviceBuffer).store!.host || viewOf(x!.shape).C === viewOf(out.shape).C;
      if (storeHasView) return { alias: x!, range: range(x) };
      const p = relayoutKernel(x!.shape, out.shape);
      return p ? { plan: p, range: range(x) } : new Fallback('reshape of a texture whose flat offsets exceed 2^24');
    }
    case 'cast': {
      if (out.dtype === 'int32' && x!.dtype !== 'int32') return new Fallback('cast to int32 truncates values whose range is unknown on the device (checked on the host)');
      return { plan: copyKernel(out.shape, x!.shape), range: range(x) };
    }
    case 'where':
      return { plan: whereKernel(out.shape, x!.shape, y!.shape, z!.shape), range: union(range(y), range(z)) };
    case 'broadcastTo':
      return { plan: copyKernel(out.shape, x!.shape), range: range(x) };
    case 'transpose':
      return { plan: transposeKernel(x!.shape, attrs.perm as number[], out.shape), range: range(x) };
    case 'slice':
      return { plan: sliceKernel(x!.shape, attrs.begin as number[], out.shape), range: range(x) };
    case 'pad':
      return { plan: padKernel(x!.shape, attrs.before as number[], out.shape), range: union(range(x), [0, 0]) };
    case 'concat':
      if (ins.length > 8) return new Fallback(`concat of ${ins.length} tensors (kernels take at most 8 tensor arguments here)`);
      return { plan: concatKernel(ins.map((t) => t.shape), attrs.axis as number, out.shape), range: ins.map(range).reduce(union) };
    case 'sum': {
      const axes = attrs.axes as number[];
      let r: Range | undefined;
      if (isInt) {
        const n = axes.reduce((p, a) => p * x!.shape[a]!, 1);
        const [lo, hi] = range(x);
        r = [Math.min(0, n * lo), Math.max(0, n * hi)];
        if (!exact(r)) return new Fallback(`int32 sum could reach ${r[0]}..${r[1]}, beyond exact float32 integers`);
      }
      return { plan: reduceKernel('sum', x!.shape, axes, out.shape), ...(r ? { range: r } : {}) };
    }
    case 'max':
      return { plan: reduceKernel('max', x!.shape, attrs.axes as number[], out.shape), range: range(x) };
    case 'argmax':
      return { plan: argmaxKernel(x!.shape, attrs.axis as number, out.shape), range: [0, x!.shape[attrs.axis as number]! - 1] };
    case 'matmul':
      return { plan: matmulKernel(x!.shape, y!.shape, attrs as unknown as MatmulAttrs, out.shape) };
    case 'gather': {
      const axis = attrs.axis as number;
      const bad = indexRangeProblem(range(y), x!.shape[axis]!);
      if (bad) return new Fallback(bad);
      return { plan: gatherKernel(x!.shape, y!.shape, axis, out.shape), range: range(x) };
    }
    case 'takeAlongAxis': {
      const axis = attrs.axis as number;
      const bad = indexRangeProblem(range(y), x!.shape[axis]!);
      if (bad) return new Fallback(bad);
      return { plan: takeAlongAxisKernel(x!.shape, y!.shape, axis), range: range(x) };
    }
    case 'scatterAdd': {
      const axis = attrs.axis as number;
      const nIdx = sizeOf(y!.shape);
      const bad = indexRangeProblem(range(y), x!.shape[axis]!);
      if (bad) return new Fallback(bad);
      if (sizeOf(out.shape) * nIdx > SCATTER_WORK_LIMIT) {
        return new Fallback(`gather-style scatterAdd would read ${sizeOf(out.shape)} × ${nIdx} updates (limit ${SCATTER_WORK_LIMIT})`);
      }
      const r = isInt ? scatterRange(range(x), range(z), nIdx) : undefined;
      if (r && !exact(r)) return new Fallback(`int32 scatterAdd could reach ${r[0]}..${r[1]}`);
      return { plan: scatterAddKernel(x!.shape, y!.shape, z!.shape, axis), ...(r ? { range: r } : {}) };
    }
    case 'scatterAddAlongAxis': {
      const axis = attrs.axis as number;
      const bad = indexRangeProblem(range(y), x!.shape[axis]!);
      if (bad) return new Fallback(bad);
      const r = isInt ? scatterRange(range(x), range(z), y!.shape[axis]!) : undefined;
      if (r && !exact(r)) return new Fallback(`int32 scatterAddAlongAxis could reach ${r[0]}..${r[1]}`);
      return { plan: scatterAddAlongAxisKernel(x!.shape, y!.shape, axis), ...(r ? { range: r } : {}) };
    }
    case 'full': {
      const v = attrs.value as number;
      if (isInt && !(Number.isInteger(v) && exact([v, v]))) return new Fallback(`int32 fill value ${v} is not an integer below 2^24 (checked on the host)`);
      return { plan: fullKernel(out.shape, v), range: [v, v] };
    }
    case 'arange': {
      const start = attrs.start as number;
      const step = attrs.step as number;
      const n = attrs.n as number;
      const last = start + (n - 1) * step;
      const r: Range = [Math.min(start, last), Math.max(start, last)];
      if (isInt && !(Number.isInteger(start) && Number.isInteger(step) && exact(r))) {
        return new Fallback(`int32 arange ${start}..${last} (step ${step}) is not exact in float32 (checked on the host)`);
      }
      return { plan: arangeKernel(n, start, step), range: r };
    }
    case 'topkIndices':
      return new Fallback('no gpu.js kernel for topk (sorting); runs on the host');
    case 'gsaeTopkIndices':
      return new Fallback('no gpu.js kernel for the g-SAE ranking (a topk); runs on the host');
  }
  const u = unaryKernel(op, out.shape, cg);
  if (u) return { plan: u };
  const b = binaryKernel(op, out.shape, x?.shape ?? [], y?.shape ?? [], cg);
  if (b) {
    if (!isInt) return { plan: b };
    const r = intBinaryRange(op, range(x), range(y));
    if (!r) return new Fallback(`int32 ${op} has no exact float32 kernel`);
    if (!exact(r)) return new Fallback(`int32 ${op} could reach ${r[0]}..${r[1]}, beyond exact float32 integers (computed on the host)`);
    return { plan: b, range: r };
  }
  return new Fallback('no gpu.js kernel for this op');
}
