/**
 * Seed-paired findings for g-SAE vs TopK on hand-made rows whose intervals are worked out here:
 * pairing by seed, the verdict of each claim from its interval alone, the paired-difference table
 * and the protocol paragraph.
 */
import { describe, expect, it } from 'vitest';
import { ablationFindings, ablationPairs, gsaeVsTopkFindings, gsaeVsTopkPairs, pairedDifferenceTable, PAIRED_METRICS } from '../../experiments/report/findings.js';
import { protocolParagraph } from '../../experiments/report/protocol.js';
import type { Row } from '../../experiments/report/tables.js';

const T2 = 4.302652729911275; // t_{0.975, 2}: (0.95)·√(2 / (1 − 0.95²))

function row(id: string, variant: 'topk' | 'gsae', seed: number, m: Record<string, number>): Row {
  const base: Row = Object.fromEntries(PAIRED_METRICS.map((k) => [k, 0.5]));
  return { ...base, id, group: variant === 'topk' ? 'TopK' : 'g-SAE β=1', variant, k: 8, seed, ...m };
}

const topk = [0, 1, 2].map((s) => row('topk-k8', 'topk', s, { loss_added: [0.1, 0.11, 0.12][s]!, dead_fraction: 0.1, steer_mean: [0.02, 0.021, 0.023][s]!, dec_maxcos_median: [0.3, 0.31, 0.32][s]! }));
const gsae = [2, 0, 1].map((s) => row('gsae-k8-b1', 'gsae', s, { loss_added: [0.08, 0.085, 0.09][s]!, dead_fraction: [0.1, 0.0, 0.2][s]!, steer_mean: [0.01, 0.012, 0.011][s]!, dec_maxcos_median: [0.3, 0.31, 0.32][s]! }));

describe('g-SAE vs TopK findings', () => {
  it('pairs by seed and calls each claim from its 95% seed-paired t interval', () => {
    const [p, ...rest] = gsaeVsTopkPairs([...topk, ...gsae]);
    expect(rest).toHaveLength(0);
    expect(p!.seeds).toEqual([0, 1, 2]);
    expect(p!.baseline).toBe('topk-k8');
    // loss added: differences −0.02, −0.025, −0.03 → −0.025 ± T2·0.005/√3, wholly below 0
    const la = p!.diff.loss_added!;
    expect(la.mean).toBeCloseTo(-0.025, 12);
    expect(la.sd).toBeCloseTo(0.005, 12);
    expect(la.hi).toBeCloseTo(-0.025 + (T2 * 0.005) / Math.sqrt(3), 9);
    const v = Object.fromEntries(p!.verdicts.map((x) => [x.metric, x.verdict]));
    expect(v.loss_added).toBe('holds');
    // dead: differences 0, −0.1, +0.1 → interval spans 0
    expect(v.dead_fraction).toBe('unresolved');
    // steering: differences −0.01, −0.009, −0.012 → wholly below 0, against the claim "higher"
    expect(v.steer_mean).toBe('reversed');
    // identical decoder geometry → zero spread, a zero-width interval at 0: not on either side
    expect(p!.diff.dec_maxcos_median!.mean).toBeCloseTo(0, 12);
    expect(v.dec_maxcos_median).toBe('unresolved');
    const lines = gsaeVsTopkFindings([...topk, ...gsae]);
    expect(lines[0]).toMatch(/^k=8, g-SAE β=1 vs TopK \(seeds 0, 1, 2\): "lower loss added" \*\*holds\*\*/);
    expect(lines[0]).toMatch(/"stronger steering \(probability addition\)" \*\*reversed\*\*/);
    expect(lines[0]).toMatch(/steering ratio g-SAE\/TopK of the seed means 0\.516\b/); // 0.011 / 0.021333
  });

  it('seeds missing on one side are left out; one seed leaves every claim unresolved', () => {
    const [p] = gsaeVsTopkPairs([...topk.slice(0, 2), ...gsae]);
    expect(p!.seeds).toEqual([0, 1]);
    expect(p!.diff.loss_added!.n).toBe(2);
    const [one] = gsaeVsTopkPairs([topk[0]!, gsae[1]!]);
    expect(one!.verdicts.every((x) => x.verdict === 'unresolved')).toBe(true);
    expect(gsaeVsTopkFindings([topk[0]!, gsae[1]!])[0]).toMatch(/n = 1, no interval/);
  });

  it('the table has one row per pair and one column per metric', () => {
    const t = pairedDifferenceTable(gsaeVsTopkPairs([...topk, ...gsae])).split('\n');
    expect(t).toHaveLength(3);
    expect(t[0]!.split('|').length - 2).toBe(2 + PAIRED_METRICS.length);
    expect(t[2]).toMatch(/^\| gsae-k8-b1 − topk-k8 \| 3 \| -0\.025 \[/);
  });

  it('the protocol paragraph states the seeds, the test and its critical value', () => {
    const cfg = { hook: 'blocks.2.hook_resid_pre', seeds: [0, 1, 2], trainTokens: 240_000, storeTrainTokens: 120_000, evalTokens: 16_384, steering: { latents: 24, c: 1, topN: 10, contexts: 2 } };
    const p = protocolParagraph(cfg);
    expect(p).toMatch(/seeds 0, 1, 2; n = 3/);
    expect(p).toMatch(/seed-paired Student t interval/);
    expect(p).toMatch(/t_\{0\.975, 2\} = 4\.303/);
    expect(protocolParagraph({ ...cfg, seeds: [0] })).toMatch(/no interval with a single seed/);
  });
});

describe('ablation findings', () => {
  const ab = (id: string, variant: 'topk' | 'gsae', beta: number | null, seed: number, la: number): Row => ({ ...row(id, variant, seed, { loss_added: la }), k: 16, beta, group: id });
  const rows = [0, 1, 2].flatMap((s) => [
    ab('topk-k16', 'topk', null, s, 0.1 + 0.01 * s),
    ab('gsae-k16-b0', 'gsae', 0, s, 0.1 + 0.01 * s), // identical to TopK, as β = 0 must be
    ab('gsae-k16-b1', 'gsae', 1, s, 0.05 + 0.01 * s),
    ab('gsae-k16-b1-values', 'gsae', 1, s, 0.07 + [0.01, 0.012, 0.008][s]! + 0.01 * s),
  ]);

  it('checks β = 0 against TopK per seed and k, and pairs every option with the β = 1 reference', () => {
    const lines = ablationFindings(rows);
    expect(lines.filter((l) => /g-SAE with β = 0 reproduces TopK exactly/.test(l))).toHaveLength(3);
    const broken = rows.map((r) => (r.id === 'gsae-k16-b0' && r.seed === 1 ? { ...r, fvu: 0.51 } : r));
    expect(ablationFindings(broken).some((l) => /k=16, seed 1: g-SAE with β = 0 DIFFERS from TopK/.test(l))).toBe(true);
    const pairs = ablationPairs(rows);
    expect(pairs.map((p) => p.id)).toEqual(['topk-k16', 'gsae-k16-b0', 'gsae-k16-b1-values']);
    // values from s: differences 0.03, 0.032, 0.028 → 0.03 ± T2·0.002/√3, wholly above 0
    const v = pairs[2]!.diff.loss_added!;
    expect(v.mean).toBeCloseTo(0.03, 12);
    expect(v.lo).toBeCloseTo(0.03 - (T2 * 0.002) / Math.sqrt(3), 9);
    expect(lines.find((l) => l.startsWith('k=16, gsae-k16-b1-values'))).toMatch(/loss_added Δ 0\.03 \[[0-9.]+, [0-9.]+\] \(higher\)/);
    // TopK − reference: exactly +0.05 every seed → zero spread, interval [0.05, 0.05]: higher
    expect(lines.find((l) => l.startsWith('k=16, topk-k16'))).toMatch(/loss_added Δ 0\.05 \[0\.05, 0\.05\] \(higher\)/);
  });
});

describe('ablation findings: training-store options', () => {
  const g = (id: string, seed: number, la: number, extra: Row): Row => ({ ...row(id, 'gsae', seed, { loss_added: la }), k: 16, beta: 1, group: id, grad_norm: 'rms', value_source: null, grad_source: 'clean', grad_reduction: 'sum', splice_run: null, ...extra });
  const rows = [0, 1, 2].flatMap((s) => [
    g('gsae-k16-b1', s, 0.05 + 0.01 * s, {}),
    g('gsae-k16-raw', s, 0.06 + 0.01 * s, { grad_norm: 'none' }),
    g('gsae-k16-b1-spliced', s, 0.04 + 0.01 * s, { grad_source: 'spliced', splice_run: 'gsae-k16-b1' }),
    g('gsae-k16-b1-mean', s, 0.05 + 0.01 * s, { grad_reduction: 'mean' }),
    g('gsae-k16-raw-mean', s, 0.08 + 0.01 * s, { grad_norm: 'none', grad_reduction: 'mean' }),
  ]);

  it('pairs every option with the reference, and a mean-loss run also with its summed-loss twin', () => {
    const pairs = ablationPairs(rows).map((p) => `${p.id} − ${p.baseline}`);
    expect(pairs).toEqual([
      'gsae-k16-raw − gsae-k16-b1', 'gsae-k16-b1-spliced − gsae-k16-b1', 'gsae-k16-b1-mean − gsae-k16-b1', 'gsae-k16-raw-mean − gsae-k16-b1',
      'gsae-k16-raw-mean − gsae-k16-raw', // the mean run with rms has the reference itself as its twin: no second pair
    ]);
    const lines = ablationFindings(rows);
    expect(lines.find((l) => l.startsWith('k=16, gsae-k16-raw-mean − gsae-k16-raw '))).toMatch(/loss_added Δ 0\.02 \[0\.02, 0\.02\] \(higher\)/);
    expect(lines.some((l) => l.startsWith("Gradient source: runs with grad_source 'spliced'"))).toBe(true);
    expect(lines.some((l) => l.startsWith("Loss reduction: runs with grad_reduction 'mean'"))).toBe(true);
    // rows written before the store options existed count as clean, summed
    const old = rows.map((r) => (r.id === 'gsae-k16-raw' ? { ...r, grad_source: undefined, grad_reduction: undefined, splice_run: undefined } : r));
    expect(ablationPairs(old).map((p) => `${p.id} − ${p.baseline}`)).toContain('gsae-k16-raw-mean − gsae-k16-raw');
    // and without store options the findings do not mention them
    expect(ablationFindings(rows.filter((r) => r.grad_source === 'clean' && r.grad_reduction === 'sum')).some((l) => /Gradient source|Loss reduction/.test(l))).toBe(false);
  });
});
