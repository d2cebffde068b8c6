/**
 * Elementwise kernels (float32 lanes; `where` moves any 32-bit values). Every kernel has the same
 * form, after the driver has collapsed the broadcast into at most three dimensions:
 *
 *   kernel(y, n0, n1, n2, in0, s0_0, s1_0, inner_0, in1, ...)
 *   for i0 < n0, i1 < n1, i2 < n2:  y[(i0·n1 + i1)·n2 + i2] = f(in_k[i0·s0_k + i1·s1_k + i2·inner_k])
 *
 * with `inner_k` 1 (a contiguous row, loaded 4 lanes at a time) or 0 (broadcast: one value,
 * splatted once per row). Same-shape, scalar, row- and column-broadcast all land on the SIMD loop.
 * Tails of fewer than 4 elements run the same vector code on one splatted lane.
 */
import {
  block, brIf, f32x4, forLoop, get, i32, i32x4, ifThen, loop, seq, set, v128, type Ex, type Func, type ModuleBuilder,
} from '../encoder.js';
import { expV, geluGradV, geluV, logV, Scratch, tanhV } from './math.js';

/** Statements computing f(ins) into local `out` (inputs are expressions, evaluated once each). */
export type VecBody = (s: Scratch, out: number, ins: Ex[]) => Ex;

const C = (v: number): Ex => f32x4.const(v);

/** Evaluates each input once into a local, then runs `f` on the locals. */
function withLocals(s: Scratch, ins: Ex[], f: (ls: number[]) => Ex): Ex {
  const m = s.mark();
  const ls = ins.map(() => s.v());
  const code = seq(...ins.map((x, i) => set(ls[i]!, x)), f(ls));
  s.reset(m);
  return code;
}

export const UNARY: Record<string, VecBody> = {
  neg: (_s, o, [x]) => set(o, f32x4.neg(x!)),
  exp: (s, o, [x]) => expV(s, o, x!),
  log: (s, o, [x]) => logV(s, o, x!),
  tanh: (s, o, [x]) => tanhV(s, o, x!),
  sqrt: (_s, o, [x]) => set(o, f32x4.sqrt(x!)),
  rsqrt: (_s, o, [x]) => set(o, f32x4.div(C(1), f32x4.sqrt(x!))),
  abs: (_s, o, [x]) => set(o, f32x4.abs(x!)),
  // sign(±0) = ±0 and sign(NaN) = NaN: only strictly positive/negative lanes change
  sign: (s, o, [x]) =>
    withLocals(s, [x!], ([t]) => set(o, v128.bitselect(C(1), v128.bitselect(C(-1), get(t!), f32x4.lt(get(t!), C(0))), f32x4.gt(get(t!), C(0))))),
  // NaN propagates, as in the reference (and PyTorch)
  relu: (s, o, [x]) => withLocals(s, [x!], ([t]) => set(o, v128.and(get(t!), v128.or(f32x4.gt(get(t!), C(0)), f32x4.ne(get(t!), get(t!)))))),
  gelu: (s, o, [x]) => geluV(s, o, x!),
  geluGrad: (s, o, [x]) => geluGradV(s, o, x!),
  heaviside: (_s, o, [x]) => set(o, v128.and(C(1), f32x4.gt(x!, C(0)))),
};

const cmp = (f: (a: Ex, b: Ex) => Ex): VecBody => (_s, o, [a, b]) => set(o, v128.and(C(1), f(a!, b!)));

/** maximum/minimum as the reference defines them: NaN if either is NaN, else the strict winner or b. */
const pick = (better: (a: Ex, b: Ex) => Ex): VecBody => (s, o, [a, b]) =>
  withLocals(s, [a!, b!], ([x, y]) =>
    set(
      o,
      v128.bitselect(
        f32x4.add(get(x!), get(y!)),
        v128.bitselect(get(x!), get(y!), better(get(x!), get(y!))),
        v128.or(f32x4.ne(get(x!), get(x!)), f32x4.ne(get(y!), get(y!))),
      ),
    ),
  );

export const BINARY: Record<string, VecBody> = {
  add: (_s, o, [a, b]) => set(o, f32x4.add(a!, b!)),
  sub: (_s, o, [a, b]) => set(o, f32x4.sub(a!, b!)),
  mul: (_s, o, [a, b]) => set(o, f32x4.mul(a!, b!)),
  div: (_s, o, [a, b]) => set(o, f32x4.div(a!, b!)),
  maximum: pick(f32x4.gt),
  minimum: pick(f32x4.lt),
  equal: cmp(f32x4.eq),
  notEqual: cmp(f32x4.ne),
  greater: cmp(f32x4.gt),
  greaterEqual: cmp(f32x4.ge),
  less: cmp(f32x4.lt),
  lessEqual: cmp(f32x4.le),
};

/**
 * int32 ops whose wrapping i32 result equals the reference's (JavaScript number, then stored to an
 * Int32Array): add/sub (exact sums wrap the same), comparisons, min/max. Not mul (a float64
 * product loses bits before wrapping) nor div.
 */
const I1: Ex = v128.const([1, 1, 1, 1]);
const icmp = (f: (a: Ex, b: Ex) => Ex): VecBody => (_s, o, [a, b]) => set(o, v128.and(I1, f(a!, b!)));
export const BINARY_I32: Record<string, VecBody> = {
  add: (_s, o, [a, b]) => set(o, i32x4.add(a!, b!)),
  sub: (_s, o, [a, b]) => set(o, i32x4.sub(a!, b!)),
  maximum: (_s, o, [a, b]) => set(o, i32x4.max_s(a!, b!)),
  minimum: (_s, o, [a, b]) => set(o, i32x4.min_s(a!, b!)),
  equal: icmp(i32x4.eq),
  notEqual: icmp(i32x4.ne),
  greater: icmp(i32x4.gt_s),
  greaterEqual: icmp(i32x4.ge_s),
  less: icmp(i32x4.lt_s),
  lessEqual: icmp(i32x4.le_s),
};

/** where(c, a, b) with a float condition (c != 0, NaN counts as true) or an int32 one. */
export const WHERE: Record<string, VecBody> = {
  where_f: (s, o, [c, a, b]) => withLocals(s, [c!, a!, b!], ([cc, aa, bb]) => set(o, v128.bitselect(get(aa!), get(bb!), f32x4.ne(get(cc!), C(0))))),
  where_i: (s, o, [c, a, b]) =>
    withLocals(s, [c!, a!, b!], ([cc, aa, bb]) => set(o, v128.bitselect(get(aa!), get(bb!), i32x4.ne(get(cc!), v128.const([0, 0, 0, 0]))))),
};

/** Adds `name(y, n0, n1, n2, [ptr, s0, s1, inner] × nIn)`. */
export function addMapKernel(mb: ModuleBuilder, name: string, nIn: number, body: VecBody, relaxed: boolean): Func {
  const f = mb.func(name, Array(4 + 4 * nIn).fill('i32'), []);
  const [y, n0, n1, n2] = [0, 1, 2, 3];
  const P = (k: number) => 4 + 4 * k;
  const s = new Scratch(f, relaxed);
  const i0 = f.local('i32'), i1 = f.local('i32');
  const py = f.local('i32'), pend = f.local('i32'), vend = f.local('i32');
  const ptr = Array.from({ length: nIn }, () => f.local('i32'));
  const splat = Array.from({ length: nIn }, () => f.local('v128'));
  const out = f.local('v128');
  const mode = f.local('i32');

  // the inner loop for one combination of contiguous (bit k set) / broadcast inputs
  const inner = (m: number): Ex => {
    const vin = (k: number): Ex => ((m >> k) & 1 ? v128.load(get(ptr[k]!)) : get(splat[k]!));
    const sin = (k: number): Ex => ((m >> k) & 1 ? v128.load32_splat(get(ptr[k]!)) : get(splat[k]!));
    const advance = (bytes: number): Ex[] => [
      set(py, i32.add(get(py), i32.const(bytes))),
      ...ptr.flatMap((p, k) => ((m >> k) & 1 ? [set(p, i32.add(get(p), i32.const(bytes)))] : [])),
    ];
    return seq(
      ...ptr.flatMap((p, k) => ((m >> k) & 1 ? [] : [set(splat[k]!, v128.load32_splat(get(p)))])),
      block(
        brIf(0, i32.ge_u(get(py), get(vend))),
        loop(body(s, out, ptr.map((_, k) => vin(k))), v128.store(get(py), get(out)), ...advance(16), brIf(0, i32.lt_u(get(py), get(vend)))),
      ),
      block(
        brIf(0, i32.ge_u(get(py), get(pend))),
        loop(
          body(s, out, ptr.map((_, k) => sin(k))),
          i32.store(get(py), i32x4.extract_lane(get(out), 0)), // bit-exact for every dtype
          ...advance(4),
          brIf(0, i32.lt_u(get(py), get(pend))),
        ),
      ),
    );
  };
  const dispatch: Ex[] = [];
  for (let m = 0; m < 1 << nIn; m++) dispatch.push(ifThen(i32.eq(get(mode), i32.const(m)), [inner(m)]));

  f.emit(
    set(mode, i32.const(0)),
    ...Array.from({ length: nIn }, (_, k) => set(mode, i32.or(get(mode), i32.shl(get(P(k) + 3), i32.const(k))))),
    forLoop(i0, i32.const(0), get(n0), 1,
      forLoop(i1, i32.const(0), get(n1), 1,
        set(py, i32.add(get(y), i32.shl(i32.mul(i32.add(i32.mul(get(i0), get(n1)), get(i1)), get(n2)), i32.const(2)))),
        set(pend, i32.add(get(py), i32.shl(get(n2), i32.const(2)))),
        set(vend, i32.add(get(py), i32.shl(i32.and(get(n2), i32.const(~3)), i32.const(2)))),
        ...ptr.map((p, k) =>
          set(p, i32.add(get(P(k)), i32.shl(i32.add(i32.mul(get(i0), get(P(k) + 1)), i32.mul(get(i1), get(P(k) + 2))), i32.const(2)))),
        ),
        ...dispatch,
      ),
    ),
  );
  return f;
}

/** Adds every elementwise kernel: `un_<op>`, `bin_<op>`, `bini_<op>` (int32), `where_f`, `where_i`. */
export function addElementwise(mb: ModuleBuilder, relaxed: boolean): void {
  for (const [op, body] of Object.entries(UNARY)) addMapKernel(mb, `un_${op}`, 1, body, relaxed);
  for (const [op, body] of Object.entries(BINARY)) addMapKernel(mb, `bin_${op}`, 2, body, relaxed);
  for (const [op, body] of Object.entries(BINARY_I32)) addMapKernel(mb, `bini_${op}`, 2, body, relaxed);
  for (const [op, body] of Object.entries(WHERE)) addMapKernel(mb, op, 3, body, relaxed);
}
