/**
 * Vector (f32x4) math for the elementwise kernels: exp, log, tanh, GELU and its derivative.
 * exp/log/tanh follow Cephes' single-precision algorithms (range reduction + minimax
 * polynomial, a few ulp); special values (±Inf, NaN, ±0, subnormals) match JavaScript's Math.
 * GELU is written as x·σ(2u) instead of ½x(1 + tanh u): the same function without the
 * cancellation of 1 + tanh u for negative x, so it keeps its relative accuracy in float32.
 */
import { f32x4, get, i32, i32x4, set, v128, seq, type Ex, type Func } from '../encoder.js';

const I = (v: number): Ex => v128.const([v, v, v, v]);
const C = (v: number): Ex => f32x4.const(v);
const mul = f32x4.mul, add = f32x4.add, sub = f32x4.sub;

/** Horner evaluation c0·t^n + ... + cn with `t` a local (fused multiply-adds where allowed). */
function horner(s: Scratch, t: number, coeffs: readonly number[]): Ex {
  let acc = C(coeffs[0]!);
  for (let i = 1; i < coeffs.length; i++) acc = s.madd(acc, get(t), C(coeffs[i]!));
  return acc;
}

/**
 * Per-function code-generation context: scratch v128 locals (reused; TurboFan renames them)
 * and the multiply-add flavour (relaxed SIMD's fused one where available).
 */
export class Scratch {
  private readonly pool: number[] = [];
  private used = 0;
  constructor(
    private readonly f: Func,
    readonly relaxed: boolean,
  ) {}
  /** a·b + c */
  madd(a: Ex, b: Ex, c: Ex): Ex {
    return this.relaxed ? f32x4.relaxed_madd(a, b, c) : add(mul(a, b), c);
  }
  v(): number {
    if (this.used === this.pool.length) this.pool.push(this.f.local('v128'));
    return this.pool[this.used++]!;
  }
  /** Frees every local taken since `mark()`. */
  mark(): number {
    return this.used;
  }
  reset(m: number): void {
    this.used = m;
  }
}

/** Statements computing exp(x) into local `out` (x is evaluated once). */
export function expV(s: Scratch, out: number, x: Ex): Ex {
  const m = s.mark();
  const xv = s.v(), fx = s.v(), t = s.v(), y = s.v(), n = s.v();
  const code = seq(
    // clamp with the one-instruction pseudo-min/max (NaN passes through: its comparisons are false)
    set(xv, f32x4.pmin(f32x4.pmax(x, C(-104)), C(89))),
    set(fx, f32x4.nearest(mul(get(xv), C(1.44269504088896341)))),
    set(t, sub(sub(get(xv), mul(get(fx), C(0.693359375))), mul(get(fx), C(-2.12194440e-4)))),
    set(y, add(add(mul(horner(s, t, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]), mul(get(t), get(t))), get(t)), C(1))),
    // n = fx as an integer: adding 1.5·2^23 puts it in the low mantissa bits (exact for |n| < 2^22;
    // a NaN lane gives garbage here but y is NaN already)
    set(n, i32x4.sub(f32x4.add(get(fx), C(12582912)), I(0x4b400000))),
    // 2^n in two halves so that n in [-150, 128] stays within the exponent range of each factor
    set(fx, i32x4.shr_s(get(n), i32.const(1))), // reuse fx as n1 (integer lanes)
    set(n, i32x4.sub(get(n), get(fx))), // n2 = n - n1
    set(out, mul(mul(get(y), pow2(get(fx))), pow2(get(n)))),
  );
  s.reset(m);
  return code;
}

/** 2^n for integer lanes n in [-126, 127]. */
const pow2 = (n: Ex): Ex => i32x4.shl(i32x4.add(n, I(127)), i32.const(23));

/** Statements computing the natural log of x into local `out`. */
export function logV(s: Scratch, out: number, x: Ex): Ex {
  const m = s.mark();
  const xv = s.v(), sub_ = s.v(), bits = s.v(), e = s.v(), mm = s.v(), lt = s.v(), t = s.v(), z = s.v(), y = s.v(), fe = s.v();
  const code = seq(
    set(xv, x),
    // subnormals: scale by 2^23 first and remember to take 23 off the exponent
    set(sub_, v128.and(f32x4.lt(get(xv), C(1.17549435e-38)), f32x4.gt(get(xv), C(0)))),
    set(xv, v128.bitselect(mul(get(xv), C(8388608)), get(xv), get(sub_))),
    set(bits, get(xv)),
    set(e, i32x4.sub(i32x4.shr_u(get(bits), i32.const(23)), I(126))),
    set(e, i32x4.sub(get(e), v128.and(get(sub_), I(23)))),
    set(mm, v128.or(v128.and(get(bits), I(0x007fffff)), I(0x3f000000))), // mantissa in [0.5, 1)
    set(lt, f32x4.lt(get(mm), C(0.707106781186547524))),
    set(e, i32x4.add(get(e), get(lt))), // lt lanes are -1
    set(t, v128.bitselect(sub(add(get(mm), get(mm)), C(1)), sub(get(mm), C(1)), get(lt))),
    set(z, mul(get(t), get(t))),
    set(y, mul(mul(horner(s, t, [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1]), get(t)), get(z))),
    set(fe, f32x4.convert_i32x4_s(get(e))),
    set(y, add(get(y), mul(get(fe), C(-2.12194440e-4)))),
    set(y, sub(get(y), mul(get(z), C(0.5)))),
    set(y, add(add(get(t), get(y)), mul(get(fe), C(0.693359375)))),
    // specials: log(±0) = -Inf, log(x < 0) = NaN, log(+Inf) = +Inf, NaN stays NaN
    set(y, v128.bitselect(C(-Infinity), get(y), f32x4.eq(get(xv), C(0)))),
    set(y, v128.bitselect(C(Infinity), get(y), f32x4.eq(get(xv), C(Infinity)))),
    set(out, v128.bitselect(C(NaN), get(y), v128.not(f32x4.ge(get(xv), C(0))))),
  );
  s.reset(m);
  return code;
}

/** Statements computing tanh(x) into local `out`. */
export function tanhV(s: Scratch, out: number, x: Ex): Ex {
  const m = s.mark();
  const xv = s.v(), z = s.v(), sq = s.v(), small = s.v(), e = s.v();
  const code = seq(
    set(xv, x),
    set(z, f32x4.abs(get(xv))),
    set(sq, mul(get(xv), get(xv))),
    set(small, add(mul(mul(horner(s, sq, [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1]), get(sq)), get(xv)), get(xv))),
    expV(s, e, add(get(z), get(z))),
    set(e, sub(C(1), f32x4.div(C(2), add(get(e), C(1))))),
    set(e, v128.or(get(e), v128.and(get(xv), I(0x80000000 | 0)))), // copy the sign of x
    set(out, v128.bitselect(get(small), get(e), f32x4.lt(get(z), C(0.625)))),
  );
  s.reset(m);
  return code;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * Statements computing gelu(x) (tanh approximation) into `out`:
 * gelu = x·σ(2u) = x / (1 + e), e = exp(-2u), u = c(x + a x³).
 */
export function geluV(s: Scratch, out: number, x: Ex): Ex {
  const m = s.mark();
  const xv = s.v(), e = s.v(), arg = s.v();
  const code = seq(
    set(xv, x),
    set(arg, mul(mul(get(xv), add(C(1), mul(C(GELU_A), mul(get(xv), get(xv))))), C(-2 * GELU_C))),
    expV(s, e, f32x4.pmin(get(arg), C(88))),
    set(out, f32x4.div(get(xv), add(C(1), get(e)))),
    // beyond exp(88) the true value is below float32's range: the reference's ½x(1 + tanh u) gives
    // x·0 = -0 there, and NaN at -Inf
    set(out, v128.bitselect(mul(get(xv), C(0)), get(out), f32x4.ge(get(arg), C(88)))),
  );
  s.reset(m);
  return code;
}

/**
 * d gelu / dx = σ + 2x·c(1 + 3a x²)·σ(1 − σ), with σ = σ(2u) = 1/(1 + e) and σ(1 − σ) = (σe)σ
 * (no cancellation). e is capped at exp(88) so that σe stays finite.
 */
export function geluGradV(s: Scratch, out: number, x: Ex): Ex {
  const m = s.mark();
  const xv = s.v(), e = s.v(), sg = s.v(), x2 = s.v(), arg = s.v();
  const code = seq(
    set(xv, x),
    set(x2, mul(get(xv), get(xv))),
    set(arg, mul(mul(get(xv), add(C(1), mul(C(GELU_A), get(x2)))), C(-2 * GELU_C))),
    expV(s, e, f32x4.pmin(get(arg), C(88))),
    set(sg, f32x4.div(C(1), add(C(1), get(e)))),
    // (x·σe)·σ first: for large x, σe = 0 and the polynomial may overflow
    set(out, add(get(sg), mul(mul(mul(get(xv), mul(get(sg), get(e))), get(sg)), add(C(2 * GELU_C), mul(C(6 * GELU_C * GELU_A), get(x2)))))),
    // e = 0: σ = 1 exactly and the correction vanishes (the reference's 1 + x·0 is NaN at +Inf)
    set(out, v128.bitselect(get(sg), get(out), f32x4.eq(get(e), C(0)))),
    set(out, v128.bitselect(C(NaN), get(out), f32x4.eq(get(xv), C(Infinity)))),
    // beyond exp(88) the derivative underflows to 0 (the reference gets 0 + x·0 there; NaN at -Inf)
    set(out, v128.bitselect(add(mul(get(xv), C(0)), C(0)), get(out), f32x4.ge(get(arg), C(88)))),
  );
  s.reset(m);
  return code;
}
