/**
 * `node dist/experiments/bench/screen_estimate.js [--d 256 --m 4096 --k 32 --rows 128]`: how many
 * candidates the screened TopK of ENCODER_SCREENING.md would rescore, on the benchmark's data (x ~
 * N(0, 1), the SAE's initial encoder = decoder transpose with unit rows; g ~ 1e-2·N(0, 1)):
 *  - TopK, int8 x (per row) / 7-bit W_enc (per column) with the proven bound ε_br;
 *  - g-SAE (β = 1), the product-free Cauchy–Schwarz screen |a_r| ≤ ‖g_b‖‖d_r‖ on the exact z.
 * Host arithmetic in float64 (the estimate needs no kernel); prints mean and max candidates per
 * row and the fraction of m. A design measurement, not part of any training path.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Rng } from '../../engine/index.js';
import { initDecoderAndEncoder } from '../../sae/common.js';

function arg(argv: readonly string[], name: string, def: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`screen_estimate: --${name} must be a positive integer, got ${argv[i + 1]}`);
  return v;
}

/** Candidates of one row: latents whose upper bound reaches the k-th largest lower bound. */
function candidates(lo: Float64Array, hi: Float64Array, k: number): number {
  const tau = Float64Array.from(lo).sort().reverse()[k - 1]!;
  let c = 0;
  for (let r = 0; r < hi.length; r++) if (hi[r]! >= tau) c++;
  return c;
}

export function main(argv: readonly string[]): void {
  const d = arg(argv, 'd', 256), m = arg(argv, 'm', 4096), k = arg(argv, 'k', 32), rows = arg(argv, 'rows', 128);
  const rng = new Rng(0);
  const { W_enc } = initDecoderAndEncoder(d, m, rng);
  const W = W_enc.data; // [d, m]; W_dec rows = W_enc columns at init (unit norm)
  const sigma = new Float64Array(m), w1 = new Float64Array(m), norm = new Float64Array(m);
  const Q = new Int8Array(d * m);
  for (let r = 0; r < m; r++) {
    let mx = 0, l1 = 0, l2 = 0;
    for (let t = 0; t < d; t++) {
      const v = W[t * m + r]!;
      mx = Math.max(mx, Math.abs(v));
      l1 += Math.abs(v);
      l2 += v * v;
    }
    sigma[r] = mx / 63;
    w1[r] = l1;
    norm[r] = Math.sqrt(l2);
    for (let t = 0; t < d; t++) Q[t * m + r] = Math.round(W[t * m + r]! / (sigma[r]! || 1));
  }
  const gamma = (d * 2 ** -24) / (1 - d * 2 ** -24);
  const stats = { topk: [] as number[], gsae: [] as number[], width: [] as number[] };
  const z = new Float64Array(m), zq = new Float64Array(m), lo = new Float64Array(m), hi = new Float64Array(m);
  for (let b = 0; b < rows; b++) {
    const x = Float64Array.from({ length: d }, () => rng.normal());
    const g = Float64Array.from({ length: d }, () => rng.normal() * 1e-2);
    let xmax = 0, x1 = 0, g2 = 0;
    for (let t = 0; t < d; t++) {
      xmax = Math.max(xmax, Math.abs(x[t]!));
      x1 += Math.abs(x[t]!);
      g2 += g[t]! * g[t]!;
    }
    const s = xmax / 127;
    const qx = Int8Array.from(x, (v) => Math.round(v / s));
    z.fill(0);
    zq.fill(0);
    for (let t = 0; t < d; t++) {
      for (let r = 0; r < m; r++) {
        z[r]! += x[t]! * W[t * m + r]!;
        zq[r]! += qx[t]! * Q[t * m + r]!;
      }
    }
    for (let r = 0; r < m; r++) {
      const e = (sigma[r]! / 2) * x1 + (s / 2) * w1[r]! + (d * s * sigma[r]!) / 4 + gamma * xmax * w1[r]!;
      const eps = e * (1 + 2 ** -20);
      const c = s * sigma[r]! * zq[r]!;
      lo[r] = c - eps;
      hi[r] = c + eps;
      stats.width.push(eps);
    }
    stats.topk.push(candidates(lo, hi, k));
    // g-SAE: s = z (1 + β|a|), |a| ≤ A = (1 + γ)‖g‖‖d_r‖, z exact here
    const gn = Math.sqrt(g2);
    for (let r = 0; r < m; r++) {
      const A = (1 + gamma) * gn * norm[r]!;
      lo[r] = z[r]! >= 0 ? z[r]! : z[r]! * (1 + A);
      hi[r] = z[r]! >= 0 ? z[r]! * (1 + A) : z[r]!;
    }
    stats.gsae.push(candidates(lo, hi, k));
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const show = (name: string, a: number[]) =>
    console.log(`${name}: candidates per row mean ${mean(a).toFixed(1)}, max ${Math.max(...a)} of m = ${m} (${((100 * mean(a)) / m).toFixed(1)}%; k = ${k})`);
  console.log(`d ${d} m ${m} k ${k}, ${rows} rows of x ~ N(0, 1), initial SAE weights; mean bound half-width ε ${mean(stats.width).toFixed(3)}`);
  show('topk, int8 x / 7-bit W_enc screen', stats.topk);
  show('g-SAE (β = 1), Cauchy–Schwarz screen on exact z', stats.gsae);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main(process.argv.slice(2));
