/**
 * Turns the finished accumulators (plus logit effects, neighbours and steering) into the schema's
 * files: features/blocks/block-NNNNN.json (FeatureBlock), features/neuronpedia/batch-NNNNN.json
 * (NeuronpediaLatent[] of the same block) and features/index.json (FeaturesIndex), each written
 * atomically. Token ids of every window come from the store's recovered token array.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../engine/io/atomic.js';
import type { FeatureAccumulators } from './accumulators.js';
import type { LogitEffects } from './logit_effects.js';
import { neuronpediaLatent } from './neuronpedia.js';
import {
  FEATURES_BLOCKS_DIR, FEATURES_INDEX, FEATURES_VERSION, NEURONPEDIA_DIR,
  type FeatureBlock, type FeaturesIndex, type LatentDetail, type LatentSummary, type QuantileSection, type TokenContext, type TokenScore,
} from './schema.js';
import type { CapturedContext } from './top_contexts.js';

export interface WriteInputs {
  acc: FeatureAccumulators;
  logits: LogitEffects;
  neighbours: { index: number; cosine: number }[][];
  steering: (number | null)[];
  tokens: Int32Array;
  seqLen: number;
  decode: (id: number) => string;
  /** tokens shown in the summary's topPromoted */
  summaryTokens: number;
  blockSize: number;
  /** index.json fields other than the per-latent ones */
  index: Omit<FeaturesIndex, 'latents' | 'blocks' | 'densityHistogram' | 'deadLatents' | 'tokens'>;
  neuronpedia: { modelId: string; layer: string };
}

export function tokenContext(c: CapturedContext, tokens: Int32Array, seqLen: number, decode: (id: number) => string): TokenContext {
  const first = c.seq * seqLen + c.start;
  const ids = Array.from(tokens.subarray(first, first + c.acts.length));
  const out: TokenContext = { seq: c.seq, pos: c.pos, ids, tokens: ids.map(decode), acts: Array.from(c.acts), centre: c.pos - c.start };
  if (c.attr) out.attr = Array.from(c.attr);
  return out;
}

const scores = (s: { ids: Int32Array; values: Float32Array }, decode: (id: number) => string, n = s.ids.length): TokenScore[] =>
  Array.from(s.ids.subarray(0, n), (id, j) => ({ id, token: decode(id), value: s.values[j]! }));

export function latentSummary(w: WriteInputs, i: number): LatentSummary {
  const { acc } = w;
  const fired = acc.fired[i]!;
  const s: LatentSummary = {
    index: i,
    density: acc.tokens > 0 ? fired / acc.tokens : 0,
    maxAct: acc.maxAct[i]!,
    meanAct: fired > 0 ? acc.sumAct[i]! / fired : 0,
    topPromoted: scores(w.logits.promoted[i]!, w.decode, w.summaryTokens),
    steering: w.steering[i] ?? null,
  };
  if (acc.attrHist) s.meanAbsAttr = fired > 0 ? acc.sumAbsAttr[i]! / fired : 0;
  return s;
}

/** Interval sections with at least one firing position, highest first (as SAEDashboard lists them). */
export function quantileSections(w: WriteInputs, i: number): QuantileSection[] {
  const { acc } = w;
  const G = acc.o.intervals;
  const max = acc.maxAct[i]!;
  const out: QuantileSection[] = [];
  for (let j = G - 1; j >= 0; j--) {
    const count = acc.intervals.counts[i * G + j]!;
    if (count === 0) continue;
    const [lo, hiEdge] = acc.intervalBounds(i, j);
    const hi = Math.min(hiEdge, max);
    const contexts = [...acc.intervals.samples[i * G + j]!].sort((a, b) => a.seq - b.seq || a.pos - b.pos).map((c) => tokenContext(c, w.tokens, w.seqLen, w.decode));
    out.push({ lo, hi, label: `Interval ${(lo / max).toFixed(2)}-${(hi / max).toFixed(2)} of max (${lo.toPrecision(3)}–${hi.toPrecision(3)})`, count, contexts });
  }
  return out;
}

export function latentDetail(w: WriteInputs, i: number): LatentDetail {
  const { acc } = w;
  const d: LatentDetail = {
    ...latentSummary(w, i),
    actHistogram: acc.actHist.histogram(i, 'activation f_i on firing tokens'),
    top: acc.top.sorted(i).map((c) => tokenContext(c, w.tokens, w.seqLen, w.decode)),
    quantiles: quantileSections(w, i),
    logits: { promoted: scores(w.logits.promoted[i]!, w.decode), suppressed: scores(w.logits.suppressed[i]!, w.decode) },
    neighbours: w.neighbours[i]!,
  };
  if (acc.attrHist) d.attrHistogram = acc.attrHist.histogram(i, 'attribution z_i·a_i on firing tokens (first-order Δloss, nats summed over the sequence)');
  return d;
}

export function writeFeatures(dir: string, w: WriteInputs, densityHistogram: FeaturesIndex['densityHistogram'], deadLatents: number): FeaturesIndex {
  const m = w.acc.o.latents;
  mkdirSync(join(dir, FEATURES_BLOCKS_DIR), { recursive: true });
  mkdirSync(join(dir, NEURONPEDIA_DIR), { recursive: true });
  const blocks: FeaturesIndex['blocks'] = [];
  const latents: LatentSummary[] = [];
  for (let first = 0, b = 0; first < m; first += w.blockSize, b++) {
    const count = Math.min(w.blockSize, m - first);
    const details: LatentDetail[] = [];
    for (let i = first; i < first + count; i++) details.push(latentDetail(w, i));
    const name = `block-${String(b).padStart(5, '0')}.json`;
    const block: FeatureBlock = { format: 'gsae-features-block', version: FEATURES_VERSION, first, count, latents: details };
    writeFileAtomic(join(dir, FEATURES_BLOCKS_DIR, name), JSON.stringify(block));
    writeFileAtomic(join(dir, NEURONPEDIA_DIR, `batch-${String(b).padStart(5, '0')}.json`), JSON.stringify(details.map((d) => neuronpediaLatent(d, w.neuronpedia))));
    blocks.push({ file: `${FEATURES_BLOCKS_DIR}/${name}`, first, count });
    for (const d of details) {
      const { actHistogram: _h, top: _t, quantiles: _q, logits: _l, neighbours: _n, attrHistogram: _a, ...summary } = d;
      latents.push(summary);
    }
  }
  const index: FeaturesIndex = { ...w.index, tokens: w.acc.tokens, densityHistogram, deadLatents, blocks, latents };
  writeFileAtomic(join(dir, FEATURES_INDEX), JSON.stringify(index));
  return index;
}
