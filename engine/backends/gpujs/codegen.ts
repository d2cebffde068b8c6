/**
 * Kernel source generation for gpu.js: index arithmetic that stays exact on every mode.
 *
 * Layout. Every tensor is seen by kernels as a 3-d gpu.js array `[C, 1, R]`: C = its last
 * dimension (1 for a scalar), R = all other dimensions flattened; element (row, col) is
 * `t[row][0][col]`. Kernels run on the output's grid: `this.thread.x` is the column, `this.thread.z`
 * the row. Why this shape:
 *  - gpu.js computes flat addresses itself, in 32-bit integers (GLSL int, wasm i32), so tensors
 *    larger than 2^24 elements address correctly; all arithmetic *we* write is float32 on webasm
 *    and GL (gpu.js casts `/` and `%` to float), so it is kept to row and column numbers, each
 *    checked below 2^24, where float32 integers are exact;
 *  - the middle axis of 1 makes gpu.js pack GL outputs into near-square textures (a [C, R] output
 *    would need C and R each below the maximum texture side; the logits' C = 50257 is not).
 *
 * Shapes are literals in the generated source (one compiled kernel per shape signature, cached);
 * scalar values (fill values, arange start/step) are kernel arguments so they never recompile.
 */
import { sizeOf, type Shape } from '../../shape.js';

/** Float32 represents every integer below this exactly. */
export const EXACT_INT = 2 ** 24;

export interface View {
  /** columns: the last dimension (1 for a scalar) */
  C: number;
  /** rows: every other dimension flattened */
  R: number;
}

export function viewOf(shape: Shape): View {
  const C = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  return { C, R: C === 0 ? 0 : sizeOf(shape) / C };
}

/** Row strides of a tensor's leading dimensions in its [C, 1, R] view (0 for the last dimension). */
function rowStrides(shape: Shape): number[] {
  const n = shape.length;
  const st = new Array<number>(n).fill(0);
  let acc = 1;
  for (let d = n - 2; d >= 0; d--) {
    st[d] = acc;
    acc *= shape[d]!;
  }
  return st;
}

/** How one index variable moves an operand: coefficients on its row and on its column. */
export interface Coef {
  row: number;
  col: number;
}

/**
 * One index dimension of a kernel (an output dimension or a loop), with its coefficient on every
 * operand (`coefs[i]` for operand i; absent operands are unaffected).
 */
export interface IndexDim {
  size: number;
  coefs: Coef[];
  /** Keep this dimension as its own variable (its value is used in a condition). */
  pinned?: boolean;
}

/** Coefficient of operand dimension `e` (of `shape`): its row stride, or column 1 for the last dimension; 0 where broadcast. */
export function coefOf(shape: Shape, e: number): Coef {
  if (shape[e] === 1) return { row: 0, col: 0 };
  if (e === shape.length - 1) return { row: 0, col: 1 };
  return { row: rowStrides(shape)[e]!, col: 0 };
}

export const NO_COEF: Coef = { row: 0, col: 0 };

/**
 * Drops size-1 dimensions and merges neighbours that every operand walks contiguously
 * (outer coefficient = inner coefficient × inner size), so fewer divisions are generated.
 */
export function collapse(dims: readonly IndexDim[], nOperands: number): IndexDim[] {
  const out: IndexDim[] = [];
  for (const d of dims) {
    if (d.size === 1 && !d.pinned) continue;
    const prev = out[out.length - 1];
    const c = (x: IndexDim, i: number) => x.coefs[i] ?? NO_COEF;
    let merge = !!prev && !prev.pinned && !d.pinned;
    for (let i = 0; merge && i < nOperands; i++) {
      if (c(prev!, i).row !== c(d, i).row * d.size || c(prev!, i).col !== c(d, i).col * d.size) merge = false;
    }
    if (merge) out[out.length - 1] = { size: prev!.size * d.size, coefs: d.coefs };
    else out.push({ size: d.size, coefs: d.coefs, ...(d.pinned ? { pinned: true } : {}) });
  }
  return out;
}

/** A linear integer expression Σ var·coef + offset, printed into kernel source. */
export class Lin {
  private readonly terms: [string, number][] = [];
  constructor(private off = 0) {}
  add(v: string, k: number): this {
    if (k !== 0) this.terms.push([v, k]);
    return this;
  }
  addConst(k: number): this {
    this.off += k;
    return this;
  }
  toString(): string {
    const parts = this.terms.map(([v, k]) => (k === 1 ? v : `${v} * ${k}`));
    if (this.off !== 0 || parts.length === 0) parts.push(String(this.off));
    return parts.length === 1 ? parts[0]! : `(${parts.join(' + ')})`;
  }
}

/** Builds one kernel's source text. */
export class KernelSource {
  private readonly lines: string[] = [];
  private n = 0;
  /** Largest loop bound (gpu.js needs loopMaxIterations at least this). */
  loopMax = 1;

  constructor(readonly args: readonly string[]) {}

  fresh(prefix: string): string {
    return `${prefix}${this.n++}`;
  }

  line(s: string): void {
    this.lines.push(s);
  }

  /**
   * floor(a / b) for integers 0 <= a < 2^24 and a literal b >= 1, exact on every mode: the float
   * quotient of (a + 0.5) is off by at most one even where GPU division is approximate, and the
   * two corrections in exact float integer arithmetic fix that.
   */
  idiv(a: string, b: number): string {
    if (b === 1) return a;
    const q = this.fresh('q');
    this.line(`let ${q} = Math.floor((${a} + 0.5) / ${b});`);
    this.line(`if (${a} - ${q} * ${b} < 0) { ${q} = ${q} - 1; }`);
    this.line(`if (${a} - ${q} * ${b} >= ${b}) { ${q} = ${q} + 1; }`);
    return q;
  }

  /**
   * Variables for the output's row index decomposed over `dims` (row-major, product = R):
   * one name per dimension.
   */
  rowIndex(dims: readonly IndexDim[], r = 'r'): string[] {
    const names = new Array<string>(dims.length);
    let rest = r;
    for (let j = dims.length - 1; j >= 0; j--) {
      if (j === 0) {
        names[0] = rest;
        break;
      }
      const q = this.idiv(rest, dims[j]!.size);
      const v = this.fresh('i');
      this.line(`const ${v} = ${rest} - ${q} * ${dims[j]!.size};`);
      names[j] = v;
      rest = q;
    }
    return names;
  }

  /** Opens nested loops over `dims` (outermost first); returns their variable names. */
  openLoops(dims: readonly IndexDim[]): string[] {
    return dims.map((d) => {
      const v = this.fresh('k');
      this.line(`for (let ${v} = 0; ${v} < ${d.size}; ${v}++) {`);
      this.loopMax = Math.max(this.loopMax, d.size + 1);
      return v;
    });
  }

  closeLoops(n: number): void {
    for (let i = 0; i < n; i++) this.line('}');
  }

  source(): string {
    return `function(${this.args.join(', ')}) {\n  ${this.lines.join('\n  ')}\n}`;
  }
}

/** Row and column expressions of operand `i` for index variables `vars` over `dims`. */
export function access(dims: readonly IndexDim[], vars: readonly string[], i: number): { row: Lin; col: Lin } {
  const row = new Lin();
  const col = new Lin();
  dims.forEach((d, j) => {
    const c = d.coefs[i] ?? NO_COEF;
    row.add(vars[j]!, c.row);
    col.add(vars[j]!, c.col);
  });
  return { row, col };
}

export function at(name: string, row: Lin | string, col: Lin | string): string {
  return `${name}[${row.toString()}][0][${col.toString()}]`;
}
