/**
 * Turns result rows into plain statements about the papers' claims, with their uncertainty. The
 * g-SAE vs TopK claims are called from seed-paired t intervals (eval/statistics.ts): "holds",
 * "reversed" or "unresolved" from the interval of the paired difference alone.
 */
import type { Row } from './tables.js';
import { pairedInterval, verdictOf, type TInterval, type Verdict } from '../eval/statistics.js';

const num = (r: Row, k: string): number => (typeof r[k] === 'number' ? (r[k] as number) : NaN);

export interface Agg {
  group: string;
  key: string;
  n: number;
  mean: Record<string, number>;
  sd: Record<string, number>;
  rows: Row[];
}

const METRICS = ['fvu', 'l0', 'loss_added', 'loss_recovered_zero', 'dead_fraction', 'gamma', 'steer_mean', 'steer_lo', 'steer_hi', 'kl', 'never_active_fraction'];

/** Averages rows over seeds, per (group, k / λ). */
export function aggregate(rows: readonly Row[]): Agg[] {
  const by = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.group}|${r.id}`;
    by.set(key, [...(by.get(key) ?? []), r]);
  }
  return [...by.entries()].map(([key, rs]) => {
    const mean: Record<string, number> = {};
    const sd: Record<string, number> = {};
    for (const m of METRICS) {
      const xs = rs.map((r) => num(r, m));
      const mu = xs.reduce((a, b) => a + b, 0) / xs.length;
      mean[m] = mu;
      sd[m] = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mu) ** 2, 0) / (xs.length - 1)) : NaN;
    }
    return { group: String(rs[0]!.group), key, n: rs.length, mean, sd, rows: rs };
  });
}

const f = (x: number, d = 4) => (Number.isFinite(x) ? Number(x.toPrecision(d)).toString() : 'n/a');
const pm = (a: Agg, m: string) => (a.n > 1 ? `${f(a.mean[m]!)} ± ${f(a.sd[m]!, 2)}` : f(a.mean[m]!));

/** Every metric compared between paired runs (the report's paired-difference table). */
export const PAIRED_METRICS = ['loss_added', 'fvu', 'l0', 'loss_recovered_zero', 'kl', 'dead_fraction', 'never_active_fraction', 'gamma', 'steer_mean', 'dec_maxcos_median'] as const;

/** The papers' claims about g-SAEs against TopK at equal k, as the sign of g-SAE − TopK. */
export const GSAE_CLAIMS: { metric: (typeof PAIRED_METRICS)[number]; claim: 'lower' | 'higher'; says: string }[] = [
  { metric: 'loss_added', claim: 'lower', says: 'lower loss added' },
  { metric: 'dead_fraction', claim: 'lower', says: 'fewer dead latents' },
  { metric: 'steer_mean', claim: 'higher', says: 'stronger steering (probability addition)' },
  { metric: 'dec_maxcos_median', claim: 'higher', says: 'more similar decoder columns (median max-cosine)' },
];

export interface PairedComparison {
  k: number;
  /** the g-SAE run's group and id, and the TopK run it is paired with */
  group: string;
  id: string;
  baseline: string;
  /** seeds present in both runs, in order */
  seeds: number[];
  diff: Record<string, TInterval>;
  /** mean of each side over the paired seeds */
  means: Record<string, { a: number; b: number }>;
  verdicts: { metric: string; claim: 'lower' | 'higher'; says: string; verdict: Verdict }[];
}

/**
 * Pairs runs `a` and `b` by seed and gives the seed-paired t interval of a − b for each metric.
 * Seeds present on one side only are left out (and the seed list says which were used).
 */
export function pairRuns(a: readonly Row[], b: readonly Row[], metrics: readonly string[] = PAIRED_METRICS): Pick<PairedComparison, 'seeds' | 'diff' | 'means'> {
  const bySeed = new Map(b.map((r) => [r.seed as number, r]));
  const pairs = a.filter((r) => bySeed.has(r.seed as number)).sort((x, y) => (x.seed as number) - (y.seed as number));
  const seeds = pairs.map((r) => r.seed as number);
  const diff: Record<string, TInterval> = {};
  const means: Record<string, { a: number; b: number }> = {};
  for (const m of metrics) {
    const xa = pairs.map((r) => num(r, m));
    const xb = pairs.map((r) => num(bySeed.get(r.seed as number)!, m));
    diff[m] = pairedInterval(xa, xb);
    const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    means[m] = { a: avg(xa), b: avg(xb) };
  }
  return { seeds, diff, means };
}

/** Every g-SAE run against the TopK run at the same k, seed by seed. */
export function gsaeVsTopkPairs(rows: readonly Row[]): PairedComparison[] {
  const out: PairedComparison[] = [];
  const ks = [...new Set(rows.filter((r) => typeof r.k === 'number').map((r) => r.k as number))].sort((a, b) => a - b);
  for (const k of ks) {
    const topk = rows.filter((r) => r.variant === 'topk' && r.k === k);
    if (topk.length === 0) continue;
    const ids = [...new Set(rows.filter((r) => r.variant === 'gsae' && r.k === k).map((r) => String(r.id)))];
    for (const id of ids) {
      const g = rows.filter((r) => r.id === id);
      const p = pairRuns(g, topk);
      out.push({
        k, group: String(g[0]!.group), id, baseline: String(topk[0]!.id), ...p,
        verdicts: GSAE_CLAIMS.map((c) => ({ ...c, verdict: verdictOf(p.diff[c.metric]!, c.claim) })),
      });
    }
  }
  return out;
}

const iv = (x: TInterval, d = 3) => (x.n >= 2 ? `${f(x.mean, d)} [${f(x.lo, d)}, ${f(x.hi, d)}]` : `${f(x.mean, d)} (n = ${x.n}, no interval)`);

export function gsaeVsTopkFindings(rows: readonly Row[]): string[] {
  return gsaeVsTopkPairs(rows).map((p) => {
    const claims = p.verdicts.map((v) => `"${v.says}" **${v.verdict}** (Δ ${iv(p.diff[v.metric]!)})`).join('; ');
    const sm = p.means.steer_mean!;
    const ratio = sm.b !== 0 && Number.isFinite(sm.a / sm.b) ? `; steering ratio g-SAE/TopK of the seed means ${f(sm.a / sm.b, 3)}` : '';
    return `k=${p.k}, ${p.group} vs TopK (seeds ${p.seeds.join(', ')}): ${claims}; FVU Δ ${iv(p.diff.fvu!)}${ratio}.`;
  });
}

/** Markdown table: for each pair, the paired difference of every metric with its 95% interval. */
export function pairedDifferenceTable(pairs: readonly PairedComparison[], metrics: readonly string[] = PAIRED_METRICS): string {
  const head = `| pair | n | ${metrics.join(' | ')} |`;
  const sep = `|---|---|${metrics.map(() => '---').join('|')}|`;
  const body = pairs.map((p) => `| ${p.id} − ${p.baseline} | ${p.seeds.length} | ${metrics.map((m) => iv(p.diff[m]!)).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

/** Linear interpolation of y at x over points (sorted here; null outside their range). */
export function interp(points: readonly [number, number][], x: number): number | null {
  const p = [...points].sort((a, b) => a[0] - b[0]);
  if (p.length === 0 || x < p[0]![0] || x > p[p.length - 1]![0]) return null;
  for (let i = 0; i + 1 < p.length; i++) {
    const [x0, y0] = p[i]!;
    const [x1, y1] = p[i + 1]!;
    if (x >= x0 && x <= x1) return x1 === x0 ? y0 : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  }
  return p.length === 1 && p[0]![0] === x ? p[0]![1] : null;
}

export function paretoFindings(rows: readonly Row[]): string[] {
  const aggs = aggregate(rows);
  const groups = [...new Set(aggs.map((a) => a.group))];
  const out: string[] = [];
  const pts = (g: string, m: string) => aggs.filter((a) => a.group === g).map((a) => [Math.log(a.mean.l0!), a.mean[m]!] as [number, number]);
  const gam = (g: string) => {
    const as = aggs.filter((a) => a.group === g);
    return as.reduce((s, a) => s + a.mean.gamma!, 0) / as.length;
  };
  for (const g of groups) out.push(`${g}: mean γ ${f(gam(g))} (${gam(g) < 1 ? 'shrinks' : 'no shrinkage'}), L0 from ${f(Math.min(...aggs.filter((a) => a.group === g).map((a) => a.mean.l0!)))} to ${f(Math.max(...aggs.filter((a) => a.group === g).map((a) => a.mean.l0!)))}.`);
  if (groups.includes('Gated') && groups.includes('ReLU-L1')) {
    out.push(`Gated vs ReLU-L1 shrinkage: γ ${f(gam('Gated'))} vs ${f(gam('ReLU-L1'))} → "Gated shrinks less" ${gam('Gated') > gam('ReLU-L1') ? 'holds' : 'does not hold'} (single number per run; γ has no interval here).`);
    const a = pts('Gated', 'loss_recovered_zero');
    const b = pts('ReLU-L1', 'loss_recovered_zero');
    const lo = Math.max(Math.min(...a.map((p) => p[0])), Math.min(...b.map((p) => p[0])));
    const hi = Math.min(Math.max(...a.map((p) => p[0])), Math.max(...b.map((p) => p[0])));
    if (lo <= hi) {
      const x = (lo + hi) / 2;
      const ya = interp(a, x)!;
      const yb = interp(b, x)!;
      out.push(`At L0 ≈ ${f(Math.exp(x), 3)} (interpolated in log L0), loss recovered: Gated ${f(ya)} vs ReLU-L1 ${f(yb)} → "better L0/fidelity frontier" ${ya > yb ? 'holds' : 'does not hold'} at this point.`);
    } else out.push('Gated and ReLU-L1 reached non-overlapping L0 ranges, so their frontiers cannot be compared at equal L0 in this run; adjust λ.');
  }
  return out;
}

/** Which side of zero an interval of a − b lies on, for a two-sided question. */
const side = (x: TInterval) => (!(x.n >= 2) ? 'no interval' : x.hi < 0 ? 'lower' : x.lo > 0 ? 'higher' : 'not resolved');

const ABLATION_METRICS = ['loss_added', 'fvu', 'dead_fraction', 'steer_mean'] as const;

/** The fields that make two runs the same configuration apart from the training store's loss reduction. */
const SAME_BUT_REDUCTION = ['k', 'variant', 'beta', 'value_source', 'grad_norm', 'grad_source', 'splice_run'] as const;
/** A row's field, with the store defaults for rows written before the store options existed. */
const field = (r: Row, f: string) => r[f] ?? (f === 'grad_source' ? 'clean' : f === 'grad_reduction' ? 'sum' : null);

/**
 * Each ablated option against the reference g-SAE (β = 1, gradNorm 'rms', values from z) at the
 * same k, seed by seed: the seed-paired interval of option − reference for every metric. A run on
 * the mean-loss store (grad_reduction 'mean') is also paired with its summed-loss counterpart when
 * that is another run than the reference (e.g. gradNorm 'none' with mean − with sum).
 */
export function ablationPairs(rows: readonly Row[]): PairedComparison[] {
  const out: PairedComparison[] = [];
  const ks = [...new Set(rows.filter((r) => typeof r.k === 'number').map((r) => r.k as number))].sort((a, b) => a - b);
  for (const k of ks) {
    const refId = `gsae-k${k}-b1`;
    const ref = rows.filter((r) => r.id === refId);
    if (ref.length === 0) continue;
    const ids = [...new Set(rows.filter((r) => r.k === k && r.id !== refId).map((r) => String(r.id)))];
    for (const id of ids) {
      const a = rows.filter((r) => r.id === id);
      out.push({ k, group: String(a[0]!.group), id, baseline: refId, ...pairRuns(a, ref), verdicts: [] });
    }
    for (const id of ids) {
      const a = rows.filter((r) => r.id === id);
      if (a[0]!.grad_reduction !== 'mean') continue;
      const twin = rows.find((r) => r.id !== id && r.id !== refId && field(r, 'grad_reduction') === 'sum' && SAME_BUT_REDUCTION.every((f) => field(r, f) === field(a[0]!, f)));
      if (!twin) continue;
      out.push({ k, group: String(a[0]!.group), id, baseline: String(twin.id), ...pairRuns(a, rows.filter((r) => r.id === twin.id)), verdicts: [] });
    }
  }
  return out;
}

export function ablationFindings(rows: readonly Row[]): string[] {
  const out: string[] = [];
  for (const seed of [...new Set(rows.map((r) => r.seed as number))].sort((a, b) => a - b)) {
    for (const k of [...new Set(rows.map((r) => r.k as number))].sort((a, b) => a - b)) {
      const rs = rows.filter((r) => r.seed === seed && r.k === k);
      const topk = rs.find((r) => r.variant === 'topk');
      const b0 = rs.find((r) => r.variant === 'gsae' && r.beta === 0);
      if (topk && b0) {
        const same = ['fvu', 'l0', 'loss_added', 'dead_fraction', 'gamma'].every((m) => topk[m] === b0[m]);
        out.push(`k=${k}, seed ${seed}: g-SAE with β = 0 ${same ? 'reproduces TopK exactly (every metric bit for bit)' : 'DIFFERS from TopK — a bug'}.`);
      }
    }
  }
  // what the training-store options mean (experiments/train_stores.ts), when the suite has them
  if (rows.some((r) => r.grad_source === 'spliced')) {
    out.push("Gradient source: runs with grad_source 'spliced' train on g = ∂L/∂x̂, the loss gradient at the hook with the reference SAE of the same seed (splice_run) spliced in at every position (it encodes with the clean g); their activations x are the clean ones, and they are evaluated, like every run, with clean gradients.");
  }
  if (rows.some((r) => r.grad_reduction === 'mean')) {
    out.push("Loss reduction: runs with grad_reduction 'mean' train on (and are evaluated with) gradients of the next-token CE averaged over each capture batch's B·(T−1) scored positions instead of summed, i.e. g divided by B·(T−1); under gradNorm 'rms' (a divided by its RMS over each training batch) a uniform scale of g cancels up to rounding, except in batches that mix rows of the store's last, shorter capture batch (B smaller there); under gradNorm 'none' β's effective weight is divided by B·(T−1). Each is also paired with its summed-loss twin where that is not the reference.");
  }
  for (const p of ablationPairs(rows)) {
    const parts = ABLATION_METRICS.map((m) => `${m} Δ ${iv(p.diff[m]!)} (${side(p.diff[m]!)})`);
    const base = p.baseline === `gsae-k${p.k}-b1` ? 'g-SAE β=1 reference' : p.baseline;
    out.push(`k=${p.k}, ${p.group} − ${base} (seeds ${p.seeds.join(', ')}): ${parts.join('; ')}.`);
  }
  return out;
}
