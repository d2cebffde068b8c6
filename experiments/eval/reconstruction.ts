/**
 * Reconstruction metrics of METHODS.md §3, accumulated over an evaluation set in float64 on the
 * host (numerators and denominators summed separately, then divided once, as the methods say):
 * MSE, FVU / explained variance, L0, latents never active, γ (relative reconstruction bias),
 * l2 ratio and mean cosine(x, x̂).
 */
import { ShapeError, fmtShape } from '../../engine/index.js';

export interface ReconstructionMetrics {
  tokens: number;
  mse: number;
  fvu: number;
  explained_variance: number;
  l0: number;
  /** fraction of latents with no activation anywhere in the evaluation set */
  never_active_fraction: number;
  /** γ = E||x̂||² / E[x̂·x]; below 1 means shrinkage */
  gamma: number;
  l2_ratio: number;
  cosine: number;
}

/** Streaming accumulator: feed rows of x, x̂ ([N, d]) and codes f ([N, m]) as host arrays. */
export class ReconstructionAccumulator {
  private n = 0;
  private sqErr = 0;
  private sumX: Float64Array;
  private sumSqX = 0;
  private nnz = 0;
  private active: Uint8Array;
  private sumSqHat = 0;
  private sumDot = 0;
  private sumNormHat = 0;
  private sumNormX = 0;
  private sumCos = 0;

  constructor(readonly d: number, readonly m: number, readonly firedThreshold = 0) {
    this.sumX = new Float64Array(d);
    this.active = new Uint8Array(m);
  }

  add(x: ArrayLike<number>, xhat: ArrayLike<number>, f: ArrayLike<number>): void {
    const { d, m } = this;
    const rows = x.length / d;
    if (!Number.isInteger(rows) || xhat.length !== x.length || f.length !== rows * m) {
      throw new ShapeError(`reconstruction metrics: x has ${x.length} values, x̂ ${xhat.length}, f ${f.length}; expected [N, ${d}], [N, ${d}], [N, ${m}]`);
    }
    for (let r = 0; r < rows; r++) {
      let err = 0, sx = 0, sh = 0, dot = 0;
      for (let j = 0; j < d; j++) {
        const a = x[r * d + j]!;
        const b = xhat[r * d + j]!;
        err += (a - b) * (a - b);
        sx += a * a;
        sh += b * b;
        dot += a * b;
        this.sumX[j]! += a;
      }
      if (!Number.isFinite(err)) throw new ShapeError(`reconstruction metrics: non-finite reconstruction at row ${this.n + r}`);
      this.sqErr += err;
      this.sumSqX += sx;
      this.sumSqHat += sh;
      this.sumDot += dot;
      this.sumNormX += Math.sqrt(sx);
      this.sumNormHat += Math.sqrt(sh);
      this.sumCos += sx > 0 && sh > 0 ? dot / Math.sqrt(sx * sh) : 0;
      for (let i = 0; i < m; i++) {
        if (f[r * m + i]! > this.firedThreshold) {
          this.nnz++;
          this.active[i] = 1;
        }
      }
    }
    this.n += rows;
  }

  result(): ReconstructionMetrics {
    const { n, d } = this;
    if (n === 0) throw new ShapeError('reconstruction metrics: no rows were added');
    // Σ||x − mean||² = Σ||x||² − N ||mean||²
    let meanSq = 0;
    for (let j = 0; j < d; j++) meanSq += (this.sumX[j]! / n) ** 2;
    const totalVar = this.sumSqX - n * meanSq;
    const fvu = this.sqErr / totalVar;
    let alive = 0;
    for (const a of this.active) alive += a;
    return {
      tokens: n,
      mse: this.sqErr / n,
      fvu,
      explained_variance: 1 - fvu,
      l0: this.nnz / n,
      never_active_fraction: 1 - alive / this.m,
      gamma: this.sumSqHat / this.sumDot,
      l2_ratio: this.sumNormHat / this.sumNormX,
      cosine: this.sumCos / n,
    };
  }
}

/** For each decoder direction (rows of dec [m, d]), its largest cosine similarity to any other. */
export function decoderMaxCosines(dec: ArrayLike<number>, m: number, d: number): Float64Array {
  if (dec.length !== m * d) throw new ShapeError(`decoderMaxCosines: ${dec.length} values do not form ${fmtShape([m, d])}`);
  const norms = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += dec[i * d + j]! ** 2;
    norms[i] = Math.sqrt(s) || 1;
  }
  const best = new Float64Array(m).fill(-1);
  for (let i = 0; i < m; i++) {
    for (let k = i + 1; k < m; k++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += dec[i * d + j]! * dec[k * d + j]!;
      const c = s / (norms[i]! * norms[k]!);
      if (c > best[i]!) best[i] = c;
      if (c > best[k]!) best[k] = c;
    }
  }
  return best;
}

/** Quantiles (linear interpolation) of a sample, for compact distribution summaries. */
export function quantiles(xs: ArrayLike<number>, qs: readonly number[]): number[] {
  const s = Float64Array.from(xs).sort();
  return qs.map((q) => {
    if (s.length === 0) return NaN;
    const pos = q * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(s.length - 1, lo + 1);
    return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
  });
}
