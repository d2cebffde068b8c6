/**
 * The wasm backend's jit plan rewrites (Backend.compilePlan). Each folds a step into the one step
 * that reads its output (`fuseIntoSoleReader`), and each gives the recorded launches' values:
 * - `fuseMatmulBias`: a `matmul` + row-vector bias `add` → one `matmulBias` launch;
 * - `fuseSumTimesZero`: `sum(mul(x, 0))` over every element → one `sumTimesZero` launch.
 */
import type { PlanInfo, PlanStep } from '../../backend.js';
import { sizeOf } from '../../shape.js';

/** Both rewrites, in turn. */
export function compileWasmPlan(steps: readonly PlanStep[], info: PlanInfo): PlanStep[] {
  return fuseSumTimesZero(fuseMatmulBias(steps, info), info);
}

/**
 * The shared mechanism: for every step `s` with one output that the plan does not return and
 * that exactly one step `reader` reads, `fuse(s, reader)` may return the step that replaces the
 * two (placed where the reader was: every input of both is written by then). Steps are
 * returned as recorded when nothing fuses.
 */
function fuseIntoSoleReader(steps: readonly PlanStep[], info: PlanInfo, fuse: (s: PlanStep, reader: PlanStep) => PlanStep | null): PlanStep[] {
  const readers = new Map<number, Set<number>>();
  steps.forEach((s, i) => {
    for (const x of s.ins) readers.set(x, (readers.get(x) ?? new Set()).add(i));
  });
  const fusedInto = new Map<number, PlanStep>(); // reader index → the fused step
  const dropped = new Set<number>(); // steps folded into their reader
  steps.forEach((s, i) => {
    if (s.outs.length !== 1 || info.escapes.has(s.outs[0]!)) return;
    const r = readers.get(s.outs[0]!);
    if (!r || r.size !== 1) return;
    const j = [...r][0]!;
    if (fusedInto.has(j)) return;
    const f = fuse(s, steps[j]!);
    if (!f) return;
    fusedInto.set(j, f);
    dropped.add(i);
  });
  if (dropped.size === 0) return [...steps];
  return steps.flatMap((s, i) => (dropped.has(i) ? [] : [fusedInto.get(i) ?? s]));
}

/**
 * fuseMatmulBias: a `matmul` whose only reader is an `add` of the same 2-D shape — a linear
 * layer's `x @ W + b`, the SAE encoder's pre-activations — becomes one `matmulBias` launch
 * (ops/matmul.ts), so the bias goes in as the GEMM stores its tiles instead of in a second pass
 * over the [M, N] product (at the SAE step's [1024, 4096] that pass was ~1 ms of ~40). The values
 * are the two launches' bit for bit. Only a float32 bias of shape [N] or [1, N] (N ≥ 2) is fused;
 * the driver still checks the shapes it is given.
 */
export function fuseMatmulBias(steps: readonly PlanStep[], info: PlanInfo): PlanStep[] {
  return fuseIntoSoleReader(steps, info, (s, add) => {
    const out = s.outs[0]!;
    const meta = s.outMeta[0]!;
    if (s.op !== 'matmul' || meta.dtype !== 'float32' || meta.shape.length !== 2) return null;
    if (add.op !== 'add' || add.ins.length !== 2 || add.outs.length !== 1) return null;
    const at = add.ins.indexOf(out);
    const bias = add.ins[1 - at]!;
    if (bias === out) return null; // add(y, y)
    const am = add.outMeta[0]!;
    if (am.dtype !== 'float32' || am.shape.length !== 2 || am.shape[0] !== meta.shape[0] || am.shape[1] !== meta.shape[1]) return null;
    // a row vector [N] or [1, N] (not another [M, N] term, e.g. a gradient being summed)
    const bm = info.slotMeta.get(bias);
    const N = meta.shape[1]!;
    if (!bm || bm.dtype !== 'float32' || !(bm.shape.length === 1 || (bm.shape.length === 2 && bm.shape[0] === 1)) || bm.shape[bm.shape.length - 1] !== N || N < 2) return null;
    return { op: 'matmulBias', ins: [...s.ins, bias], outs: add.outs, outMeta: add.outMeta, attrs: { ...s.attrs, biasFirst: at === 1 } };
  });
}

/**
 * fuseSumTimesZero: `sum(mul(x, 0))` over every element — the SAE trainer's divergence check, one
 * per parameter: 0 when x is finite, else NaN — becomes one `sumTimesZero` launch
 * (ops/reduce.ts): a read pass over x instead of writing and re-reading an x-sized product (at the
 * d768 SAE step that product was ~10 ms of memory traffic). The 0 must be a captured scalar
 * constant, the product read by that sum alone, the sum's result one float32 element.
 */
export function fuseSumTimesZero(steps: readonly PlanStep[], info: PlanInfo): PlanStep[] {
  return fuseIntoSoleReader(steps, info, (s, sum) => {
    if (s.op !== 'mul' || s.ins.length !== 2) return null;
    const zeroAt = s.ins.findIndex((x) => info.scalarConsts.get(x) === 0);
    if (zeroAt < 0) return null;
    const x = s.ins[1 - zeroAt]!;
    const xm = info.slotMeta.get(x);
    const meta = s.outMeta[0]!;
    // x itself gives the product's shape (not a broadcast of the constant), float32
    if (!xm || xm.dtype !== 'float32' || meta.dtype !== 'float32' || sizeOf(xm.shape) !== sizeOf(meta.shape)) return null;
    if (sum.op !== 'sum' || sum.ins.length !== 1 || sum.outs.length !== 1 || sum.outMeta[0]!.dtype !== 'float32' || sizeOf(sum.outMeta[0]!.shape) !== 1) return null;
    return { op: 'sumTimesZero', ins: [x], outs: sum.outs, outMeta: sum.outMeta, attrs: {} };
  });
}
