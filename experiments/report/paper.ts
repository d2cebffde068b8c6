/**
 * The 'paper' suite's report: one run answers both papers' questions, so its rows are split into
 * the comparisons they belong to — the g-SAE vs TopK grid (k × β), the g-SAE's options against the
 * β = 1 reference at k = 16, and the Gated vs ReLU-L1 frontier — and each is reported with the same
 * seed-paired intervals as its own suite. The steering sweep and the dictionary comparison
 * (analyses.json, written by the runner after the SAEs) are rendered by their own modules.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Row } from './tables.js';
import type { Analyses } from '../analyses.js';
import { isGridRun } from '../suites.js';
import { renderSteeringInvestigation } from '../eval/steering_investigation.js';
import { renderFeatureSplitting } from '../eval/feature_splitting.js';
import {
  ablationFindings, ablationPairs, gsaeVsTopkFindings, gsaeVsTopkPairs, interp, pairedDifferenceTable, paretoFindings,
} from './findings.js';
import { pairedInterval, verdictOf, type TInterval } from '../eval/statistics.js';

/** The g-SAE option runs of the paper preset, compared with `gsae-k{k}-b1` (see suites.ts). */
const OPTION_ID = /^gsae-k\d+-(b0|b1-values|raw|b1-spliced|b1-mean|raw-mean)$/;
/** The groups on the L0/fidelity frontier. */
const FRONTIER_GROUPS = new Set(['TopK', 'g-SAE β=1', 'ReLU-L1', 'Gated']);

export const gridRows = (rows: readonly Row[]) => rows.filter((r) => isGridRun(String(r.id)));
export const frontierRows = (rows: readonly Row[]) => rows.filter((r) => isGridRun(String(r.id)) ? FRONTIER_GROUPS.has(String(r.group)) : r.variant === 'relu_l1' || r.variant === 'gated');

/** The option runs with their reference (β = 1) and the TopK of the same k. */
export function optionRows(rows: readonly Row[]): Row[] {
  const ks = new Set(rows.filter((r) => OPTION_ID.test(String(r.id))).map((r) => r.k as number));
  return rows.filter((r) => OPTION_ID.test(String(r.id)) || (ks.has(r.k as number) && (r.id === `gsae-k${r.k}-b1` || r.id === `topk-k${r.k}`)));
}

const f = (x: number, d = 3) => (Number.isFinite(x) ? Number(x.toPrecision(d)).toString() : 'n/a');
const iv = (x: TInterval) => (x.n >= 2 ? `${f(x.mean)} [${f(x.lo)}, ${f(x.hi)}]` : `${f(x.mean)} (n = ${x.n})`);

export interface FrontierComparison {
  seeds: number[];
  /** the common L0 (geometric midpoint of the overlap of the two groups' L0 ranges over all seeds) */
  l0: number | null;
  /** per seed: loss recovered (zero ablation) of A and B interpolated in log L0 at `l0` */
  recovered: { seed: number; a: number; b: number }[];
  recoveredDiff: TInterval | null;
  /** per seed: γ averaged over each group's λ; the seed-paired interval of A − B */
  gamma: { seed: number; a: number; b: number }[];
  gammaDiff: TInterval;
}

/**
 * Gated (A) against ReLU-L1 (B), seed by seed: loss recovered at a common L0 on each seed's own
 * frontier (interpolated in log L0 between its λ points; the L0 is one for all seeds, inside every
 * seed's range where possible) and mean γ, each as a seed-paired t interval of A − B.
 */
export function frontierComparison(rows: readonly Row[], a = 'Gated', b = 'ReLU-L1'): FrontierComparison {
  const seeds = [...new Set(rows.map((r) => r.seed as number))].sort((x, y) => x - y)
    .filter((s) => rows.some((r) => r.seed === s && r.group === a) && rows.some((r) => r.seed === s && r.group === b));
  const pts = (g: string, s: number) => rows.filter((r) => r.group === g && r.seed === s).map((r) => [Math.log(r.l0 as number), r.loss_recovered_zero as number] as [number, number]);
  // the overlap of every seed's L0 range for both groups
  let lo = -Infinity;
  let hi = Infinity;
  for (const s of seeds) {
    for (const g of [a, b]) {
      const xs = pts(g, s).map((p) => p[0]);
      lo = Math.max(lo, Math.min(...xs));
      hi = Math.min(hi, Math.max(...xs));
    }
  }
  const x = seeds.length > 0 && lo <= hi ? (lo + hi) / 2 : null;
  const recovered = x === null ? [] : seeds.map((s) => ({ seed: s, a: interp(pts(a, s), x)!, b: interp(pts(b, s), x)! }));
  const meanGamma = (g: string, s: number) => {
    const gs = rows.filter((r) => r.group === g && r.seed === s).map((r) => r.gamma as number);
    return gs.reduce((t, v) => t + v, 0) / gs.length;
  };
  const gamma = seeds.map((s) => ({ seed: s, a: meanGamma(a, s), b: meanGamma(b, s) }));
  return {
    seeds,
    l0: x === null ? null : Math.exp(x),
    recovered,
    recoveredDiff: x === null ? null : pairedInterval(recovered.map((r) => r.a), recovered.map((r) => r.b)),
    gamma,
    gammaDiff: pairedInterval(gamma.map((g) => g.a), gamma.map((g) => g.b)),
  };
}

export function frontierFindings(rows: readonly Row[]): string[] {
  const fr = frontierRows(rows);
  // paretoFindings' own Gated vs ReLU-L1 lines compare seed means; the paired versions below replace them
  const out = paretoFindings(fr).filter((s) => !s.startsWith('Gated vs ReLU-L1 shrinkage') && !s.startsWith('At L0') && !s.startsWith('Gated and ReLU-L1 reached'));
  if (!fr.some((r) => r.group === 'Gated') || !fr.some((r) => r.group === 'ReLU-L1')) return out;
  const c = frontierComparison(fr);
  out.push(`"Gated shrinks less than ReLU-L1" (γ closer to 1, mean over each group's λ; Gated − ReLU-L1, seeds ${c.seeds.join(', ')}): Δγ ${iv(c.gammaDiff)} → **${verdictOf(c.gammaDiff, 'higher')}**.`);
  if (c.l0 === null || !c.recoveredDiff) out.push('Gated and ReLU-L1 reached L0 ranges that do not overlap on every seed, so their frontiers cannot be compared at equal L0 in this run.');
  else out.push(`"Gated has the better L0/fidelity frontier": loss recovered (zero ablation) at L0 ≈ ${f(c.l0)}, interpolated in log L0 on each seed's own points, Gated − ReLU-L1 ${iv(c.recoveredDiff)} → **${verdictOf(c.recoveredDiff, 'higher')}**.`);
  return out;
}

/** Every findings line of the paper suite (the CLI prints these; the report groups them). */
export function paperFindings(rows: readonly Row[]): string[] {
  return [...gsaeVsTopkFindings(gridRows(rows)), ...ablationFindings(optionRows(rows)), ...frontierFindings(rows)];
}

/** The report sections built from the rows alone (the analyses come after them). */
export function paperRowSections(rows: readonly Row[]): string[] {
  const grid = gridRows(rows);
  const opts = optionRows(rows);
  return [
    '## 1. g-SAE vs TopK across k and β',
    '',
    ...gsaeVsTopkFindings(grid).map((s) => `- ${s}`),
    '',
    'Paired differences (g-SAE − TopK, same k, same seed); each cell: mean over seeds [95% seed-paired t interval].',
    '',
    pairedDifferenceTable(gsaeVsTopkPairs(grid)),
    '',
    '## 2. The g-SAE\'s open choices (each option − the β = 1 reference, same k, same seed)',
    '',
    ...ablationFindings(opts).map((s) => `- ${s}`),
    '',
    pairedDifferenceTable(ablationPairs(opts)),
    '',
    '## 3. Gated vs ReLU-L1: frontier and shrinkage (TopK and g-SAE β = 1 for reference)',
    '',
    ...frontierFindings(rows).map((s) => `- ${s}`),
    '',
  ];
}

/** Sections 4–5 from the run's analyses.json (steering sweep; decoder similarity and splitting), when present. */
export function paperAnalysisSections(outDir: string): string[] {
  const file = join(outDir, 'analyses.json');
  if (!existsSync(file)) return ['## 4–5. Steering sweep, decoder similarity and feature splitting', '', '_Not computed yet: they run after the last SAE (re-run the same command to compute them)._', ''];
  const a = JSON.parse(readFileSync(file, 'utf8')) as Analyses;
  return [
    `## 4. Steering: scale c × latent sample × associated-token rule (${Math.round(a.seconds.steering)} s)`,
    '',
    renderSteeringInvestigation(a.steering),
    '',
    `## 5. Decoder similarity and feature splitting between matched latents (${Math.round(a.seconds.splitting)} s)`,
    '',
    renderFeatureSplitting(a.splitting),
    '',
  ];
}
