/**
 * Seed-paired statistics for comparing two SAE configurations trained on the same seeds.
 *
 * Two runs with the same seed share their initialisation draw, batch order and steering sample,
 * so the natural unit is the per-seed difference d_s = metric(A, s) − metric(B, s). The interval
 * is the paired (one-sample) Student t interval on those differences:
 *   d̄ ± t_{1−α/2, n−1} · sd(d) / √n,
 * which is exact when the differences are normal and otherwise the standard small-sample choice.
 * A claim about the sign of the difference is then called from the interval alone.
 */

/**
 * P(|T| ≤ t) for Student's t with integer ν degrees of freedom, by the closed forms of
 * Abramowitz & Stegun 26.7.3 (odd ν) and 26.7.4 (even ν) with θ = atan(t/√ν). Integer ν is all a
 * seed count needs, and the finite series avoid an incomplete-beta implementation.
 */
export function tTwoSidedMass(t: number, nu: number): number {
  if (!Number.isInteger(nu) || nu < 1) throw new Error(`degrees of freedom must be a positive integer, got ${nu}`);
  if (!(t >= 0)) throw new Error(`t must be ≥ 0, got ${t}`);
  if (t === Infinity) return 1;
  const theta = Math.atan(t / Math.sqrt(nu));
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  if (nu % 2 === 1) {
    if (nu === 1) return (2 * theta) / Math.PI;
    // cos θ + (2/3) cos³θ + (2·4)/(3·5) cos⁵θ + … up to cos^{ν−2}θ
    let term = c;
    let sum = c;
    for (let j = 3; j <= nu - 2; j += 2) {
      term *= ((j - 1) / j) * c * c;
      sum += term;
    }
    return (2 / Math.PI) * (theta + s * sum);
  }
  // 1 + (1/2) cos²θ + (1·3)/(2·4) cos⁴θ + … up to cos^{ν−2}θ
  let term = 1;
  let sum = 1;
  for (let j = 2; j <= nu - 2; j += 2) {
    term *= ((j - 1) / j) * c * c;
    sum += term;
  }
  return s * sum;
}

/** The two-sided critical value t_{(1+level)/2, ν}: P(|T| ≤ t) = level, by bisection. */
export function tCritical(nu: number, level = 0.95): number {
  if (!(level > 0 && level < 1)) throw new Error(`confidence level must be in (0, 1), got ${level}`);
  let lo = 0;
  let hi = 1;
  while (tTwoSidedMass(hi, nu) < level) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tTwoSidedMass(mid, nu) < level) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface TInterval {
  /** number of finite observations used */
  n: number;
  mean: number;
  /** sample standard deviation (n − 1 denominator); NaN for n < 2 */
  sd: number;
  /** critical value used (NaN for n < 2) */
  t: number;
  /** interval bounds; NaN for n < 2 (no spread, no interval) */
  lo: number;
  hi: number;
}

/** One-sample t interval of the mean. Non-finite values are left out (and n says how many remain). */
export function tInterval(xs: readonly number[], level = 0.95): TInterval {
  const v = xs.filter((x) => Number.isFinite(x));
  const n = v.length;
  const mean = n ? v.reduce((a, b) => a + b, 0) / n : NaN;
  if (n < 2) return { n, mean, sd: NaN, t: NaN, lo: NaN, hi: NaN };
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const t = tCritical(n - 1, level);
  const half = (t * sd) / Math.sqrt(n);
  return { n, mean, sd, t, lo: mean - half, hi: mean + half };
}

/** Paired t interval of a − b over matched observations (same seed in both arrays' position). */
export function pairedInterval(a: readonly number[], b: readonly number[], level = 0.95): TInterval {
  if (a.length !== b.length) throw new Error(`paired interval needs matched samples, got ${a.length} and ${b.length} values`);
  return tInterval(a.map((x, i) => x - b[i]!), level);
}

export type Verdict = 'holds' | 'reversed' | 'unresolved';

/**
 * A claim that A's metric is lower (or higher) than B's, called from the interval of A − B alone:
 * holds when the whole interval lies on the claimed side of 0, reversed when it lies wholly on the
 * other side, unresolved otherwise (including when there is no interval, n < 2).
 */
export function verdictOf(iv: Pick<TInterval, 'lo' | 'hi'>, claim: 'lower' | 'higher'): Verdict {
  if (!Number.isFinite(iv.lo) || !Number.isFinite(iv.hi)) return 'unresolved';
  const below = iv.hi < 0;
  const above = iv.lo > 0;
  if (claim === 'lower') return below ? 'holds' : above ? 'reversed' : 'unresolved';
  return above ? 'holds' : below ? 'reversed' : 'unresolved';
}
