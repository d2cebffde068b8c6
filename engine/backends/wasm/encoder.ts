/**
 * A small WebAssembly binary encoder: instructions as byte arrays composed like folded WAT
 * (`f32x4.add(get(a), get(b))` is `(f32x4.add (local.get $a) (local.get $b))`), and a module
 * writer (one imported shared memory, functions, exports).
 *
 * Why emit binary from TypeScript instead of writing WAT and assembling it with wabt: the
 * backend's `create()` is synchronous and wabt's JS build initialises asynchronously; the kernels
 * are specialised at start-up (fused multiply-add only where relaxed SIMD validates, tile sizes);
 * and there is no build step or generated artefact to keep in sync with the source.
 */

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';
/** Encoded instruction bytes. Expressions leave their value on the stack. */
export type Ex = number[];

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`uleb: ${n} is not a non-negative integer`);
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

export function sleb(n: number): number[] {
  if (!Number.isInteger(n)) throw new Error(`sleb: ${n} is not an integer`);
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n = Math.floor(n / 128); // arithmetic shift that works beyond 32 bits
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function f32bytes(v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [...b];
}

const cat = (...xs: Ex[]): Ex => {
  const out: Ex = [];
  for (const x of xs) for (const b of x) out.push(b);
  return out;
};
const op = (...code: number[]) => (...args: Ex[]): Ex => cat(...args, code);
const simd = (code: number) => op(0xfd, ...uleb(code));
/** Memory argument: alignment hint (log2 bytes) and a constant offset added to the address. */
const mem = (code: number[], align: number) => (addr: Ex, offset = 0): Ex => cat(addr, code, uleb(align), uleb(offset));
const memStore = (code: number[], align: number) => (addr: Ex, value: Ex, offset = 0): Ex => cat(addr, value, code, uleb(align), uleb(offset));

// ------------------------------------------------------------------ locals and control

export const get = (l: number): Ex => [0x20, ...uleb(l)];
export const set = (l: number, v: Ex): Ex => cat(v, [0x21, ...uleb(l)]);
export const tee = (l: number, v: Ex): Ex => cat(v, [0x22, ...uleb(l)]);
export const drop = (v: Ex): Ex => cat(v, [0x1a]);
export const nop: Ex = [];
/** Runs statements in order (a statement leaves nothing on the stack). */
export const seq = (...xs: Ex[]): Ex => cat(...xs);
export const block = (...body: Ex[]): Ex => cat([0x02, 0x40], ...body, [0x0b]);
export const loop = (...body: Ex[]): Ex => cat([0x03, 0x40], ...body, [0x0b]);
export const br = (depth: number): Ex => [0x0c, ...uleb(depth)];
export const brIf = (depth: number, cond: Ex): Ex => cat(cond, [0x0d, ...uleb(depth)]);
export const ret = (v: Ex = []): Ex => cat(v, [0x0f]);
export const ifThen = (cond: Ex, then: Ex[], otherwise?: Ex[]): Ex =>
  otherwise ? cat(cond, [0x04, 0x40], ...then, [0x05], ...otherwise, [0x0b]) : cat(cond, [0x04, 0x40], ...then, [0x0b]);
/** `cond ? a : b` for values (both evaluated). */
export const select = (a: Ex, b: Ex, cond: Ex): Ex => cat(a, b, cond, [0x1b]);
/** A call to function `index` of the module with the given arguments. */
export const call = (index: number, ...args: Ex[]): Ex => cat(...args, [0x10, ...uleb(index)]);

/**
 * `for (i = from; i < to; i += step) body` (signed compare). `to` is evaluated before each
 * iteration, so pass a local or a constant. Inside `body`, `br(1)` leaves the loop.
 */
export function forLoop(i: number, from: Ex, to: Ex, step: number | Ex, ...body: Ex[]): Ex {
  const inc = typeof step === 'number' ? i32.const(step) : step;
  return seq(
    set(i, from),
    block(
      brIf(0, i32.ge_s(get(i), to)),
      loop(...body, set(i, i32.add(get(i), inc)), brIf(0, i32.lt_s(get(i), to))),
    ),
  );
}

/** `while (cond) body`; inside `body`, `br(1)` leaves the loop. */
export const whileLoop = (cond: Ex, ...body: Ex[]): Ex => block(brIf(0, i32.eqz(cond)), loop(...body, brIf(0, cond)));

// ------------------------------------------------------------------ scalar instructions

export const i32 = {
  const: (n: number): Ex => [0x41, ...sleb(n | 0)],
  load: mem([0x28], 2),
  store: memStore([0x36], 2),
  eqz: op(0x45),
  eq: op(0x46),
  ne: op(0x47),
  lt_s: op(0x48),
  lt_u: op(0x49),
  gt_s: op(0x4a),
  gt_u: op(0x4b),
  le_s: op(0x4c),
  le_u: op(0x4d),
  ge_s: op(0x4e),
  ge_u: op(0x4f),
  add: op(0x6a),
  sub: op(0x6b),
  mul: op(0x6c),
  div_s: op(0x6d),
  div_u: op(0x6e),
  rem_s: op(0x6f),
  rem_u: op(0x70),
  and: op(0x71),
  or: op(0x72),
  xor: op(0x73),
  shl: op(0x74),
  shr_s: op(0x75),
  shr_u: op(0x76),
  popcnt: op(0x69),
  trunc_f32_s: op(0xa8),
  /** atomic fetch-and-add on a shared memory word; returns the old value */
  atomic_rmw_add: (addr: Ex, value: Ex, offset = 0): Ex => cat(addr, value, [0xfe, 0x1e], uleb(2), uleb(offset)),
  trunc_sat_f32_s: op(0xfc, 0x00),
  reinterpret_f32: op(0xbc),
};

export const f32 = {
  const: (v: number): Ex => [0x43, ...f32bytes(v)],
  load: mem([0x2a], 2),
  store: memStore([0x38], 2),
  eq: op(0x5b),
  ne: op(0x5c),
  lt: op(0x5d),
  gt: op(0x5e),
  le: op(0x5f),
  ge: op(0x60),
  abs: op(0x8b),
  neg: op(0x8c),
  ceil: op(0x8d),
  floor: op(0x8e),
  trunc: op(0x8f),
  nearest: op(0x90),
  sqrt: op(0x91),
  add: op(0x92),
  sub: op(0x93),
  mul: op(0x94),
  div: op(0x95),
  min: op(0x96),
  max: op(0x97),
  convert_i32_s: op(0xb2),
  reinterpret_i32: op(0xbe),
};

/** Bulk memory: copy `n` bytes from `src` to `dst` (overlap allowed) and fill. */
export const memoryCopy = (dst: Ex, src: Ex, n: Ex): Ex => cat(dst, src, n, [0xfc, ...uleb(10), 0x00, 0x00]);
export const memoryFill = (dst: Ex, byte: Ex, n: Ex): Ex => cat(dst, byte, n, [0xfc, ...uleb(11), 0x00]);

// ------------------------------------------------------------------ SIMD128

export const v128 = {
  load: mem([0xfd, 0x00], 4),
  store: memStore([0xfd, 0x0b], 4),
  load32_splat: mem([0xfd, 0x09], 2),
  load32_zero: mem([0xfd, 0x5c], 2),
  const: (lanes: readonly [number, number, number, number]): Ex => {
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    lanes.forEach((v, i) => dv.setInt32(i * 4, v | 0, true));
    return [0xfd, 0x0c, ...b];
  },
  not: simd(0x4d),
  and: simd(0x4e),
  andnot: simd(0x4f),
  or: simd(0x50),
  xor: simd(0x51),
  /** lanes of `a` where `mask` bits are set, else of `b` */
  bitselect: (a: Ex, b: Ex, mask: Ex): Ex => cat(a, b, mask, [0xfd, ...uleb(0x52)]),
  any_true: simd(0x53),
};

export const i8x16 = {
  /** bytes of `a` picked by the 16 byte indices of `idx` (an index ≥ 16 gives 0) */
  swizzle: simd(0x0e),
  /** bytes of concat(a, b) picked by 16 lane indices (0–31) */
  shuffle: (a: Ex, b: Ex, lanes: readonly number[]): Ex => {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) throw new Error(`i8x16.shuffle: 16 lane indices in 0..31 needed, got [${lanes}]`);
    return cat(a, b, [0xfd, 0x0d, ...lanes]);
  },
};

/** 32-bit lanes of concat(a, b) picked by 4 lane indices (0–7). */
export const shuffle32 = (a: Ex, b: Ex, lanes: readonly [number, number, number, number]): Ex =>
  i8x16.shuffle(a, b, lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));

/**
 * A 4×4 transpose of 32-bit lanes in eight shuffles: `setup` interleaves the four row vectors
 * (locals `rows`) into the four locals `tmp`; `col(c)` is then column c (lane r = rows[r][c]).
 * Shared by the tiled transpose, the transposed scatterOuter store, gemv and the g-SAE screen.
 */
export function transpose4(rows: readonly number[], tmp: readonly number[]): { setup: Ex[]; col: (c: number) => Ex } {
  const [r0, r1, r2, r3] = rows as [number, number, number, number];
  const [t0, t1, t2, t3] = tmp as [number, number, number, number];
  return {
    setup: [
      set(t0, shuffle32(get(r0), get(r1), [0, 4, 1, 5])),
      set(t1, shuffle32(get(r0), get(r1), [2, 6, 3, 7])),
      set(t2, shuffle32(get(r2), get(r3), [0, 4, 1, 5])),
      set(t3, shuffle32(get(r2), get(r3), [2, 6, 3, 7])),
    ],
    col: (c) => (c < 2 ? shuffle32(get(t0), get(t2), c === 0 ? [0, 1, 4, 5] : [2, 3, 6, 7]) : shuffle32(get(t1), get(t3), c === 2 ? [0, 1, 4, 5] : [2, 3, 6, 7])),
  };
}

export const f32x4 = {
  splat: simd(0x13),
  /** a constant vector with all four lanes `v` */
  const: (v: number): Ex => {
    const b = f32bytes(v);
    return [0xfd, 0x0c, ...b, ...b, ...b, ...b];
  },
  extract_lane: (v: Ex, lane: number): Ex => cat(v, [0xfd, ...uleb(0x1f), lane]),
  replace_lane: (v: Ex, lane: number, x: Ex): Ex => cat(v, x, [0xfd, ...uleb(0x20), lane]),
  eq: simd(0x41),
  ne: simd(0x42),
  lt: simd(0x43),
  gt: simd(0x44),
  le: simd(0x45),
  ge: simd(0x46),
  ceil: simd(0x67),
  floor: simd(0x68),
  trunc: simd(0x69),
  nearest: simd(0x6a),
  abs: simd(0xe0),
  neg: simd(0xe1),
  sqrt: simd(0xe3),
  add: simd(0xe4),
  sub: simd(0xe5),
  mul: simd(0xe6),
  div: simd(0xe7),
  /** min/max with NaN propagation and -0 < +0 (several instructions on x64) */
  min: simd(0xe8),
  max: simd(0xe9),
  /** pseudo-min `b < a ? b : a` and pseudo-max `a < b ? b : a` (one instruction each) */
  pmin: simd(0xea),
  pmax: simd(0xeb),
  convert_i32x4_s: simd(0xfa),
  /** relaxed SIMD: a·b + c, fused where the hardware has FMA */
  relaxed_madd: simd(0x105),
};

export const i32x4 = {
  splat: simd(0x11),
  extract_lane: (v: Ex, lane: number): Ex => cat(v, [0xfd, ...uleb(0x1b), lane]),
  eq: simd(0x37),
  ne: simd(0x38),
  lt_s: simd(0x39),
  gt_s: simd(0x3b),
  le_s: simd(0x3d),
  ge_s: simd(0x3f),
  all_true: simd(0xa3),
  bitmask: simd(0xa4),
  shl: simd(0xab),
  shr_s: simd(0xac),
  shr_u: simd(0xad),
  add: simd(0xae),
  sub: simd(0xb1),
  mul: simd(0xb5),
  min_s: simd(0xb6),
  max_s: simd(0xb8),
  trunc_sat_f32x4_s: simd(0xf8),
};

// ------------------------------------------------------------------ functions and modules

export class Func {
  readonly locals: ValType[] = [];
  private readonly body: Ex[] = [];
  /** Index in the module, set when added. */
  index = -1;

  constructor(
    readonly name: string,
    readonly params: readonly ValType[],
    readonly results: readonly ValType[] = [],
    readonly exported = true,
  ) {}

  /** Local index of parameter `i`. */
  param(i: number): number {
    if (i < 0 || i >= this.params.length) throw new Error(`${this.name}: no parameter ${i}`);
    return i;
  }
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }
  emit(...xs: Ex[]): this {
    this.body.push(...xs);
    return this;
  }
  encodeBody(): number[] {
    // locals are declared as runs of equal type
    const runs: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const code = cat(uleb(runs.length), ...runs.map(([n, t]) => [...uleb(n), VALTYPE[t]]), ...this.body, [0x0b]);
    return [...uleb(code.length), ...code];
  }
}

function section(id: number, payload: number[]): number[] {
  return [id, ...uleb(payload.length), ...payload];
}
function vec(items: number[][]): number[] {
  return cat(uleb(items.length), ...items);
}
function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

export interface MemoryImport {
  /** pages of 64 KiB */
  initial: number;
  maximum: number;
  shared: boolean;
}

/**
 * A module importing one memory as `env.memory` and holding `funcs` (indices assigned in order).
 * Function types are deduplicated.
 */
export class ModuleBuilder {
  readonly funcs: Func[] = [];
  /** A new function; its index is fixed now so that other bodies can call it. */
  func(name: string, params: readonly ValType[], results: readonly ValType[] = [], exported = true): Func {
    if (this.funcs.some((f) => f.name === name)) throw new Error(`wasm module: function '${name}' defined twice`);
    const f = new Func(name, params, results, exported);
    f.index = this.funcs.length;
    this.funcs.push(f);
    return f;
  }
}

export function encodeModule(mem: MemoryImport, funcs: readonly Func[]): Uint8Array {
  const types: string[] = [];
  const typeBytes: number[][] = [];
  const typeOf = funcs.map((f) => {
    const bytes = [0x60, ...vec(f.params.map((p) => [VALTYPE[p]])), ...vec(f.results.map((r) => [VALTYPE[r]]))];
    const key = bytes.join(',');
    let i = types.indexOf(key);
    if (i < 0) {
      i = types.length;
      types.push(key);
      typeBytes.push(bytes);
    }
    return i;
  });
  funcs.forEach((f, i) => {
    if (f.index !== i) throw new Error(`wasm module: function '${f.name}' has index ${f.index} but sits at ${i}`);
  });
  const limits = mem.shared ? [0x03, ...uleb(mem.initial), ...uleb(mem.maximum)] : [0x01, ...uleb(mem.initial), ...uleb(mem.maximum)];
  const imports = vec([[...name('env'), ...name('memory'), 0x02, ...limits]]);
  const exports = vec(funcs.filter((f) => f.exported).map((f) => [...name(f.name), 0x00, ...uleb(f.index)]));
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(typeBytes)),
    ...section(2, imports),
    ...section(3, vec(typeOf.map((t) => uleb(t)))),
    ...section(7, exports),
    ...section(10, vec(funcs.map((f) => f.encodeBody()))),
  ];
  return new Uint8Array(bytes);
}
