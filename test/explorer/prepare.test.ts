/**
 * `gsae explore <run>` computes the features it needs first (experiments/explorer/prepare.ts): on
 * a tiny run-shaped folder (two SAEs forming a TopK / g-SAE pair at equal k, a third TopK outside
 * the pairs, results.json of the older kind that records no store paths, the eval store where the
 * runner's cache layout puts it) it computes exactly the pair's features over that store, the same
 * files `gsae features` writes; `--all` adds the third, resuming its interrupted pass; the site then
 * serves them. `--no-compute` refuses with today's one line; a store that is not held out, or a
 * missing eval store, is one line too.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exploreCommand } from '../../cli/commands/explore.js';
import { featuresState, neededDictionaries, prepareFeatures, runEvalStore, type PrepareOptions } from '../../experiments/explorer/prepare.js';
import { buildSite } from '../../experiments/explorer/site.js';
import { serveSite } from '../../experiments/explorer/server.js';
import type { SiteManifest } from '../../experiments/explorer/manifest.js';
import { CORPUS, TINY_MODEL } from '../../experiments/default_model.js';
import { runFeatures } from '../../experiments/features/run.js';
import type { FeatureBlock, FeaturesIndex } from '../../experiments/features/schema.js';
import { storeDirFor } from '../../experiments/runner.js';
import { runCli } from '../cli_helpers.js';
import { HOOK, randomSae, tinyModel, tinyStore, tmp } from '../features/helpers.js';

const SEQ = 16;
const SEQS = 8;
const D_SAE = 32;
const root = tmp();
const runDir = join(root, 'run');
const cache = join(root, 'cache');
const sae = (id: string) => join(runDir, 'runs', id, 'sae');
let evalStore: string;

beforeAll(() => {
  const { model } = tinyModel();
  evalStore = tinyStore(storeDirFor(cache, model.id, HOOK, 'val', SEQ, SEQ * SEQS), { seqs: SEQS, seqLen: SEQ });
  // the SAEs record the corpus as dataset_path, as `gsae experiment` does, so the held-out check reads results.json
  randomSae(sae('topk-k4-s0'), { kind: 'topk', dIn: model.cfg.n_embd, dSae: D_SAE, k: 4, seed: 1, datasetPath: CORPUS });
  randomSae(sae('gsae-k4-b1-s0'), { kind: 'gsae', dIn: model.cfg.n_embd, dSae: D_SAE, k: 4, seed: 2, datasetPath: CORPUS });
  randomSae(sae('topk-k8-s0'), { kind: 'topk', dIn: model.cfg.n_embd, dSae: D_SAE, k: 8, seed: 3, datasetPath: CORPUS });
  const meta = { suite: 'gsae-vs-topk', model: { id: model.id, dir: TINY_MODEL }, config: { hook: HOOK, seqLen: SEQ, evalTokens: SEQ * SEQS, storeTrainTokens: 2000 } };
  writeFileSync(join(runDir, 'results.json'), JSON.stringify({ meta, rows: [] }));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const opts = (over: Partial<PrepareOptions> = {}): PrepareOptions => ({
  all: false, cacheDir: cache, steeringContexts: 0, steeringLen: 8, progress: false, log: () => {}, ...over,
});
const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;

describe('gsae explore computes missing features', () => {
  it('finds the eval store through results.json: meta.stores.eval when recorded, else the runner cache layout', () => {
    expect(runEvalStore(runDir, cache)).toEqual({ dir: evalStore, why: `the runner's cache layout under ${cache}, from ${join(runDir, 'results.json')}` });
    // an SAE inside the run finds the same
    expect(runEvalStore(sae('topk-k4-s0'), cache)?.dir).toBe(evalStore);
    const other = join(root, 'other');
    mkdirSync(other, { recursive: true });
    cpSync(join(runDir, 'runs'), join(other, 'runs'), { recursive: true });
    writeFileSync(join(other, 'results.json'), JSON.stringify({ meta: { stores: { eval: '/somewhere/val' } }, rows: [] }));
    expect(runEvalStore(other, cache)).toEqual({ dir: '/somewhere/val', why: `${join(other, 'results.json')} meta.stores.eval` });
    // and it is one line when that store is gone
    return expect(prepareFeatures(other, opts())).rejects.toThrow(
      "the run's held-out eval store /somewhere/val (" + join(other, 'results.json') + " meta.stores.eval) is not there, so the missing features cannot be computed: pass --store <held-out store> (or --cache <folder the run used>), or --no-compute",
    );
  });

  it('by default needs the comparison pairs of the first seed; --all every SAE', () => {
    const { model } = tinyModel();
    const multi = join(root, 'multi');
    const ids = ['gsae-k4-b1-s1', 'gsae-k4-b1-s2', 'relu-s1', 'topk-k4-s1', 'topk-k4-s2', 'topk-k8-s1'];
    ids.forEach((id, i) => randomSae(join(multi, 'runs', id, 'sae'), { kind: id.startsWith('gsae') ? 'gsae' : 'topk', dIn: model.cfg.n_embd, dSae: 8, k: id.includes('k8') ? 8 : id.startsWith('relu') ? 2 : 4, seed: i }));
    expect(neededDictionaries(multi, false).map((d) => d.id)).toEqual(['gsae-k4-b1-s1', 'topk-k4-s1']);
    expect(neededDictionaries(multi, true).map((d) => d.id)).toEqual(ids);
    expect(neededDictionaries(runDir, false).map((d) => d.id)).toEqual(['gsae-k4-b1-s0', 'topk-k4-s0']);
  });

  it('--no-compute refuses with the one-line message and writes nothing', async () => {
    const err = await runCli(exploreCommand, ['explore', runDir, '--no-compute', '--cache', cache, '--port', '0']).catch((e: Error) => e);
    expect((err as Error).message).toBe(`no features under ${runDir} (3 SAE folders, none with features/index.json): run 'gsae features <sae-dir> --store <held-out store>' first`);
    for (const id of ['topk-k4-s0', 'gsae-k4-b1-s0', 'topk-k8-s0']) expect(existsSync(join(sae(id), 'features'))).toBe(false);
    await expect(runCli(exploreCommand, ['explore', runDir, '--steering-contexts', '-1'])).rejects.toThrow('--steering-contexts must be a non-negative integer (0 skips the steering effect), got -1');
  });

  it('refuses a store that overlaps the training tokens (the held-out check still holds)', async () => {
    const trainStore = tinyStore(join(root, 'train-store'), { seqs: 2, seqLen: SEQ, split: 'train', start: 0 });
    await expect(prepareFeatures(runDir, opts({ store: trainStore }))).rejects.toThrow(/is not held out: its tokens \[0, 32\) of .*#train overlap the SAE's training tokens \[0, 2000\)/);
  });

  it('computes the comparison pair (only), the same files as gsae features, and says so', async () => {
    const out = join(root, 'site');
    const lines = await runCli(exploreCommand, ['explore', runDir, '--cache', cache, '--static', out, '--steering-contexts', '1', '--steering-len', '8', '--no-progress']);
    const said = lines.join('\n');
    expect(said).toMatch(new RegExp(`computed features of gsae-k4-b1-s0 over ${SEQ * SEQS} held-out tokens of ${evalStore} in [\\d.]+ s \\(steering effect on 1 × 8 tokens\\)`));
    expect(said).toMatch(/computed features of topk-k4-s0 over/);
    expect(said).not.toMatch(/topk-k8-s0/);
    expect(featuresState(sae('topk-k8-s0'))).toBe('missing');
    expect(readFileSync(join(out, 'manifest.json.js'), 'utf8')).toContain('computed features of gsae-k4-b1-s0');
    for (const id of ['topk-k4-s0', 'gsae-k4-b1-s0']) {
      const ix = readJson<FeaturesIndex>(join(sae(id), 'features', 'index.json'));
      expect(ix.complete).toBe(true);
      expect(ix.store.dir).toBe(evalStore);
      expect(ix.heldOut?.checked).toBe(true);
      expect(ix.steeringOptions?.tokensPerContext).toBe(8);
      expect(ix.latents.some((l) => l.steering !== null)).toBe(true);
      // what `gsae features` writes for the same SAE, store and options
      const copy = join(root, 'copy', id, 'sae');
      mkdirSync(copy, { recursive: true });
      for (const f of ['cfg.json', 'sae_weights.safetensors']) cpSync(join(sae(id), f), join(copy, f));
      const direct = (await runFeatures({ saeDir: copy, storeDir: evalStore, model: tinyModel().model, steeringContexts: 1, steeringLen: 8 }))!;
      expect(ix.latents).toEqual(direct.latents);
      expect(readJson<FeatureBlock>(join(sae(id), 'features', ix.blocks[0]!.file))).toEqual(readJson<FeatureBlock>(join(copy, 'features', direct.blocks[0]!.file)));
    }
  });

  it('--all resumes the interrupted third SAE, computes nothing else, and the site then serves every dictionary', async () => {
    const third = sae('topk-k8-s0');
    // an interrupted pass (as Ctrl-C leaves it): the state is checkpointed after 4 of 8 sequences
    const stopped = await runFeatures({ saeDir: third, storeDir: evalStore, model: tinyModel().model, steeringContexts: 0, checkpointEvery: 1, stopAfterSeqs: 4 });
    expect(stopped).toBeNull();
    expect(featuresState(third)).toBe('interrupted');
    const logs: string[] = [];
    const r = await prepareFeatures(runDir, opts({ all: true, log: (s) => logs.push(s) }));
    expect(r.computed.map((c) => [c.id, c.resumed])).toEqual([['topk-k8-s0', true]]);
    expect(r.present.sort()).toEqual(['gsae-k4-b1-s0', 'topk-k4-s0']);
    expect(logs.join('\n')).toMatch(/resuming at sequence 4\/8/);
    expect(featuresState(third)).toBe('complete');
    // the resumed files equal an uninterrupted pass
    const copy = join(root, 'copy3', 'sae');
    mkdirSync(copy, { recursive: true });
    for (const f of ['cfg.json', 'sae_weights.safetensors']) cpSync(join(third, f), join(copy, f));
    const direct = (await runFeatures({ saeDir: copy, storeDir: evalStore, model: tinyModel().model, steeringContexts: 0 }))!;
    expect(readJson<FeaturesIndex>(join(third, 'features', 'index.json')).latents).toEqual(direct.latents);
    // a second call has nothing left to do
    expect((await prepareFeatures(runDir, opts({ all: true }))).computed).toEqual([]);

    const site = buildSite(runDir, { bundle: '', prepared: r.summary });
    const s = await serveSite(site, 0, '127.0.0.1');
    try {
      const m = (await (await fetch(`${s.url}manifest.json`)).json()) as SiteManifest;
      expect(m.dictionaries.map((d) => [d.id, d.hasFeatures])).toEqual([['gsae-k4-b1-s0', true], ['topk-k4-s0', true], ['topk-k8-s0', true]]);
      expect(m.prepared).toEqual(r.summary);
      const ix = (await (await fetch(`${s.url}d/topk-k8-s0/features/index.json`)).json()) as FeaturesIndex;
      expect(ix.complete).toBe(true);
    } finally {
      await s.close();
    }
  });
});
