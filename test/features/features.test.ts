/**
 * `gsae features` against a brute-force computation on a small real store: every firing position
 * collected, sorted and binned directly (top contexts, histograms, densities, interval counts),
 * logit effects and decoder neighbours in float64 on the host, the g-SAE attribution z_i·a_i in
 * float64 from x, g and the weights; and an interrupted + resumed pass equal to an uninterrupted one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { runFeatures, type FeaturesOptions } from '../../experiments/features/run.js';
import { binOf, scaleFor } from '../../experiments/features/histogram.js';
import { ACT_BINS, ATTR_BINS } from '../../experiments/features/accumulators.js';
import { rankOrder } from '../../experiments/features/top_contexts.js';
import type { FeatureBlock, FeaturesIndex, LatentDetail } from '../../experiments/features/schema.js';
import { encodeSae, loadSae } from '../../sae/model.js';
import { readManifest } from '../../sae/store/manifest.js';
import { readShard } from '../../sae/store/shard.js';
import { gpt2EvalModel, saeEvalDictionary } from '../../experiments/adapters.js';
import { steer } from '../../experiments/eval/steering.js';
import { steeringEffects } from '../../experiments/features/steering_effect.js';
import { randomSae, tinyModel, tinyStore, tmp } from './helpers.js';

const dir = tmp();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SEQS = 12;
const T = 16;
const D_SAE = 48;
const K = 4;
const opts = (saeDir: string, store: string, over: Partial<FeaturesOptions> = {}): FeaturesOptions => ({
  saeDir, storeDir: store, model: tinyModel().model, topContexts: 5, contextWindow: 3, quantileSections: 8, contextsPerQuantile: 3,
  logitTokens: 6, neighbours: 4, blockSize: 20, batchSeqs: 2, checkpointEvery: 2, steeringContexts: 0, ...over,
});

interface Brute {
  f: Float32Array;
  attr: Float64Array | null;
  attrEngine: Float32Array | null;
  rows: number;
}

/** Dense codes of every store row, encoded in the pass's batches (so the float32 values are the same). */
function brute(saeDir: string, store: string, batchSeqs: number): Brute {
  const sae = loadSae(saeDir);
  const m = readManifest(store);
  const d = m.d;
  const fs: Float32Array[] = [];
  const xs: Float32Array[] = [];
  const gs: Float32Array[] = [];
  for (const sh of m.shards) {
    const s = readShard(join(store, sh.file));
    for (let q = 0; q < sh.seqs; q += batchSeqs) {
      const n = Math.min(batchSeqs, sh.seqs - q);
      const x = s.x.slice(q * T * d, (q + n) * T * d);
      const g = s.g ? s.g.slice(q * T * d, (q + n) * T * d) : null;
      xs.push(x);
      if (g) gs.push(g);
      fs.push(E.tidy(() => encodeSae(sae, E.tensor(x, [n * T, d]), sae.spec.kind === 'gsae' ? E.tensor(g!, [n * T, d]) : null).toArray() as Float32Array));
    }
  }
  const cat = (parts: Float32Array[]) => {
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
  };
  const f = cat(fs);
  const rows = f.length / D_SAE;
  let attr: Float64Array | null = null;
  let attrEngine: Float32Array | null = null;
  if (sae.spec.kind === 'gsae') {
    const x = cat(xs);
    const g = cat(gs);
    const W_enc = sae.params.W_enc!.toArray() as Float32Array;
    const W_dec = sae.params.W_dec!.toArray() as Float32Array;
    const b_enc = sae.params.b_enc!.toArray() as Float32Array;
    const b_dec = sae.params.b_dec!.toArray() as Float32Array;
    attr = new Float64Array(rows * D_SAE);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < D_SAE; i++) {
        let z = b_enc[i]!;
        let a = 0;
        for (let j = 0; j < d; j++) {
          z += (x[r * d + j]! - b_dec[j]!) * W_enc[j * D_SAE + i]!;
          a += g[r * d + j]! * W_dec[i * d + j]!;
        }
        attr[r * D_SAE + i] = z * a;
      }
    }
    // the same product on the engine, for the binning (float32 values decide the bins)
    attrEngine = E.tidy(() => {
      const xt = E.tensor(x, [rows, d]);
      const z = E.add(E.matmul(E.sub(xt, sae.params.b_dec!), sae.params.W_enc!), sae.params.b_enc!);
      return E.mul(z, E.matmul(E.tensor(g, [rows, d]), sae.params.W_dec!, false, true)).toArray() as Float32Array;
    });
  }
  E.dispose(sae.params);
  return { f, attr, attrEngine, rows };
}

function readAll(saeDir: string): { index: FeaturesIndex; latents: LatentDetail[] } {
  const fdir = join(saeDir, 'features');
  const index = JSON.parse(readFileSync(join(fdir, 'index.json'), 'utf8')) as FeaturesIndex;
  const latents = index.blocks.flatMap((b) => (JSON.parse(readFileSync(join(fdir, b.file), 'utf8')) as FeatureBlock).latents);
  return { index, latents };
}

function histogramOf(values: number[], bins: number, signed: boolean): { edges: number[]; counts: number[] } {
  if (values.length === 0) return { edges: [], counts: [] };
  const M = scaleFor(Math.max(...values.map(Math.abs)));
  const c = new Array<number>(bins).fill(0);
  for (const v of values) c[binOf(v, M, bins, signed)]! += 1;
  let lo = 0;
  let hi = bins;
  while (hi > 0 && c[hi - 1] === 0) hi--;
  if (signed) while (lo < hi && c[lo] === 0) lo++;
  const edge = (j: number) => (signed ? ((j - bins / 2) * M) / (bins / 2) : (j * M) / bins);
  return { edges: Array.from({ length: hi - lo + 1 }, (_, j) => edge(lo + j)), counts: c.slice(lo, hi) };
}

describe('gsae features against brute force', () => {
  let store: string;
  beforeAll(() => {
    store = tinyStore(join(dir, 'store'), { seqs: SEQS, seqLen: T });
  });

  for (const kind of ['topk', 'gsae'] as const) {
    it(`${kind}: densities, histograms, top contexts, intervals, logit effects, neighbours${kind === 'gsae' ? ', attribution' : ''}`, async () => {
      const saeDir = randomSae(join(dir, `sae-${kind}`), { kind, dIn: 128, dSae: D_SAE, k: K, seed: 3 });
      const o = opts(saeDir, store);
      const index = (await runFeatures(o))!;
      expect(index.complete).toBe(true);
      expect(existsSync(join(saeDir, 'features', 'state.msgpack'))).toBe(false);
      const { latents } = readAll(saeDir);
      const b = brute(saeDir, store, o.batchSeqs!);
      const { val, model } = tinyModel();
      expect(index.tokens).toBe(SEQS * T);
      expect(latents.map((l) => l.index)).toEqual(Array.from({ length: D_SAE }, (_, i) => i));
      expect(index.blocks.map((x) => x.count)).toEqual([20, 20, 8]);
      let anyAttr = 0;
      for (let i = 0; i < D_SAE; i++) {
        const L = latents[i]!;
        const firing: { act: number; seq: number; pos: number; row: number }[] = [];
        for (let r = 0; r < b.rows; r++) {
          const v = b.f[r * D_SAE + i]!;
          if (v > 0) firing.push({ act: v, seq: Math.floor(r / T), pos: r % T, row: r });
        }
        let sum = 0;
        for (const p of firing) sum += p.act;
        expect(L.density).toBe(firing.length / b.rows);
        expect(L.maxAct).toBe(firing.length ? Math.max(...firing.map((p) => p.act)) : 0);
        expect(L.meanAct).toBe(firing.length ? sum / firing.length : 0);
        expect({ edges: L.actHistogram.edges, counts: L.actHistogram.counts }).toEqual(histogramOf(firing.map((p) => p.act), ACT_BINS, false));
        // top contexts: the first K by (activation desc, store order), with the window around each
        const want = [...firing].sort(rankOrder).slice(0, 5);
        expect(L.top.map((c) => [c.seq, c.pos])).toEqual(want.map((p) => [p.seq, p.pos]));
        for (const c of [...L.top, ...L.quantiles.flatMap((q) => q.contexts)]) {
          const lo = Math.max(0, c.pos - 3);
          const hi = Math.min(T, c.pos + 4);
          expect(c.centre).toBe(c.pos - lo);
          expect(c.ids).toEqual(Array.from(val.subarray(c.seq * T + lo, c.seq * T + hi)));
          expect(c.tokens).toEqual(c.ids.map((id) => model.tokenizer.decode([id])));
          expect(c.acts).toEqual(Array.from({ length: hi - lo }, (_, j) => b.f[(c.seq * T + lo + j) * D_SAE + i]!));
          if (kind === 'gsae') {
            expect(c.attr).toHaveLength(hi - lo);
            c.attr!.forEach((v, j) => expect(v).toBeCloseTo(b.attr![(c.seq * T + lo + j) * D_SAE + i]!, 4));
          } else expect(c.attr).toBeUndefined();
        }
        // intervals: exact counts over [j·M/G, (j+1)·M/G); sampled centres are real firing positions inside them
        const M = scaleFor(L.maxAct);
        const counts = new Array<number>(8).fill(0);
        for (const p of firing) counts[binOf(p.act, M, ACT_BINS, false) >> 3]! += 1;
        const sections = L.quantiles;
        expect(sections.map((q) => q.count)).toEqual(counts.map((c, j) => [j, c] as const).filter(([, c]) => c > 0).reverse().map(([, c]) => c));
        for (const q of sections) {
          expect(q.contexts).toHaveLength(Math.min(3, q.count));
          for (const c of q.contexts) {
            const v = c.acts[c.centre]!;
            expect(v).toBeGreaterThanOrEqual(q.lo);
            expect(v).toBeLessThanOrEqual(q.hi);
          }
          expect(new Set(q.contexts.map((c) => `${c.seq}:${c.pos}`)).size).toBe(q.contexts.length);
        }
        if (kind === 'gsae') {
          const at = firing.map((p) => b.attr![p.row * D_SAE + i]!);
          const mean = at.length ? at.reduce((s, v) => s + Math.abs(v), 0) / at.length : 0;
          expect(L.meanAbsAttr).toBeCloseTo(mean, 4);
          const h = histogramOf(firing.map((p) => b.attrEngine![p.row * D_SAE + i]!), ATTR_BINS, true);
          expect({ edges: L.attrHistogram!.edges, counts: L.attrHistogram!.counts }).toEqual(h);
          anyAttr += at.length;
        } else {
          expect(L.meanAbsAttr).toBeUndefined();
          expect(L.attrHistogram).toBeUndefined();
        }
      }
      if (kind === 'gsae') expect(anyAttr).toBeGreaterThan(0);
      expect(latents.reduce((s, l) => s + l.density * b.rows, 0)).toBe(b.rows * K);
      expect(index.deadLatents).toBe(latents.filter((l) => l.density === 0).length);
      expect(index.densityHistogram.counts.reduce((s, c) => s + c, 0)).toBe(D_SAE - index.deadLatents);

      // logit effects and neighbours, in float64 on the host
      const sae = loadSae(saeDir);
      const W = sae.params.W_dec!.toArray() as Float32Array;
      E.dispose(sae.params);
      const wte = model.params['wte.weight']!.toArray() as Float32Array;
      const gain = model.params['ln_f.weight']!.toArray() as Float32Array;
      const V = model.cfg.vocab_size;
      const dm = 128;
      for (const i of [0, 7, 31, 47]) {
        const eff = Array.from({ length: V }, (_, t) => {
          let s = 0;
          for (let j = 0; j < dm; j++) s += W[i * dm + j]! * wte[t * dm + j]! * gain[j]!;
          return s;
        });
        const order = eff.map((v, t) => [v, t] as const).sort((a, c) => c[0] - a[0] || a[1] - c[1]);
        expect(latents[i]!.logits.promoted.map((s) => s.id)).toEqual(order.slice(0, 6).map(([, t]) => t));
        expect(latents[i]!.logits.suppressed.map((s) => s.id)).toEqual(order.slice(-6).reverse().map(([, t]) => t));
        latents[i]!.logits.promoted.forEach((s) => expect(s.value).toBeCloseTo(eff[s.id]!, 4));
        latents[i]!.logits.suppressed.forEach((s) => expect(s.value).toBeCloseTo(eff[s.id]!, 4));
        expect(latents[i]!.topPromoted.map((s) => s.id)).toEqual(order.slice(0, 5).map(([, t]) => t));
        const cos = Array.from({ length: D_SAE }, (_, q) => {
          let s = 0;
          let a = 0;
          let c = 0;
          for (let j = 0; j < dm; j++) {
            s += W[i * dm + j]! * W[q * dm + j]!;
            a += W[i * dm + j]! ** 2;
            c += W[q * dm + j]! ** 2;
          }
          return s / Math.sqrt(a * c);
        });
        const nn = cos.map((v, q) => [v, q] as const).filter(([, q]) => q !== i).sort((a, c) => c[0] - a[0] || a[1] - c[1]);
        expect(latents[i]!.neighbours.map((n) => n.index)).toEqual(nn.slice(0, 4).map(([, q]) => q));
        latents[i]!.neighbours.forEach((n) => expect(n.cosine).toBeCloseTo(cos[n.index]!, 5));
      }
      // the Neuronpedia export mirrors the dashboards
      const np = JSON.parse(readFileSync(join(saeDir, 'features', 'neuronpedia', 'batch-00000.json'), 'utf8'));
      expect(np).toHaveLength(20);
      expect(np[3]).toMatchObject({ index: '3', layer: 'blocks.2.hook_resid_pre', frac_nonzero: latents[3]!.density, maxActApprox: latents[3]!.maxAct });
      expect(np[3].pos_str).toEqual(latents[3]!.logits.promoted.map((s) => s.token));
      expect(np[3].activations.map((a: { values: number[] }) => a.values)).toEqual(latents[3]!.top.map((c) => c.acts));
    });
  }

  it('an interrupted and resumed pass writes what an uninterrupted one writes', async () => {
    const a = randomSae(join(dir, 'resume-a'), { kind: 'gsae', dIn: 128, dSae: D_SAE, k: K, seed: 5 });
    const bDir = join(dir, 'resume-b');
    cpSync(a, bDir, { recursive: true });
    await runFeatures(opts(a, store, { steeringContexts: 2, steeringLen: 8 }));
    // interrupted twice (after 4 and 8 of 12 sequences), resumed from the checkpoint each time
    expect(await runFeatures(opts(bDir, store, { steeringContexts: 2, steeringLen: 8, stopAfterSeqs: 4 }))).toBeNull();
    expect(existsSync(join(bDir, 'features', 'state.msgpack'))).toBe(true);
    // the second stop comes through shouldStop (what the CLI's SIGINT handler sets)
    let polls = 0;
    expect(await runFeatures(opts(bDir, store, { steeringContexts: 2, steeringLen: 8, shouldStop: () => ++polls >= 2 }))).toBeNull();
    const logs: string[] = [];
    await runFeatures(opts(bDir, store, { steeringContexts: 2, steeringLen: 8, log: (s) => logs.push(s) }));
    expect(logs.some((l) => /resuming at sequence 8\/12/.test(l))).toBe(true);
    const strip = (ix: FeaturesIndex) => ({ ...ix, createdAt: null, timing: null, sae: { ...ix.sae, dir: null } });
    const A = readAll(a);
    const B = readAll(bDir);
    expect(strip(B.index)).toEqual(strip(A.index));
    expect(B.latents).toEqual(A.latents);
    expect(A.index.latents.every((l) => typeof l.steering === 'number' && Number.isFinite(l.steering))).toBe(true);
    const files = (d: string) => readdirSync(join(d, 'features'), { recursive: true }).map(String).sort();
    expect(files(bDir)).toEqual(files(a));
    // and a resume under other options is refused rather than mixed
    expect(await runFeatures(opts(bDir, store, { stopAfterSeqs: 2 }))).toBeNull();
    await expect(runFeatures(opts(bDir, store, { topContexts: 7 }))).rejects.toThrow(/written for other settings/);
  });

  it('the batched steering effect equals experiments/eval/steering.ts steer on the same contexts', () => {
    const saeDir = randomSae(join(dir, 'steer'), { kind: 'topk', dIn: 128, dSae: 6, k: 2, seed: 8 });
    const { model, val } = tinyModel();
    const sae = loadSae(saeDir);
    const evalModel = gpt2EvalModel(model.params, model.cfg);
    const dict = saeEvalDictionary(sae);
    const ctx = E.keep(E.tensor(val.slice(0, 3 * 10), [3, 10], 'int32'));
    const ref = steer(evalModel, dict, 'blocks.2.hook_resid_pre', [ctx], [0, 1, 2, 3, 4, 5], { c: 2, topN: 5, meanNorm: 1.5 });
    const mine = steeringEffects(evalModel, dict, ctx, { hook: 'blocks.2.hook_resid_pre', c: 2, meanNorm: 1.5, tokenSets: ref.map((r) => r.tokens), groupRows: 7 });
    mine.forEach((v, i) => expect(v).toBeCloseTo(ref[i]!.probability_addition, 5));
    expect(mine.some((v) => Math.abs(v) > 1e-4)).toBe(true);
    E.dispose([ctx, sae.params]);
  });
});
