/**
 * How alike two dictionaries of the same d_in are, and whether one splits the other's features
 * (issue 12, item 3: the paper's "decoder columns are more similar in g-SAEs" and feature splitting
 * between a g-SAE and the TopK of the same k and seed). Decoder directions only; no data.
 *
 * For dictionaries A (m_A × d) and B (m_B × d), C = cosine matrix of the decoder rows [m_A, m_B]:
 * - matched cosines: the one-to-one assignment maximising Σ C (Hungarian, eval/matching.ts; the
 *   explorer's comparison view uses the same), min(m_A, m_B) pairs; their cosine distribution
 *   (median, p10, p90, fraction ≥ 0.9 and ≥ 0.7). A latent is *unmatched* when it has no assigned
 *   partner or its partner's cosine is below `matchThreshold`; reported as a fraction of each side.
 * - splitting, A → B: for each latent i of A, s_i = #{ j : C_ij ≥ τ } (τ = `splitThreshold`).
 *   Latent i is *split* when s_i ≥ 2 (one direction of A spread over several of B). Reported: the
 *   fraction of A's latents that are split, the mean s_i over the split ones ("split size"), the
 *   largest s_i, the mean s_i over all latents, and the counts of s_i = 0, 1, 2, 3, ≥ 4. B → A the
 *   same with the roles swapped.
 * - within-dictionary geometry (METHODS §3): each column's largest cosine to any *other* column of
 *   its own dictionary (eval/reconstruction.ts's decoderMaxCosines), as median, p10, p90, mean and
 *   a histogram over [0, 1] (values below 0 counted in the first bin).
 * Thresholds are inclusive (≥), as in the explorer. With `alive` masks every statistic is over the
 * alive latents only (dead columns are near their initialisation and would read as unmatched).
 *
 * Over several seeds (`summariseSplitting`): each statistic's mean with a 95% t interval over
 * seeds, and for the statistics that come in an A and a B version (unmatched fraction, split
 * fraction and size, max-cosine median / p90 / mean) the seed-paired interval of A − B
 * (statistics.ts), which is what "g-SAE decoder columns are more similar" is called from.
 */
import { readSaelens } from '../../sae/saelens.js';
import { assignByCosine, cosineMatrix } from './matching.js';
import { decoderMaxCosines, quantiles } from './reconstruction.js';
import { defaultPairs, pairSeeds, readRun, saeDirOf, type RunInfo, type RunPair } from './run_dir.js';
import { pairedInterval, tInterval, verdictOf, type TInterval, type Verdict } from './statistics.js';

/** A dictionary's decoder: rows [dSae, dIn] row-major (SAELens W_dec), optionally which latents are alive. */
export interface DecoderInput {
  id: string;
  wDec: ArrayLike<number>;
  dSae: number;
  dIn: number;
  /** alive[i] truthy: latent i fired on held-out tokens; when given, only alive latents are counted */
  alive?: ArrayLike<number | boolean>;
}

export interface FeatureSplittingOptions {
  /** cosine at or above which an assigned pair counts as matched (default 0.7, the explorer's) */
  matchThreshold?: number;
  /** τ: cosine at or above which a latent of the other dictionary is one of a latent's partners (default 0.7) */
  splitThreshold?: number;
  /** bins of the max-cosine and matched-cosine histograms over [0, 1] (default 20) */
  bins?: number;
}

export interface Distribution {
  n: number;
  mean: number;
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
  /** bin edges over [0, 1] (bins + 1) and counts; values < 0 fall in the first bin */
  histogram: { edges: number[]; counts: number[] };
}

export interface SplitStats {
  tau: number;
  /** latents counted (alive ones when masks were given) */
  latents: number;
  /** fraction of latents with ≥ 2 partners at cosine ≥ τ in the other dictionary */
  splitFraction: number;
  /** mean number of partners over the split latents (NaN when none is split) */
  meanSplitSize: number;
  maxSplitSize: number;
  /** mean number of partners over all latents */
  meanPartners: number;
  /** latents with 0, 1, 2, 3 and ≥ 4 partners */
  partnerCounts: [number, number, number, number, number];
}

export interface FeatureSplittingResult {
  a: string;
  b: string;
  dIn: number;
  dSaeA: number;
  dSaeB: number;
  /** latents counted on each side (alive ones when masks were given) */
  nA: number;
  nB: number;
  aliveOnly: boolean;
  matchThreshold: number;
  /** cosines of the min(nA, nB) assigned pairs, with the fractions at or above 0.9 and 0.7 */
  matched: Distribution & { above09: number; above07: number };
  /** fraction of A's (B's) counted latents without an assigned partner at cosine ≥ matchThreshold */
  unmatchedA: number;
  unmatchedB: number;
  /** A → B: each latent of A against B's columns; B → A the other way */
  splitA: SplitStats;
  splitB: SplitStats;
  /** within-dictionary max cosine of each counted column to any other counted column */
  maxCosA: Distribution;
  maxCosB: Distribution;
}

function histogram(xs: ArrayLike<number>, bins: number): { edges: number[]; counts: number[] } {
  const edges = Array.from({ length: bins + 1 }, (_, i) => i / bins);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < xs.length; i++) counts[Math.min(bins - 1, Math.max(0, Math.floor(xs[i]! * bins)))]! += 1;
  return { edges, counts };
}

/** Summary of a sample (NaN everywhere when empty). */
export function distribution(xs: ArrayLike<number>, bins = 20): Distribution {
  const n = xs.length;
  if (!n) return { n: 0, mean: NaN, median: NaN, p10: NaN, p90: NaN, min: NaN, max: NaN, histogram: histogram([], bins) };
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i]!;
  const [min, p10, median, p90, max] = quantiles(xs, [0, 0.1, 0.5, 0.9, 1]);
  return { n, mean: s / n, median: median!, p10: p10!, p90: p90!, min: min!, max: max!, histogram: histogram(xs, bins) };
}

/** The columns of a decoder that are counted (all, or the alive ones), copied out as [n, d]. */
function counted(D: DecoderInput): { w: Float64Array; n: number } {
  if (D.wDec.length !== D.dSae * D.dIn) throw new Error(`${D.id}: decoder has ${D.wDec.length} values, not d_sae × d_in = ${D.dSae} × ${D.dIn}`);
  if (D.alive && D.alive.length !== D.dSae) throw new Error(`${D.id}: alive mask has ${D.alive.length} entries for d_sae ${D.dSae}`);
  const keep: number[] = [];
  for (let i = 0; i < D.dSae; i++) if (!D.alive || D.alive[i]) keep.push(i);
  const w = new Float64Array(keep.length * D.dIn);
  keep.forEach((i, r) => {
    for (let j = 0; j < D.dIn; j++) w[r * D.dIn + j] = D.wDec[i * D.dIn + j]!;
  });
  return { w, n: keep.length };
}

function splitStats(cos: Float64Array, nA: number, nB: number, tau: number, byRow: boolean): SplitStats {
  const outer = byRow ? nA : nB;
  const inner = byRow ? nB : nA;
  const partnerCounts: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  let split = 0;
  let splitSum = 0;
  let all = 0;
  let maxSplitSize = 0;
  for (let i = 0; i < outer; i++) {
    let s = 0;
    for (let j = 0; j < inner; j++) if ((byRow ? cos[i * nB + j]! : cos[j * nB + i]!) >= tau) s++;
    partnerCounts[Math.min(4, s)]! += 1;
    all += s;
    if (s >= 2) {
      split++;
      splitSum += s;
    }
    maxSplitSize = Math.max(maxSplitSize, s);
  }
  return {
    tau, latents: outer, splitFraction: outer ? split / outer : NaN, meanSplitSize: split ? splitSum / split : NaN,
    maxSplitSize, meanPartners: outer ? all / outer : NaN, partnerCounts,
  };
}

/** Every statistic of the module comment for one pair of dictionaries (A: the g-SAE, B: the TopK, by convention). */
export function featureSplitting(A: DecoderInput, B: DecoderInput, opts: FeatureSplittingOptions = {}): FeatureSplittingResult {
  if (A.dIn !== B.dIn) throw new Error(`feature splitting: d_in mismatch, ${A.id} has d_in ${A.dIn} and ${B.id} has ${B.dIn} (dictionaries of different hooks or models cannot be matched)`);
  const matchThreshold = opts.matchThreshold ?? 0.7;
  const tau = opts.splitThreshold ?? 0.7;
  const bins = opts.bins ?? 20;
  for (const [name, v] of [['matchThreshold', matchThreshold], ['splitThreshold', tau]] as const) {
    if (!(v >= -1 && v <= 1)) throw new Error(`feature splitting: ${name} must be a cosine in [-1, 1], got ${v}`);
  }
  const d = A.dIn;
  const a = counted(A);
  const b = counted(B);
  const cos = cosineMatrix(a.w, a.n, b.w, b.n, d);
  const pairs = a.n && b.n ? assignByCosine(cos, a.n, b.n) : [];
  const pc = pairs.map((p) => p.cosine);
  const good = pairs.filter((p) => p.cosine >= matchThreshold).length;
  const frac = (x: number) => (pc.length ? pc.filter((c) => c >= x).length / pc.length : NaN);
  return {
    a: A.id, b: B.id, dIn: d, dSaeA: A.dSae, dSaeB: B.dSae, nA: a.n, nB: b.n, aliveOnly: !!(A.alive || B.alive), matchThreshold,
    matched: { ...distribution(pc, bins), above09: frac(0.9), above07: frac(0.7) },
    unmatchedA: a.n ? 1 - good / a.n : NaN,
    unmatchedB: b.n ? 1 - good / b.n : NaN,
    splitA: splitStats(cos, a.n, b.n, tau, true),
    splitB: splitStats(cos, a.n, b.n, tau, false),
    maxCosA: distribution(a.n >= 2 ? decoderMaxCosines(a.w, a.n, d) : [], bins),
    maxCosB: distribution(b.n >= 2 ? decoderMaxCosines(b.w, b.n, d) : [], bins),
  };
}

/** One scalar of a result, by name, for summaries over seeds. */
const SCALARS: Record<string, (r: FeatureSplittingResult) => number> = {
  'matched cosine median': (r) => r.matched.median,
  'matched cosine p10': (r) => r.matched.p10,
  'matched cosine p90': (r) => r.matched.p90,
  'matched fraction ≥ 0.9': (r) => r.matched.above09,
  'matched fraction ≥ 0.7': (r) => r.matched.above07,
};
/** Scalars that come as an A and a B version: summarised each, and as the paired A − B. */
const SIDED: Record<string, (r: FeatureSplittingResult, side: 'A' | 'B') => number> = {
  'unmatched fraction': (r, s) => (s === 'A' ? r.unmatchedA : r.unmatchedB),
  'split fraction': (r, s) => r[`split${s}`].splitFraction,
  'split size (mean over split latents)': (r, s) => r[`split${s}`].meanSplitSize,
  'partners per latent (mean)': (r, s) => r[`split${s}`].meanPartners,
  'decoder max-cos median': (r, s) => r[`maxCos${s}`].median,
  'decoder max-cos p90': (r, s) => r[`maxCos${s}`].p90,
  'decoder max-cos mean': (r, s) => r[`maxCos${s}`].mean,
};

export interface SplittingSummaryLine {
  statistic: string;
  /** per seed, in `seeds` order */
  a: number[];
  b?: number[];
  /** t interval over seeds of A's value (of the symmetric statistic for one-sided lines) */
  aInterval: TInterval;
  bInterval?: TInterval;
  /** seed-paired interval of A − B, and whether "A higher" holds from it */
  diff?: TInterval;
  higher?: Verdict;
}

export interface SplittingSummary {
  a: string;
  b: string;
  seeds: number[];
  lines: SplittingSummaryLine[];
}

/** Each statistic over seeds: t intervals, and the seed-paired A − B interval where there is an A and a B. */
export function summariseSplitting(perSeed: readonly { seed: number; result: FeatureSplittingResult }[]): SplittingSummary {
  if (!perSeed.length) throw new Error('summariseSplitting: no seeds');
  const seeds = perSeed.map((x) => x.seed);
  const rs = perSeed.map((x) => x.result);
  const lines: SplittingSummaryLine[] = [];
  for (const [statistic, f] of Object.entries(SCALARS)) {
    const a = rs.map(f);
    lines.push({ statistic, a, aInterval: tInterval(a) });
  }
  for (const [statistic, f] of Object.entries(SIDED)) {
    const a = rs.map((r) => f(r, 'A'));
    const b = rs.map((r) => f(r, 'B'));
    // a seed whose A or B value is undefined (e.g. no split latent, so no split size) drops out of the pair
    const both = a.map((x, i) => Number.isFinite(x) && Number.isFinite(b[i]!));
    const diff = pairedInterval(a.filter((_, i) => both[i]), b.filter((_, i) => both[i]));
    lines.push({ statistic, a, b, aInterval: tInterval(a), bInterval: tInterval(b), diff, higher: verdictOf(diff, 'higher') });
  }
  return { a: rs[0]!.a.replace(/ \(seed .*\)$/, ''), b: rs[0]!.b.replace(/ \(seed .*\)$/, ''), seeds, lines };
}

export interface PairSplitting {
  pair: RunPair;
  seeds: number[];
  perSeed: { seed: number; result: FeatureSplittingResult }[];
  summary: SplittingSummary;
  /**
   * The same statistics between the TopK of seed s and the TopK of the next seed (cyclically), a
   * reference for "how alike are two dictionaries that differ only by seed"; absent with one seed
   */
  seedBaseline?: { seeds: [number, number]; result: FeatureSplittingResult }[];
}

export interface SplittingRunOptions extends FeatureSplittingOptions {
  /** pairs to compare (default: every g-SAE with the TopK of the same k, defaultPairs) */
  pairs?: RunPair[];
  /** keep only these run ids when building the default pairs */
  ids?: string[];
  seeds?: number[];
  /** alive mask of (run id, seed), e.g. from a steering investigation's `alive`; undefined: all latents */
  alive?: (id: string, seed: number) => ArrayLike<number | boolean> | undefined;
  /** compare each TopK with the TopK of the next seed as a reference (default true when ≥ 2 seeds) */
  seedBaseline?: boolean;
  log?: (s: string) => void;
}

/** A run's decoder, read from its SAELens folder on the host (no engine tensors). */
export function readDecoder(runDir: string, id: string, seed: number, alive?: ArrayLike<number | boolean>): DecoderInput {
  const { spec, params } = readSaelens(saeDirOf(runDir, id, seed));
  const w = params['W_dec'];
  if (!w) throw new Error(`${id} seed ${seed}: SAE has no W_dec`);
  return { id: `${id} (seed ${seed})`, wDec: w.data as ArrayLike<number>, dSae: spec.dSae, dIn: spec.dIn, ...(alive ? { alive } : {}) };
}

/** Feature splitting for every pair of a finished run, per seed, with the summaries over seeds. */
export function featureSplittingRun(run: string | RunInfo, opts: SplittingRunOptions = {}): PairSplitting[] {
  const info = typeof run === 'string' ? readRun(run) : run;
  const pairs = opts.pairs ?? defaultPairs(info.rows, opts.ids);
  if (!pairs.length) throw new Error(`${info.dir}: no g-SAE / TopK pair at equal k among the runs (${[...new Set(info.rows.map((r) => r.id))].join(', ')})`);
  const log = opts.log ?? (() => {});
  return pairs.map((pair) => {
    const seeds = pairSeeds(info.rows, pair, opts.seeds);
    if (!seeds.length) throw new Error(`pair ${pair.gsae} / ${pair.topk}: no seed has both runs`);
    const perSeed = seeds.map((seed) => {
      const t0 = Date.now();
      const result = featureSplitting(readDecoder(info.dir, pair.gsae, seed, opts.alive?.(pair.gsae, seed)), readDecoder(info.dir, pair.topk, seed, opts.alive?.(pair.topk, seed)), opts);
      log(`feature splitting ${pair.gsae} / ${pair.topk} seed ${seed}: matched median ${fmt(result.matched.median)}, split ${fmt(result.splitA.splitFraction)} / ${fmt(result.splitB.splitFraction)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      return { seed, result };
    });
    const out: PairSplitting = { pair, seeds, perSeed, summary: summariseSplitting(perSeed) };
    const topkSeeds = [...new Set(info.rows.filter((r) => r.id === pair.topk && (!opts.seeds || opts.seeds.includes(r.seed))).map((r) => r.seed))].sort((x, y) => x - y);
    if ((opts.seedBaseline ?? true) && topkSeeds.length >= 2) {
      out.seedBaseline = topkSeeds.map((s, i) => {
        const s2 = topkSeeds[(i + 1) % topkSeeds.length]!;
        return { seeds: [s, s2] as [number, number], result: featureSplitting(readDecoder(info.dir, pair.topk, s, opts.alive?.(pair.topk, s)), readDecoder(info.dir, pair.topk, s2, opts.alive?.(pair.topk, s2)), opts) };
      });
    }
    return out;
  });
}

const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : 'n/a');
const iv = (x: TInterval) => (x.n >= 2 ? `${fmt(x.mean)} [${fmt(x.lo)}, ${fmt(x.hi)}]` : `${fmt(x.mean)} (n = ${x.n})`);

/** One result as a markdown table row set (per seed) — header from `splittingTableHeader`. */
function seedLine(label: string, r: FeatureSplittingResult): string {
  return `| ${label} | ${r.nA} / ${r.nB} | ${fmt(r.matched.median)} [${fmt(r.matched.p10)}, ${fmt(r.matched.p90)}] | ${fmt(r.matched.above09)} / ${fmt(r.matched.above07)} | ${fmt(r.unmatchedA)} / ${fmt(r.unmatchedB)} | ${fmt(r.splitA.splitFraction)} × ${fmt(r.splitA.meanSplitSize)} | ${fmt(r.splitB.splitFraction)} × ${fmt(r.splitB.meanSplitSize)} | ${fmt(r.maxCosA.median)} / ${fmt(r.maxCosA.p90)} | ${fmt(r.maxCosB.median)} / ${fmt(r.maxCosB.p90)} |`;
}

/** Markdown: per pair, one line per seed (and the TopK seed-to-seed reference), then the summary over seeds. */
export function renderFeatureSplitting(results: readonly PairSplitting[]): string {
  const out: string[] = [];
  const first = results[0]?.perSeed[0]?.result;
  if (first) {
    out.push(
      `Decoder rows of A (g-SAE) and B (TopK), compared by cosine. Matched: the one-to-one assignment maximising the summed cosine (Hungarian); ` +
        `a latent is unmatched when its assigned partner's cosine is below ${first.matchThreshold}. Split A → B: a latent of A with ≥ 2 latents of B at cosine ≥ ${first.splitA.tau} ` +
        `(reported as fraction split × mean split size); B → A the other way. Max-cos: each column's largest cosine to another column of its own dictionary (median / p90).` +
        (first.aliveOnly ? ' Only latents alive on held-out tokens are counted.' : ' All latents are counted, dead ones included.'),
      '',
    );
  }
  for (const p of results) {
    out.push(`### ${p.pair.gsae} (A) vs ${p.pair.topk} (B)`, '');
    out.push('| seed | latents A / B | matched cos median [p10, p90] | matched ≥ 0.9 / ≥ 0.7 | unmatched A / B | split A → B | split B → A | max-cos A median / p90 | max-cos B median / p90 |');
    out.push('|---|---|---|---|---|---|---|---|---|');
    for (const s of p.perSeed) out.push(seedLine(String(s.seed), s.result));
    for (const s of p.seedBaseline ?? []) out.push(seedLine(`reference: ${p.pair.topk} s${s.seeds[0]} vs s${s.seeds[1]}`, s.result));
    out.push('', `Over seeds ${p.seeds.join(', ')} (mean [95% t over seeds]; A − B: seed-paired t interval, verdict of "A higher"):`, '');
    out.push('| statistic | A | B | A − B | A higher? |', '|---|---|---|---|---|');
    for (const l of p.summary.lines) {
      out.push(`| ${l.statistic} | ${iv(l.aInterval)} | ${l.bInterval ? iv(l.bInterval) : ''} | ${l.diff ? iv(l.diff) : ''} | ${l.higher ?? ''} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
