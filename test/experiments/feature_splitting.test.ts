/**
 * Feature splitting and decoder geometry between two dictionaries (experiments/eval/feature_splitting.ts):
 * planted splits are found exactly, identical dictionaries match at cosine 1 with no split, the
 * within-dictionary max-cosine distribution equals a brute-force computation, the run-level
 * function reads a run's SAEs and summarises over seeds, and bad inputs fail naming the problem.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { featureSplitting, featureSplittingRun, renderFeatureSplitting, summariseSplitting, type DecoderInput } from '../../experiments/eval/feature_splitting.js';
import { assignByCosine, cosineMatrix } from '../../experiments/eval/matching.js';
import { randomSae, tmp } from '../features/helpers.js';

/** m random unit rows of width d. */
function randomRows(m: number, d: number, seed: number): Float32Array {
  const rng = new E.Rng(seed);
  const w = Float32Array.from({ length: m * d }, () => rng.normal());
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += w[i * d + j]! ** 2;
    for (let j = 0; j < d; j++) w[i * d + j]! /= Math.sqrt(s);
  }
  return w;
}

describe('feature splitting statistics', () => {
  it('planted splits: B holds each A column as two noisy copies → A → B split fraction 1, size 2; B → A none', () => {
    const d = 32;
    const m = 8;
    // A: the first m basis vectors (orthogonal); B: for each, two copies with a small random perturbation
    const A = new Float32Array(m * d);
    for (let i = 0; i < m; i++) A[i * d + i] = 1;
    const noise = randomRows(2 * m, d, 3);
    const B = new Float32Array(2 * m * d);
    for (let i = 0; i < m; i++) {
      for (const r of [2 * i, 2 * i + 1]) for (let j = 0; j < d; j++) B[r * d + j] = A[i * d + j]! + 0.3 * noise[r * d + j]!;
    }
    const res = featureSplitting({ id: 'A', wDec: A, dSae: m, dIn: d }, { id: 'B', wDec: B, dSae: 2 * m, dIn: d });
    expect(res.splitA).toMatchObject({ latents: m, splitFraction: 1, meanSplitSize: 2, maxSplitSize: 2, meanPartners: 2, partnerCounts: [0, 0, m, 0, 0] });
    expect(res.splitB).toMatchObject({ latents: 2 * m, splitFraction: 0, maxSplitSize: 1, meanPartners: 1, partnerCounts: [0, 2 * m, 0, 0, 0] });
    expect(res.splitB.meanSplitSize).toBeNaN();
    // every A latent is assigned one of its copies; half of B is left without a partner
    expect(res.matched.n).toBe(m);
    expect(res.matched.min).toBeGreaterThan(0.9);
    expect(res.matched.above09).toBe(1);
    expect(res.unmatchedA).toBe(0);
    expect(res.unmatchedB).toBe(0.5);
    // A's columns are orthogonal: max-cos 0; B's copies of one column are close to each other
    expect(res.maxCosA.max).toBeCloseTo(0, 12);
    expect(res.maxCosB.min).toBeGreaterThan(0.8);
    expect(res.maxCosB.histogram.counts.reduce((s, c) => s + c, 0)).toBe(2 * m);
    // the other way round mirrors it
    const rev = featureSplitting({ id: 'B', wDec: B, dSae: 2 * m, dIn: d }, { id: 'A', wDec: A, dSae: m, dIn: d });
    expect(rev.splitB.splitFraction).toBe(1);
    expect(rev.splitA.splitFraction).toBe(0);
    expect(rev.unmatchedA).toBe(0.5);
  });

  it('identical dictionaries: all matched at cosine 1, no splits (scale of a column does not matter)', () => {
    const d = 64;
    const m = 16;
    const W = randomRows(m, d, 7);
    const W2 = W.map((x, i) => x * (1 + Math.floor(i / d))); // row i scaled by i + 1
    const res = featureSplitting({ id: 'A', wDec: W, dSae: m, dIn: d }, { id: 'B', wDec: W2, dSae: m, dIn: d });
    expect(res.matched.n).toBe(m);
    expect(res.matched.min).toBeCloseTo(1, 6);
    expect(res.matched.above09).toBe(1);
    expect(res.unmatchedA).toBe(0);
    expect(res.unmatchedB).toBe(0);
    for (const s of [res.splitA, res.splitB]) expect(s).toMatchObject({ splitFraction: 0, meanPartners: 1, partnerCounts: [0, m, 0, 0, 0] });
    expect(res.maxCosA.median).toBeCloseTo(res.maxCosB.median, 6);
  });

  it('alive masks: the statistics are those of the alive columns alone', () => {
    const d = 12;
    const A = randomRows(10, d, 1);
    const B = randomRows(9, d, 2);
    const aliveA = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1];
    const aliveB = [0, 1, 1, 1, 1, 0, 1, 1, 1];
    const pick = (w: Float32Array, mask: number[]) => Float32Array.from(mask.flatMap((a, i) => (a ? [...w.subarray(i * d, (i + 1) * d)] : [])));
    const masked = featureSplitting({ id: 'A', wDec: A, dSae: 10, dIn: d, alive: aliveA }, { id: 'B', wDec: B, dSae: 9, dIn: d, alive: aliveB }, { splitThreshold: 0.3, matchThreshold: 0.5 });
    const dropped = featureSplitting({ id: 'A', wDec: pick(A, aliveA), dSae: 7, dIn: d }, { id: 'B', wDec: pick(B, aliveB), dSae: 7, dIn: d }, { splitThreshold: 0.3, matchThreshold: 0.5 });
    expect(masked.aliveOnly).toBe(true);
    expect({ ...masked, dSaeA: 0, dSaeB: 0, aliveOnly: false }).toEqual({ ...dropped, dSaeA: 0, dSaeB: 0 });
  });

  it('max-cos distribution and split counts equal a brute-force computation (fast-check)', () => {
    const quant = (xs: number[], q: number) => {
      const s = xs.slice().sort((a, b) => a - b);
      const p = q * (s.length - 1);
      const lo = Math.floor(p);
      return s[lo]! + (p - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]!) - s[lo]!);
    };
    const col = (n: number) => fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n }).filter((v) => v.some((x) => Math.abs(x) > 1e-3));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }).chain((d) => fc.tuple(fc.constant(d), fc.array(col(d), { minLength: 2, maxLength: 9 }), fc.array(col(d), { minLength: 1, maxLength: 7 }), fc.double({ min: -0.5, max: 0.95, noNaN: true }))),
        ([d, rowsA, rowsB, tau]) => {
          const cos = (u: number[], v: number[]) => u.reduce((s, x, i) => s + x * v[i]!, 0) / Math.hypot(...u) / Math.hypot(...v);
          const res = featureSplitting(
            { id: 'A', wDec: Float64Array.from(rowsA.flat()), dSae: rowsA.length, dIn: d },
            { id: 'B', wDec: Float64Array.from(rowsB.flat()), dSae: rowsB.length, dIn: d },
            { splitThreshold: tau },
          );
          const maxCos = rowsA.map((u, i) => Math.max(...rowsA.filter((_, j) => j !== i).map((v) => cos(u, v))));
          expect(res.maxCosA.n).toBe(rowsA.length);
          expect(res.maxCosA.median).toBeCloseTo(quant(maxCos, 0.5), 9);
          expect(res.maxCosA.p10).toBeCloseTo(quant(maxCos, 0.1), 9);
          expect(res.maxCosA.p90).toBeCloseTo(quant(maxCos, 0.9), 9);
          expect(res.maxCosA.mean).toBeCloseTo(maxCos.reduce((s, x) => s + x, 0) / maxCos.length, 9);
          expect(res.maxCosA.max).toBeCloseTo(Math.max(...maxCos), 9);
          expect(res.maxCosA.histogram.counts.reduce((s, c) => s + c, 0)).toBe(rowsA.length);
          // partners per latent, away from the threshold's rounding edge
          const partners = rowsA.map((u) => rowsB.filter((v) => cos(u, v) >= tau).length);
          if (rowsA.every((u) => rowsB.every((v) => Math.abs(cos(u, v) - tau) > 1e-9))) {
            expect(res.splitA.meanPartners).toBeCloseTo(partners.reduce((s, x) => s + x, 0) / partners.length, 12);
            expect(res.splitA.splitFraction).toBeCloseTo(partners.filter((p) => p >= 2).length / partners.length, 12);
          }
        },
      ),
      { numRuns: 150, seed: 23 },
    );
  });

  it('assignByCosine gives the same pairs whichever side has more latents', () => {
    const d = 6;
    const A = randomRows(9, d, 4);
    const B = randomRows(5, d, 5);
    const ab = assignByCosine(cosineMatrix(A, 9, B, 5, d), 9, 5);
    const ba = assignByCosine(cosineMatrix(B, 5, A, 9, d), 5, 9);
    expect(ab.map((p) => [p.a, p.b])).toEqual(ba.map((p) => [p.b, p.a]).sort((x, y) => x[0]! - y[0]!));
  });

  it('bad inputs name the problem', () => {
    const a: DecoderInput = { id: 'gsae-k8', wDec: new Float32Array(4 * 8), dSae: 4, dIn: 8 };
    const b: DecoderInput = { id: 'topk-k8', wDec: new Float32Array(4 * 6), dSae: 4, dIn: 6 };
    expect(() => featureSplitting(a, b)).toThrow(/d_in mismatch, gsae-k8 has d_in 8 and topk-k8 has 6/);
    expect(() => featureSplitting(a, { ...a, id: 'short', wDec: new Float32Array(5) })).toThrow(/short: decoder has 5 values, not d_sae × d_in = 4 × 8/);
    expect(() => featureSplitting(a, { ...a, alive: [1, 0] })).toThrow(/alive mask has 2 entries for d_sae 4/);
    expect(() => featureSplitting(a, a, { splitThreshold: 2 })).toThrow(/splitThreshold must be a cosine/);
  });
});

describe('feature splitting over a run folder', () => {
  const root = tmp();
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const dIn = 16;
  const rows = [0, 1, 2].flatMap((seed) => [
    { id: 'topk-k4', variant: 'topk', k: 4, seed, d_sae: 24 },
    { id: 'gsae-k4-b1', variant: 'gsae', k: 4, seed, d_sae: 24 },
  ]);
  const writeRun = (dir: string, withSaes: boolean) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ meta: { config: { hook: 'blocks.2.hook_resid_pre', seqLen: 8, evalTokens: 64 }, model: { dir: 'nowhere' } }, rows }));
    if (withSaes) {
      for (const r of rows) randomSae(join(dir, 'runs', `${r.id}-s${r.seed}`, 'sae'), { kind: r.variant as 'topk' | 'gsae', dIn, dSae: 24, k: 4, seed: 10 * r.seed + (r.variant === 'gsae' ? 1 : 0) });
    }
    return dir;
  };

  it('every seed, the seed-to-seed TopK reference, the summary over seeds and a markdown report', () => {
    const dir = writeRun(join(root, 'run'), true);
    const [p, ...rest] = featureSplittingRun(dir, { splitThreshold: 0.5 });
    expect(rest).toEqual([]);
    expect(p!.pair).toEqual({ gsae: 'gsae-k4-b1', topk: 'topk-k4' });
    expect(p!.seeds).toEqual([0, 1, 2]);
    expect(p!.perSeed.map((s) => [s.seed, s.result.nA, s.result.nB, s.result.dIn])).toEqual([[0, 24, 24, 16], [1, 24, 24, 16], [2, 24, 24, 16]]);
    expect(p!.seedBaseline!.map((s) => s.seeds)).toEqual([[0, 1], [1, 2], [2, 0]]);
    const line = p!.summary.lines.find((l) => l.statistic === 'decoder max-cos median')!;
    const diffs = p!.perSeed.map((s) => s.result.maxCosA.median - s.result.maxCosB.median);
    expect(line.diff!.n).toBe(3);
    expect(line.diff!.mean).toBeCloseTo(diffs.reduce((s, x) => s + x, 0) / 3, 12);
    expect(line.diff!.lo).toBeLessThan(line.diff!.mean);
    expect(summariseSplitting(p!.perSeed.slice(0, 1)).lines[0]!.aInterval.n).toBe(1);
    // a mask from elsewhere (e.g. a steering investigation's alive latents) restricts both sides
    const masked = featureSplittingRun(dir, { seeds: [1], alive: (_id, _seed) => Array.from({ length: 24 }, (_, i) => (i % 2 ? 1 : 0)) });
    expect(masked[0]!.perSeed[0]!.result).toMatchObject({ nA: 12, nB: 12, aliveOnly: true });
    expect(masked[0]!.seedBaseline).toBeUndefined();
    const md = renderFeatureSplitting([p!]);
    expect(md).toContain('### gsae-k4-b1 (A) vs topk-k4 (B)');
    expect(md).toContain('| reference: topk-k4 s0 vs s1 |');
    expect(md).toMatch(/\| decoder max-cos p90 \| .* \| (holds|reversed|unresolved) \|/);
  });

  it('a missing SAE folder or results.json names what is missing', () => {
    const dir = writeRun(join(root, 'untrained'), false);
    expect(() => featureSplittingRun(dir)).toThrow(/gsae-k4-b1 seed 0: no SAE folder .*untrained\/runs\/gsae-k4-b1-s0\/sae/);
    expect(() => featureSplittingRun(join(root, 'none'))).toThrow(/none: no results\.json/);
    expect(() => featureSplittingRun(dir, { pairs: [{ gsae: 'gsae-k9', topk: 'topk-k4' }] })).toThrow(/no run 'gsae-k9' in results\.json/);
  });
});
