/**
 * A small explorer input for tests: a run-shaped folder with a TopK and a g-SAE (seeded random
 * weights, d_sae 64, on the shipped default model's blocks.2.hook_resid_pre), results.json, one
 * vega plot, and schema-valid `features/` for each, computed by brute force from the real model
 * over a few held-out sequences (activations, contexts, histograms, logit effects, neighbours;
 * attribution f·a for the g-SAE). It is a fixture, not `gsae features`: no streaming, no
 * quantile sampling beyond a plain split of the firing values.
 *
 * The g-SAE's decoder shares rows with the TopK's (permuted, some perturbed, one a mixture of two)
 * so the comparison view has matched, unmatched and split latents with known answers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { loadHfDir } from '../../models/gpt2/params.js';
import { activationsAndGrads } from '../../models/gpt2/model.js';
import { loadTokenizer } from '../../models/gpt2/tokenizer.js';
import { tokenizeCorpus } from '../../models/gpt2/data.js';
import { writeSaelens, type SaeSpec } from '../../sae/saelens.js';
import { encodeSae, makeSae, disposeSae } from '../../sae/model.js';
import type { HostParams } from '../../sae/common.js';
import { renderSvg } from '../../experiments/report/plots.js';
import {
  FEATURES_FORMAT, FEATURES_VERSION, type FeatureBlock, type FeaturesIndex, type Histogram, type LatentDetail, type LatentSummary, type TokenContext,
} from '../../experiments/features/schema.js';

export const MODEL_DIR = 'data/tiny-model';
export const HOOK = 'blocks.2.hook_resid_pre';
const CORPUS = 'data/tinyshakespeare/input.txt';
export const D_SAE = 64;
export const K = 4;
const SEQ = 32;
const NSEQ = 6;
const BLOCK = 16;
const WINDOW = 4;

function histogram(values: number[], bins: number, label: string): Histogram {
  if (values.length === 0) return { edges: [0, 1], counts: [0], label };
  const lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi === lo) hi = lo + 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + ((hi - lo) * i) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]! += 1;
  return { edges, counts, label };
}

function randomSae(rng: E.Rng, dIn: number, rows?: Float32Array): HostParams {
  const wDec = rows ?? Float32Array.from({ length: D_SAE * dIn }, () => rng.normal());
  for (let i = 0; i < D_SAE; i++) {
    let s = 0;
    for (let j = 0; j < dIn; j++) s += wDec[i * dIn + j]! ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dIn; j++) wDec[i * dIn + j]! *= inv;
  }
  const wEnc = new Float32Array(dIn * D_SAE);
  for (let i = 0; i < D_SAE; i++) for (let j = 0; j < dIn; j++) wEnc[j * D_SAE + i] = wDec[i * dIn + j]!;
  return {
    W_enc: { shape: [dIn, D_SAE], data: wEnc },
    b_enc: { shape: [D_SAE], data: new Float32Array(D_SAE) },
    W_dec: { shape: [D_SAE, dIn], data: wDec },
    b_dec: { shape: [dIn], data: new Float32Array(dIn) },
  };
}

function spec(kind: 'topk' | 'gsae', dIn: number): SaeSpec {
  return {
    kind, architecture: 'topk', dIn, dSae: D_SAE, k: K, variant: kind, applyBDecToInput: true, normalizeActivations: 'none',
    modelName: 'fixture', hookName: HOOK, hookLayer: 2, hookHeadIndex: null, contextSize: SEQ, datasetPath: CORPUS, prependBos: false,
    ...(kind === 'gsae' ? { beta: 1, valueSource: 'z' as const, gradNorm: 'rms' as const } : {}),
  };
}

/** The features of one SAE folder, by brute force over NSEQ held-out sequences. */
function writeFeatures(saeDir: string, s: SaeSpec, params: HostParams, model: ReturnType<typeof loadHfDir>, tokens: Int32Array, decode: (id: number) => string): FeaturesIndex {
  const sae = makeSae(s, params);
  const V = model.cfg.vocab_size;
  const dIn = s.dIn;
  const ids = tokens.slice(0, NSEQ * SEQ);
  const { f, attr } = E.tidy(() => {
    const toks = E.tensor(ids, [NSEQ, SEQ], 'int32');
    const r = activationsAndGrads(model.params, model.cfg, toks, [HOOK], { reduction: 'sum' });
    const x = r.acts[HOOK]!;
    const g = r.grads[HOOK]!;
    const fT = encodeSae(sae, x, s.kind === 'gsae' ? g : null);
    const f = fT.toArray() as Float32Array;
    const a = E.matmul(E.reshape(g, [-1, dIn]), sae.params.W_dec!, false, true).toArray() as Float32Array;
    return { f, attr: s.kind === 'gsae' ? Float32Array.from(f, (v, i) => v * a[i]!) : null };
  });
  // direct logit effect W_U·d_i through the final LayerNorm gain
  const wte = model.params['wte.weight']!.toArray() as Float32Array; // [V, d]
  const gain = model.params['ln_f.weight']!.toArray() as Float32Array;
  const wDec = params.W_dec!.data as Float32Array;
  disposeSae(sae);
  const N = NSEQ * SEQ;
  const summaries: LatentSummary[] = [];
  const details: LatentDetail[] = [];
  const window = (n: number, i: number, vals: Float32Array): number[] => {
    const seq = Math.floor(n / SEQ);
    const pos = n % SEQ;
    const lo = Math.max(0, pos - WINDOW);
    const hi = Math.min(SEQ, pos + WINDOW + 1);
    return Array.from({ length: hi - lo }, (_, j) => vals[(seq * SEQ + lo + j) * D_SAE + i]!);
  };
  const context = (n: number, i: number): TokenContext => {
    const seq = Math.floor(n / SEQ);
    const pos = n % SEQ;
    const lo = Math.max(0, pos - WINDOW);
    const hi = Math.min(SEQ, pos + WINDOW + 1);
    const wIds = Array.from(ids.subarray(seq * SEQ + lo, seq * SEQ + hi));
    return { seq, pos, ids: wIds, tokens: wIds.map(decode), acts: window(n, i, f), ...(attr ? { attr: window(n, i, attr) } : {}), centre: pos - lo };
  };
  for (let i = 0; i < D_SAE; i++) {
    const firing: number[] = [];
    for (let n = 0; n < N; n++) if (f[n * D_SAE + i]! > 0) firing.push(n);
    const acts = firing.map((n) => f[n * D_SAE + i]!);
    const effect = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      let sum = 0;
      for (let j = 0; j < dIn; j++) sum += wte[v * dIn + j]! * gain[j]! * wDec[i * dIn + j]!;
      effect[v] = sum;
    }
    const order = [...effect.keys()].sort((a, b) => effect[b]! - effect[a]! || a - b);
    const ts = (v: number) => ({ id: v, token: decode(v), value: effect[v]! });
    const promoted = order.slice(0, 10).map(ts);
    const suppressed = order.slice(-10).reverse().map(ts);
    const cos: { index: number; cosine: number }[] = [];
    for (let j = 0; j < D_SAE; j++) {
      if (j === i) continue;
      let c = 0;
      for (let t = 0; t < dIn; t++) c += wDec[i * dIn + t]! * wDec[j * dIn + t]!;
      cos.push({ index: j, cosine: c });
    }
    cos.sort((a, b) => b.cosine - a.cosine || a.index - b.index);
    const byAct = firing.slice().sort((a, b) => f[b * D_SAE + i]! - f[a * D_SAE + i]! || a - b);
    const summary: LatentSummary = {
      index: i, density: firing.length / N, maxAct: acts.length ? Math.max(...acts) : 0, meanAct: acts.length ? acts.reduce((p, q) => p + q, 0) / acts.length : 0,
      topPromoted: promoted.slice(0, 5), steering: null,
      ...(attr ? { meanAbsAttr: firing.length ? firing.reduce((p, n) => p + Math.abs(attr[n * D_SAE + i]!), 0) / firing.length : 0 } : {}),
    };
    const half = Math.floor(byAct.length / 2);
    summaries.push(summary);
    details.push({
      ...summary,
      actHistogram: histogram(acts, 12, 'activation f_i (activation units)'),
      top: byAct.slice(0, 5).map((n) => context(n, i)),
      quantiles: byAct.length >= 2
        ? [{ lo: f[byAct[byAct.length - 1]! * D_SAE + i]!, hi: f[byAct[half]! * D_SAE + i]!, label: 'Interval 0.0-0.5', count: byAct.length - half, contexts: byAct.slice(half, half + 3).map((n) => context(n, i)) }]
        : [],
      logits: { promoted, suppressed },
      neighbours: cos.slice(0, 5),
      ...(attr ? { attrHistogram: histogram(firing.map((n) => attr[n * D_SAE + i]!), 12, 'attribution f_i·a_i (loss units)') } : {}),
    });
  }
  const fdir = join(saeDir, 'features');
  mkdirSync(join(fdir, 'blocks'), { recursive: true });
  const blocks: FeaturesIndex['blocks'] = [];
  for (let first = 0; first < D_SAE; first += BLOCK) {
    const file = `blocks/block-${String(first).padStart(5, '0')}.json`;
    const block: FeatureBlock = { format: 'gsae-features-block', version: FEATURES_VERSION, first, count: Math.min(BLOCK, D_SAE - first), latents: details.slice(first, first + BLOCK) };
    writeFileSync(join(fdir, file), JSON.stringify(block));
    blocks.push({ file, first, count: block.count });
  }
  const alive = summaries.filter((l) => l.density > 0);
  const index: FeaturesIndex = {
    format: FEATURES_FORMAT, version: FEATURES_VERSION, createdAt: new Date().toISOString(),
    sae: { dir: saeDir, architecture: s.architecture, dIn, dSae: D_SAE, k: K, hook: HOOK, needsGrad: s.kind === 'gsae' },
    model: { dir: MODEL_DIR, vocabSize: V, nLayer: model.cfg.n_layer, nEmbd: model.cfg.n_embd },
    store: { dir: '(fixture)', tokens: { source: `${CORPUS}#val`, start: 0, end: N }, seqLen: SEQ },
    tokens: N,
    options: { topContexts: 5, contextWindow: WINDOW, quantileSections: 1, contextsPerQuantile: 3, logitTokens: 10, neighbours: 5, blockSize: BLOCK },
    densityHistogram: histogram(alive.map((l) => Math.log10(l.density)), 10, 'log10 firing density (fraction of tokens)'),
    deadLatents: D_SAE - alive.length,
    blocks,
    latents: summaries,
    timing: { seconds: 0, tokensPerSecond: 0 },
    complete: true,
  };
  writeFileSync(join(fdir, 'index.json'), JSON.stringify(index));
  return index;
}

export interface Fixture {
  runDir: string;
  topk: string;
  gsae: string;
  /** TopK latent i's direction is g-SAE latent perm[i] (exactly) for i < 40; the rest are fresh */
  perm: number[];
  /** TopK latent `splitA` ≈ mixture of g-SAE latents splitB */
  splitA: number;
  splitB: [number, number];
}

/** Writes the fixture under `root` (a run folder). */
export async function writeFixture(root: string, seed = 7): Promise<Fixture> {
  const model = loadHfDir(MODEL_DIR);
  const tok = loadTokenizer(MODEL_DIR);
  const corpus = tokenizeCorpus(CORPUS, 'gpt2-restricted', 0.9, tok);
  const dIn = model.cfg.n_embd;
  const rng = new E.Rng(seed);
  const pA = randomSae(rng, dIn);
  const wA = pA.W_dec!.data as Float32Array;
  // B: latents 0..39 of A permuted; B latents perm[50], perm[51] are the two halves of A's latent 50 (a split); the rest fresh
  const perm = Array.from({ length: D_SAE }, (_, i) => i);
  for (let i = D_SAE - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const wB = Float32Array.from({ length: D_SAE * dIn }, () => rng.normal());
  for (let i = 0; i < 40; i++) wB.set(wA.subarray(i * dIn, (i + 1) * dIn), perm[i]! * dIn);
  const splitA = 50;
  const splitB: [number, number] = [perm[50]!, perm[51]!];
  const other = Float32Array.from({ length: dIn }, () => rng.normal());
  const on = Math.hypot(...other);
  for (let j = 0; j < dIn; j++) other[j]! /= on; // unit: each half then has cosine 1/√1.36 ≈ 0.86 with A's latent
  for (let j = 0; j < dIn; j++) {
    const a = wA[splitA * dIn + j]!;
    wB[splitB[0] * dIn + j] = a + 0.6 * other[j]!;
    wB[splitB[1] * dIn + j] = a - 0.6 * other[j]!;
  }
  const pB = randomSae(rng, dIn, wB);
  const runDir = root;
  const topk = join(runDir, 'runs', 'topk-k4-s0', 'sae');
  const gsae = join(runDir, 'runs', 'gsae-k4-b1-s0', 'sae');
  const decode = (id: number) => tok.decode([id]);
  for (const [dir, kind, p] of [[topk, 'topk', pA], [gsae, 'gsae', pB]] as const) {
    const sp = spec(kind, dIn);
    writeSaelens(dir, sp, p);
    writeFeatures(dir, sp, p, model, corpus.val, decode);
  }
  E.dispose(model.params);
  const rows = [
    { id: 'topk-k4', group: 'TopK', variant: 'topk', seed: 0, k: K, beta: null, fvu: 0.41, l0: 4, dead_fraction: 0.1, loss_added: 0.3, steer_mean: 0.01 },
    { id: 'gsae-k4-b1', group: 'g-SAE β=1', variant: 'gsae', seed: 0, k: K, beta: 1, fvu: 0.44, l0: 4, dead_fraction: 0.05, loss_added: 0.2, steer_mean: 0.02 },
  ];
  writeFileSync(join(runDir, 'results.json'), JSON.stringify({ meta: { suite: 'gsae-vs-topk', preset: 'fixture', question: 'fixture', model: { dir: MODEL_DIR } }, rows }, null, 2));
  writeFileSync(join(runDir, 'report.md'), '# fixture report\n\nNot a real run.\n');
  mkdirSync(join(runDir, 'plots'), { recursive: true });
  writeFileSync(join(runDir, 'plots', 'fvu.svg'), await renderSvg({ data: { values: rows }, mark: 'bar', encoding: { x: { field: 'id', type: 'nominal' }, y: { field: 'fvu', type: 'quantitative' } } } as never));
  return { runDir, topk, gsae, perm, splitA, splitB };
}
