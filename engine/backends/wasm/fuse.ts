/**
 * The wasm backend's jit plan rewrites (Backend.compilePlan), each giving the recorded launches'
 * values: `fuseMatmulBias` and `fuseSumTimesZero` below.
 *
 * fuseMatmulBias: a `matmul` whose only reader is an
 * `add` of the same 2-D shape — a linear layer's `x @ W + b`, the SAE encoder's pre-activations —
 * becomes one `matmulBias` launch (ops/matmul.ts), so the bias goes in as the GEMM stores its
 * tiles instead of in a second pass over the [M, N] product (at the SAE step's [1024, 4096] that
 * pass was ~1 ms of ~40). The values are the two launches' bit for bit. Only a float32 bias of
 * shape [N] or [1, N] (N ≥ 2) is fused; the driver still checks the shapes it is given.
 */
import type { PlanInfo, PlanStep } from '../../backend.js';
import { sizeOf } from '../../shape.js';

/** Readers of each slot (step indices, in order, each once). */
function readersOf(steps: readonly PlanStep[]): Map<number, number[]> {
  const readers = new Map<number, number[]>();
  steps.forEach((s, i) => {
    for (const x of s.ins) {
      const r = readers.get(x) ?? [];
      if (!r.includes(i)) r.push(i);
      readers.set(x, r);
    }
  });
  return readers;
}

/** Both rewrites, in turn. */
export function compileWasmPlan(steps: readonly PlanStep[], info: PlanInfo): PlanStep[] {
  return fuseSumTimesZero(fuseMatmulBias(steps, info), info);
}

/**
 * fuseSumTimesZero: `sum(mul(x, 0))` over every element — the SAE trainer's divergence check, one
 * per parameter: 0 when x is finite, else NaN — becomes one `sumTimesZero` launch
 * (ops/reduce.ts): a read pass over x instead of writing and re-reading an x-sized product (at the
 * d768 SAE step that product was ~10 ms of memory traffic). The 0 must be a captured scalar
 * constant, the product read by that sum alone, the sum's result one float32 element.
 */
export function fuseSumTimesZero(steps: readonly PlanStep[], info: PlanInfo): PlanStep[] {
  const readers = readersOf(steps);
  const fusedInto = new Map<number, PlanStep>();
  const dropped = new Set<number>();
  steps.forEach((s, i) => {
    if (s.op !== 'mul' || s.ins.length !== 2 || s.outs.length !== 1) return;
    const zeroAt = s.ins.findIndex((x) => info.scalarConsts.get(x) === 0);
    if (zeroAt < 0) return;
    const x = s.ins[1 - zeroAt]!;
    const xm = info.slotMeta.get(x);
    const out = s.outs[0]!;
    const meta = s.outMeta[0]!;
    // x itself gives the product's shape (not a broadcast of the constant), float32
    if (!xm || xm.dtype !== 'float32' || meta.dtype !== 'float32' || sizeOf(xm.shape) !== sizeOf(meta.shape) || info.escapes.has(out)) return;
    const r = readers.get(out);
    if (!r || r.length !== 1) return;
    const sum = steps[r[0]!]!;
    if (sum.op !== 'sum' || sum.ins.length !== 1 || sum.outs.length !== 1 || sum.outMeta[0]!.dtype !== 'float32' || sizeOf(sum.outMeta[0]!.shape) !== 1) return;
    fusedInto.set(r[0]!, { op: 'sumTimesZero', ins: [x], outs: sum.outs, outMeta: sum.outMeta, attrs: {} });
    dropped.add(i);
  });
  if (dropped.size === 0) return [...steps];
  return steps.flatMap((s, i) => (dropped.has(i) ? [] : [fusedInto.get(i) ?? s]));
}

/** Rewrites `steps`; returns them as recorded when nothing fuses. */
export function fuseMatmulBias(steps: readonly PlanStep[], info: PlanInfo): PlanStep[] {
  const readers = readersOf(steps);
  const fusedInto = new Map<number, PlanStep>(); // add step → the fused step
  const dropped = new Set<number>(); // matmul steps folded into their add
  steps.forEach((s, i) => {
    if (s.op !== 'matmul' || s.outs.length !== 1) return;
    const out = s.outs[0]!;
    const meta = s.outMeta[0]!;
    if (meta.dtype !== 'float32' || meta.shape.length !== 2 || info.escapes.has(out)) return;
    const r = readers.get(out);
    if (!r || r.length !== 1) return;
    const j = r[0]!;
    const add = steps[j]!;
    if (add.op !== 'add' || add.ins.length !== 2 || add.outs.length !== 1 || fusedInto.has(j)) return;
    const at = add.ins.indexOf(out);
    const bias = add.ins[1 - at]!;
    if (bias === out) return; // add(y, y)
    const am = add.outMeta[0]!;
    if (am.dtype !== 'float32' || am.shape.length !== 2 || am.shape[0] !== meta.shape[0] || am.shape[1] !== meta.shape[1]) return;
    // a row vector [N] or [1, N] (not another [M, N] term, e.g. a gradient being summed)
    const bm = info.slotMeta.get(bias);
    const N = meta.shape[1]!;
    if (!bm || bm.dtype !== 'float32' || !(bm.shape.length === 1 || (bm.shape.length === 2 && bm.shape[0] === 1)) || bm.shape[bm.shape.length - 1] !== N || N < 2) return;
    fusedInto.set(j, { op: 'matmulBias', ins: [...s.ins, bias], outs: add.outs, outMeta: add.outMeta, attrs: { ...s.attrs, biasFirst: at === 1 } });
    dropped.add(i);
  });
  if (dropped.size === 0) return [...steps];
  return steps.flatMap((s, i) => (dropped.has(i) ? [] : [fusedInto.get(i) ?? s]));
}
