/**
 * The page's live model and SAEs (loaded on first use, one model and one SAE per dictionary,
 * kept for the page's lifetime) and one steering round trip on them: next-token distributions
 * clean and steered, sampled continuations from the same seed, and the prompt's latents.
 * Used by the steer view and by the browser test's hooks in main.ts.
 */
import { loadBytes, loadJson } from './data.js';
import * as live from './live.js';
import { dict, featuresOf, manifest } from './state.js';

let liveModel: live.LiveModel | null = null;
export const liveSaes = new Map<string, live.LiveSae>();

export async function ensureLive(id: string): Promise<{ m: live.LiveModel; s: live.LiveSae }> {
  if (!manifest.model) throw new Error('no model in this site (start gsae explore with --model <GPT-2 folder>)');
  if (!liveModel) {
    const mb = manifest.model.base;
    const [cfg, w, vocab] = await Promise.all([
      loadJson<unknown>(`${mb}/config.json`),
      loadBytes(`${mb}/model.safetensors`),
      manifest.model.hasVocab ? loadJson<unknown>(`${mb}/gsae_vocab.json`) : Promise.resolve(null),
    ]);
    liveModel = live.loadLiveModel(cfg, w, vocab);
  }
  let s = liveSaes.get(id);
  if (!s) {
    const d = dict(id);
    s = live.loadLiveSae(id, d.spec, await loadBytes(`${d.base}/sae_weights.safetensors`));
    liveSaes.set(id, s);
  }
  if (!live.currentBackend()) live.useBackend(live.pageBackends().find((b) => b.available)!.name, liveModel, [...liveSaes.values()]);
  else if (!s.model) live.attachSae(s);
  return { m: liveModel, s };
}

export interface SteerResult {
  dict: string;
  hasFeatures: boolean;
  backend: string;
  alpha: number;
  meanNorm: number;
  normSource: string;
  clean: { token: string; clean: number; steered: number }[];
  steered: { token: string; clean: number; steered: number }[];
  continuationClean: string;
  continuationSteered: string;
  promptLatents: live.TokenLatents[];
  ms: number;
}

export async function runSteer(id: string, prompt: string, latent: number, c: number, n: number, temperature: number, seed: number): Promise<SteerResult> {
  const t0 = performance.now();
  const { m, s } = await ensureLive(id);
  if (!Number.isInteger(latent) || latent < 0 || latent >= s.spec.dSae) throw new Error(`latent must be an integer in 0..${s.spec.dSae - 1}, got ${latent}`);
  if (!Number.isFinite(c)) throw new Error(`the coefficient must be a number, got ${c}`);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`tokens must be an integer in 1..256, got ${n}`);
  if (!(temperature >= 0)) throw new Error(`temperature must be ≥ 0, got ${temperature}`);
  const ids = m.tokenizer.encode(prompt);
  if (ids.length === 0) throw new Error('the prompt is empty');
  const d = dict(id);
  const recorded = d.hasFeatures ? (await featuresOf(d)).meanNorm : undefined;
  const norm = typeof recorded === 'number' && recorded > 0 ? recorded : live.promptMeanNorm(m, ids, s.spec.hookName);
  const steer: live.Steer = { sae: s, latent, coef: c, meanNorm: norm };
  const change = live.nextTokenChange(live.lastLogits(m, ids), live.lastLogits(m, ids, steer), 10);
  const named = (r: { id: number; clean: number; steered: number }) => ({ token: m.tokenizer.decode([r.id]), clean: r.clean, steered: r.steered });
  const contC = await live.sampleContinuation(m, ids, n, temperature, seed, null);
  const contS = await live.sampleContinuation(m, ids, n, temperature, seed, steer);
  const pl = live.promptLatents(m, s, ids);
  return {
    dict: id, hasFeatures: d.hasFeatures, backend: live.currentBackend(), alpha: c * norm, meanNorm: norm, normSource: recorded ? 'held-out mean from the features index' : 'mean over the prompt',
    clean: change.clean.map(named), steered: change.steered.map(named),
    continuationClean: m.tokenizer.decode(contC), continuationSteered: m.tokenizer.decode(contS), promptLatents: pl, ms: performance.now() - t0,
  };
}
