/**
 * gpu.js kernel sources for the engine's primitives. Each builder turns shapes and attributes into
 * a `KernelPlan`: the source (shapes as literals, see codegen.ts), the output grid and the
 * argument list. Values follow the reference backend's definitions op by op; the elementwise ops'
 * math (with GL's guarded forms) is in elementwise_math.ts, shared with fused programs.
 */
import type { Shape } from '../../shape.js';
import { sizeOf } from '../../shape.js';
import { matmulDims, type MatmulAttrs } from '../../ops/matmul.js';
import {
  KernelSource,
  NO_COEF,
  access,
  at,
  coefOf,
  collapse,
  viewOf,
  type Coef,
  type IndexDim,
  type View,
} from './codegen.js';
import { binaryBody, inlineOp, unaryBody, type CodegenOptions } from './elementwise_math.js';

export type KernelArg = { tensor: number } | { scalar: number };

export interface KernelPlan {
  source: string;
  /** The output's [C, 1, R] grid. */
  out: View;
  args: KernelArg[];
  loopMax: number;
}

/** Operand dimension of `shape` right-aligned to output dimension `d` of an output of rank `outRank`. */
function aligned(shape: Shape, d: number, outRank: number): Coef {
  const e = d - (outRank - shape.length);
  return e >= 0 ? coefOf(shape, e) : NO_COEF;
}

/**
 * Starts a kernel on the output grid: `c` = column, `r` = row, and index variables for the
 * output dimensions given their coefficients on each operand. Returns the collapsed dimensions
 * with their variables (pinned output dimensions keep their own variable, in `pinnedVar`).
 */
function startGrid(
  k: KernelSource,
  outShape: Shape,
  nOps: number,
  coefsOfDim: (d: number) => Coef[],
  pinned: ReadonlySet<number> = new Set(),
): { dims: IndexDim[]; vars: string[]; pinnedVar: Map<number, string> } {
  k.line('const c = this.thread.x;');
  k.line('const r = this.thread.z;');
  const n = outShape.length;
  const pinnedVar = new Map<number, string>();
  if (n === 0) return { dims: [], vars: [], pinnedVar };
  const lead: (IndexDim & { tag: number })[] = [];
  for (let d = 0; d < n - 1; d++) lead.push({ size: outShape[d]!, coefs: coefsOfDim(d), tag: d, ...(pinned.has(d) ? { pinned: true } : {}) });
  // collapse keeps object identity for dimensions it does not merge; pinned ones are never merged
  const collapsed = collapse(lead, nOps);
  const vars = k.rowIndex(collapsed);
  collapsed.forEach((cd, j) => {
    const src = lead.find((l) => l.pinned && l.size === cd.size && l.coefs === cd.coefs);
    if (src) pinnedVar.set(src.tag, vars[j]!);
  });
  for (const d of pinned) if (d < n - 1 && !pinnedVar.has(d)) pinnedVar.set(d, '0'); // a pinned size-1 dim
  const last: IndexDim = { size: outShape[n - 1]!, coefs: coefsOfDim(n - 1) };
  if (pinned.has(n - 1)) pinnedVar.set(n - 1, 'c');
  return { dims: [...collapsed, last], vars: [...vars, 'c'], pinnedVar };
}

function plan(k: KernelSource, outShape: Shape, args: KernelArg[]): KernelPlan {
  return { source: k.source(), out: viewOf(outShape), args, loopMax: k.loopMax };
}

const tensorArgs = (n: number): KernelArg[] => Array.from({ length: n }, (_, i) => ({ tensor: i }));

/** Elementwise op over broadcast operands; `body` sees the loaded values as v0, v1, ... */
export function mapKernel(outShape: Shape, inShapes: readonly Shape[], body: string[]): KernelPlan {
  const names = inShapes.map((_, i) => `t${i}`);
  const k = new KernelSource(names);
  const n = outShape.length;
  const { dims, vars } = startGrid(k, outShape, inShapes.length, (d) => inShapes.map((s) => aligned(s, d, n)));
  inShapes.forEach((_, i) => {
    const { row, col } = access(dims, vars, i);
    k.line(`const v${i} = ${at(names[i]!, row, col)};`);
  });
  for (const l of body) k.line(l);
  return plan(k, outShape, tensorArgs(inShapes.length));
}

export function unaryKernel(op: string, shape: Shape, o: CodegenOptions): KernelPlan | null {
  const body = unaryBody(op, o);
  return body ? mapKernel(shape, [shape], ['const v = v0;', ...body]) : null;
}

export function binaryKernel(op: string, outShape: Shape, a: Shape, b: Shape, o: CodegenOptions): KernelPlan | null {
  const body = binaryBody(op, o);
  return body ? mapKernel(outShape, [a, b], ['const a = v0;', 'const b = v1;', ...body]) : null;
}

export function whereKernel(outShape: Shape, c: Shape, a: Shape, b: Shape): KernelPlan {
  return mapKernel(outShape, [c, a, b], ['if (v0 !== 0) { return v1; }', 'return v2;']);
}

/** A copy with broadcasting (broadcastTo, casts that keep values, uploads to textures). */
export function copyKernel(outShape: Shape, inShape: Shape): KernelPlan {
  return mapKernel(outShape, [inShape], ['return v0;']);
}

/** sum / max over `axes` (sorted), in the reference's accumulation order (row-major over the reduced axes). */
export function reduceKernel(kind: 'sum' | 'max', x: Shape, axes: readonly number[], outShape: Shape): KernelPlan {
  const k = new KernelSource(['t0']);
  k.line('const c = this.thread.x;');
  k.line('const r = this.thread.z;');
  const kept = x.map((_, i) => i).filter((i) => !axes.includes(i));
  const outC = viewOf(outShape).C;
  const dimOf = (e: number): IndexDim => ({ size: x[e]!, coefs: [coefOf(x, e)] });
  // the output's column is the last kept dimension unless the output's last dimension is 1
  const colDim = outC !== 1 && kept.length > 0 ? kept[kept.length - 1]! : -1;
  const lead = collapse(kept.filter((e) => e !== colDim).map(dimOf), 1);
  const vars = k.rowIndex(lead);
  const dims = [...lead];
  const allVars = [...vars];
  if (colDim >= 0) {
    dims.push(dimOf(colDim));
    allVars.push('c');
  }
  const loops = collapse(axes.map(dimOf), 1);
  if (kind === 'sum') k.line('let s = 0;');
  else k.line('let s = 0;\n  let started = 0;');
  const lv = k.openLoops(loops);
  const { row, col } = access([...dims, ...loops], [...allVars, ...lv], 0);
  k.line(`const v = ${at('t0', row, col)};`);
  if (kind === 'sum') k.line('s += v;');
  // the first value, any larger one, and any NaN replace the running maximum (as in the reference)
  else k.line('if (started === 0 || v > s || v !== v) { s = v; }\n  started = 1;');
  k.closeLoops(lv.length);
  k.line('return s;');
  return plan(k, outShape, tensorArgs(1));
}

/** Index of the first maximum along `axis` (NaN never wins, as in the reference). */
export function argmaxKernel(x: Shape, axis: number, outShape: Shape): KernelPlan {
  const k = new KernelSource(['t0']);
  const keptOut = x.map((_, i) => i).filter((i) => i !== axis);
  const { dims, vars } = startGrid(k, outShape, 1, (d) => [coefOf(x, keptOut[d]!)]);
  k.line('let best = 0;');
  k.line('let bi = 0;');
  const [j] = k.openLoops([{ size: x[axis]!, coefs: [coefOf(x, axis)] }]);
  const { row, col } = access([...dims, { size: x[axis]!, coefs: [coefOf(x, axis)] }], [...vars, j!], 0);
  k.line(`const v = ${at('t0', row, col)};`);
  k.line(`if (${j} === 0 || v > best) { best = v; bi = ${j}; }`);
  k.closeLoops(1);
  k.line('return bi;');
  return plan(k, outShape, tensorArgs(1));
}

export function transposeKernel(x: Shape, perm: readonly number[], outShape: Shape): KernelPlan {
  const k = new KernelSource(['t0']);
  const { dims, vars } = startGrid(k, outShape, 1, (d) => [coefOf(x, perm[d]!)]);
  const { row, col } = access(dims, vars, 0);
  k.line(`return ${at('t0', row, col)};`);
  return plan(k, outShape, tensorArgs(1));
}

export function sliceKernel(x: Shape, begin: readonly number[], outShape: Shape): KernelPlan {
  const k = new KernelSource(['t0']);
  const { dims, vars } = startGrid(k, outShape, 1, (d) => [x[d] === 1 ? NO_COEF : coefOf(x, d)]);
  const { row, col } = access(dims, vars, 0);
  x.forEach((_, e) => {
    const cf = coefOf(x, e);
    row.addConst(begin[e]! * cf.row);
    col.addConst(begin[e]! * cf.col);
  });
  k.line(`return ${at('t0', row, col)};`);
  return plan(k, outShape, tensorArgs(1));
}

export function padKernel(x: Shape, before: readonly number[], outShape: Shape): KernelPlan {
  const k = new KernelSource(['t0']);
  const padded = new Set(x.map((_, e) => e).filter((e) => outShape[e] !== x[e]));
  const { dims, vars, pinnedVar } = startGrid(k, outShape, 1, (d) => [coefOf(x, d)], padded);
  const { row, col } = access(dims, vars, 0);
  for (const e of padded) {
    const v = pinnedVar.get(e)!;
    k.line(`if (${v} < ${before[e]} || ${v} >= ${before[e]! + x[e]!}) { return 0; }`);
    const cf = coefOf(x, e);
    row.addConst(-before[e]! * cf.row);
    col.addConst(-before[e]! * cf.col);
  }
  k.line(`return ${at('t0', row, col)};`);
  return plan(k, outShape, tensorArgs(1));
}

export function concatKernel(inShapes: readonly Shape[], axis: number, outShape: Shape): KernelPlan {
  const names = inShapes.map((_, i) => `t${i}`);
  const k = new KernelSource(names);
  const { dims, vars, pinnedVar } = startGrid(k, outShape, inShapes.length, (d) => inShapes.map((s) => coefOf(s, d)), new Set([axis]));
  const ia = pinnedVar.get(axis)!;
  let start = 0;
  inShapes.forEach((s, i) => {
    const end = start + s[axis]!;
    const { row, col } = access(dims, vars, i);
    const cf = coefOf(s, axis);
    row.addConst(-start * cf.row);
    col.addConst(-start * cf.col);
    if (s[axis]! > 0) k.line(`if (${ia} < ${end}) { return ${at(names[i]!, row, col)}; }`);
    start = end;
  });
  k.line('return 0;');
  return plan(k, outShape, tensorArgs(inShapes.length));
}

/** Batched matmul, one output element per thread, accumulating in float32 over k ascending. */
export function matmulKernel(a: Shape, b: Shape, attrs: MatmulAttrs, outShape: Shape): KernelPlan {
  const { K } = matmulDims(a, b, attrs);
  const k = new KernelSource(['t0', 't1']);
  const n = outShape.length;
  const na = a.length;
  const nb = b.length;
  const { dims, vars } = startGrid(k, outShape, 2, (d) => {
    if (d < n - 2) return [batchCoef(a, d, n), batchCoef(b, d, n)];
    if (d === n - 2) return [coefOf(a, attrs.transA ? na - 1 : na - 2), NO_COEF];
    return [NO_COEF, coefOf(b, attrs.transB ? nb - 2 : nb - 1)];
  });
  k.line('let s = 0;');
  const kd: IndexDim = { size: K, coefs: [coefOf(a, attrs.transA ? na - 2 : na - 1), coefOf(b, attrs.transB ? nb - 1 : nb - 2)] };
  const [kv] = k.openLoops([kd]);
  const A = access([...dims, kd], [...vars, kv!], 0);
  const B = access([...dims, kd], [...vars, kv!], 1);
  k.line(`s += ${at('t0', A.row, A.col)} * ${at('t1', B.row, B.col)};`);
  k.closeLoops(1);
  k.line('return s;');
  return plan(k, outShape, tensorArgs(2));
}

/** Coefficient of the operand's batch dimension aligned (from the right) with output batch dimension d. */
function batchCoef(s: Shape, d: number, outRank: number): Coef {
  return aligned(s, d, outRank);
}

/**
 * The tail of gather and takeAlongAxis: read the index `iv` from operand 1 at this output
 * position, then return operand 0 (shape `x`) at this position moved by `iv` along `axis`.
 */
function returnIndexedRead(k: KernelSource, dims: IndexDim[], vars: string[], x: Shape, axis: number): void {
  const I = access(dims, vars, 1);
  k.line(`const iv = ${at('t1', I.row, I.col)};`);
  const X = access(dims, vars, 0);
  const cf = coefOf(x, axis);
  X.row.add('iv', cf.row);
  X.col.add('iv', cf.col);
  k.line(`return ${at('t0', X.row, X.col)};`);
}

/** out = x[..., idx[...], ...] along axis; indices already proven in range. */
export function gatherKernel(x: Shape, idx: Shape, axis: number, outShape: Shape): KernelPlan {
  const k = new KernelSource(['t0', 't1']);
  const q = idx.length;
  const { dims, vars } = startGrid(k, outShape, 2, (d) => {
    if (d < axis) return [coefOf(x, d), NO_COEF];
    if (d < axis + q) return [NO_COEF, coefOf(idx, d - axis)];
    return [coefOf(x, d - q + 1), NO_COEF];
  });
  returnIndexedRead(k, dims, vars, x, axis);
  return plan(k, outShape, tensorArgs(2));
}

export function takeAlongAxisKernel(x: Shape, idx: Shape, axis: number): KernelPlan {
  const k = new KernelSource(['t0', 't1']);
  const { dims, vars } = startGrid(k, idx, 2, (d) => [d === axis ? NO_COEF : coefOf(x, d), coefOf(idx, d)]);
  returnIndexedRead(k, dims, vars, x, axis);
  return plan(k, idx, tensorArgs(2));
}

/**
 * scatterAdd written gather-style: each output element starts from x and adds, in index order,
 * every update whose index names it (the reference's order, so float sums agree). Costs
 * |out| × |indices| reads; the backend falls back above a work bound.
 */
export function scatterAddKernel(x: Shape, idx: Shape, upd: Shape, axis: number): KernelPlan {
  const k = new KernelSource(['t0', 't1', 't2']);
  const q = idx.length;
  const { dims, vars, pinnedVar } = startGrid(
    k,
    x,
    3,
    (d) => [coefOf(x, d), NO_COEF, d === axis ? NO_COEF : coefOf(upd, d < axis ? d : d + q - 1)],
    new Set([axis]),
  );
  const ra = pinnedVar.get(axis)!;
  const X = access(dims, vars, 0);
  k.line(`let acc = ${at('t0', X.row, X.col)};`);
  const loops = collapse(idx.map((_, e) => ({ size: idx[e]!, coefs: [NO_COEF, coefOf(idx, e), coefOf(upd, axis + e)] })), 3);
  const lv = k.openLoops(loops);
  const I = access([...dims, ...loops], [...vars, ...lv], 1);
  const U = access([...dims, ...loops], [...vars, ...lv], 2);
  k.line(`if (${at('t1', I.row, I.col)} === ${ra}) { acc += ${at('t2', U.row, U.col)}; }`);
  k.closeLoops(lv.length);
  k.line('return acc;');
  return plan(k, x, tensorArgs(3));
}

export function scatterAddAlongAxisKernel(x: Shape, idx: Shape, axis: number): KernelPlan {
  const k = new KernelSource(['t0', 't1', 't2']);
  const { dims, vars, pinnedVar } = startGrid(
    k,
    x,
    3,
    (d) => [coefOf(x, d), d === axis ? NO_COEF : coefOf(idx, d), d === axis ? NO_COEF : coefOf(idx, d)],
    new Set([axis]),
  );
  const ra = pinnedVar.get(axis)!;
  const X = access(dims, vars, 0);
  k.line(`let acc = ${at('t0', X.row, X.col)};`);
  const jd: IndexDim = { size: idx[axis]!, coefs: [NO_COEF, coefOf(idx, axis), coefOf(idx, axis)] };
  const [j] = k.openLoops([jd]);
  const I = access([...dims, jd], [...vars, j!], 1);
  const U = access([...dims, jd], [...vars, j!], 2); // updates have the indices' shape
  k.line(`if (${at('t1', I.row, I.col)} === ${ra}) { acc += ${at('t2', U.row, U.col)}; }`);
  k.closeLoops(1);
  k.line('return acc;');
  return plan(k, x, tensorArgs(3));
}

export function fullKernel(outShape: Shape, value: number): KernelPlan {
  const k = new KernelSource(['s0']);
  k.line('return s0;');
  return plan(k, outShape, [{ scalar: value }]);
}

export function arangeKernel(n: number, start: number, step: number): KernelPlan {
  const k = new KernelSource(['s0', 's1']);
  k.line('return s0 + this.thread.x * s1;');
  return plan(k, [n], [{ scalar: start }, { scalar: step }]);
}

/**
 * Re-lays a GL texture for a reshape that changes the last dimension (host storage just changes
 * its view). Returns null when the flat offset would leave exact float range (the caller falls back).
 */
export function relayoutKernel(from: Shape, to: Shape): KernelPlan | null {
  const src = viewOf(from);
  const dst = viewOf(to);
  const k = new KernelSource(['t0']);
  k.line('const c = this.thread.x;');
  k.line('const r = this.thread.z;');
  if (dst.C % src.C === 0) {
    // each output row spans g whole input rows
    const g = dst.C / src.C;
    const q = k.idiv('c', src.C);
    k.line(`return t0[r * ${g} + ${q}][0][c - ${q} * ${src.C}];`);
  } else if (src.C % dst.C === 0) {
    // g output rows share one input row
    const g = src.C / dst.C;
    const q = k.idiv('r', g);
    k.line(`return t0[${q}][0][(r - ${q} * ${g}) * ${dst.C} + c];`);
  } else {
    if (sizeOf(to) >= 2 ** 24) return null;
    k.line(`const o = r * ${dst.C} + c;`);
    const q = k.idiv('o', src.C);
    k.line(`return t0[${q}][0][o - ${q} * ${src.C}];`);
  }
  return plan(k, to, tensorArgs(1));
}

/** The operands and the body of one node of a fused program. */
export interface FusedNodeSource {
  op: string;
  /** expressions of the operands (variable names) */
  args: string[];
}

/**
 * One kernel for a fused elementwise program: tensor operands `t0…` (broadcast to the output
 * shape like any elementwise kernel) and scalar operands `s0…` (values passed as arguments, so the
 * source does not depend on them); node k's value is `y<k>`, the last
 * node's is returned.
 */
export function fusedKernel(outShape: Shape, inShapes: readonly Shape[], scalarValues: readonly number[], nodes: readonly FusedNodeSource[], o: CodegenOptions): KernelPlan | null {
  const names = inShapes.map((_, i) => `t${i}`);
  const scalars = scalarValues.map((_, i) => `s${i}`);
  const k = new KernelSource([...names, ...scalars]);
  const n = outShape.length;
  const { dims, vars } = startGrid(k, outShape, inShapes.length, (d) => inShapes.map((s) => aligned(s, d, n)));
  inShapes.forEach((_, i) => {
    const { row, col } = access(dims, vars, i);
    k.line(`const x${i} = ${at(names[i]!, row, col)};`);
  });
  for (let j = 0; j < nodes.length; j++) {
    const lines = inlineOp(nodes[j]!.op, nodes[j]!.args, `y${j}`, String(j), o);
    if (!lines) return null;
    for (const l of lines) k.line(l);
  }
  k.line(`return y${nodes.length - 1};`);
  return plan(k, outShape, [...tensorArgs(inShapes.length), ...scalarValues.map((v): KernelArg => ({ scalar: v }))]);
}
