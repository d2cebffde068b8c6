/**
 * `gsae lm sample --steer <sae-dir>:<latent>:<coef>` (repeatable): the Node side of steered
 * sampling. Loads each SAE, checks it against the model, resolves E‖x‖ for α = c·E‖x‖, and samples
 * the continuation twice from the same seed — plain and steered (steer_hook.ts hooks at every
 * position of every forward) — plus the next-token top-10 change at the end of the prompt.
 *
 * E‖x‖ comes from `<sae-dir>/features/index.json` (meanNorm: the mean activation norm at the
 * hook over the held-out store, recorded by `gsae features`) when it exists; otherwise it is
 * measured on the prompt itself (mean over its positions), which for a short prompt is a rough
 * estimate — the printed summary says which one was used.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import type { Gpt2Config } from '../../models/gpt2/config.js';
import { checkHookNames } from '../../models/gpt2/hooks.js';
import { forward, runWithCache } from '../../models/gpt2/model.js';
import type { Gpt2Params } from '../../models/gpt2/params.js';
import { generate, type SampleOptions } from '../../models/gpt2/sample.js';
import { disposeSae, loadSae, type SaeModel } from '../../sae/model.js';
import { FEATURES_DIR, FEATURES_INDEX, type FeaturesIndex } from './schema.js';
import { meanNorm, nextTokenChange, steeringDeltas, steeringHooks, type Steer, type TokenProbChange } from './steer_hook.js';

export interface SteerFlag {
  saeDir: string;
  latent: number;
  coef: number;
}

/** Parses `<sae-dir>:<latent>:<coef>` (the directory may itself contain ':'). */
export function parseSteerFlag(s: string): SteerFlag {
  const b = s.lastIndexOf(':');
  const a = b > 0 ? s.lastIndexOf(':', b - 1) : -1;
  if (a <= 0) throw new Error(`--steer ${JSON.stringify(s)}: expected <sae-dir>:<latent>:<coef>, e.g. runs/x/sae:12:4`);
  const latent = Number(s.slice(a + 1, b));
  const coef = Number(s.slice(b + 1));
  if (!Number.isInteger(latent) || latent < 0) throw new Error(`--steer ${JSON.stringify(s)}: latent ${JSON.stringify(s.slice(a + 1, b))} is not a non-negative integer`);
  if (s.slice(b + 1).trim() === '' || !Number.isFinite(coef)) throw new Error(`--steer ${JSON.stringify(s)}: coefficient ${JSON.stringify(s.slice(b + 1))} is not a number`);
  return { saeDir: s.slice(0, a), latent, coef };
}

export interface ResolvedSteer extends Steer {
  saeDir: string;
  /** where meanNorm came from */
  normSource: 'features index' | 'prompt';
}

/** Loads the SAEs of the flags (once per directory) and builds the steers; dispose with the returned function. */
export function resolveSteers(flags: readonly SteerFlag[], params: Gpt2Params, cfg: Gpt2Config, prompt: readonly number[]): { steers: ResolvedSteer[]; dispose: () => void } {
  const saes = new Map<string, SaeModel>();
  const dispose = () => saes.forEach((s) => disposeSae(s));
  try {
    const steers = flags.map((f): ResolvedSteer => {
      if (!existsSync(f.saeDir)) throw new Error(`--steer: SAE directory ${f.saeDir} does not exist`);
      let sae = saes.get(f.saeDir);
      if (!sae) {
        sae = loadSae(f.saeDir);
        saes.set(f.saeDir, sae);
      }
      const { spec } = sae;
      if (!spec.hookName) throw new Error(`--steer: SAE ${f.saeDir} names no hook (cfg.json hook_name)`);
      checkHookNames([spec.hookName], cfg, `--steer ${f.saeDir}`);
      if (spec.dIn !== cfg.n_embd) throw new Error(`--steer: SAE ${f.saeDir} has d_in = ${spec.dIn} but the model's d_model is ${cfg.n_embd}`);
      if (f.latent >= spec.dSae) throw new Error(`--steer: latent ${f.latent} is not a latent of ${f.saeDir} (d_sae = ${spec.dSae})`);
      const recorded = recordedMeanNorm(f.saeDir);
      const norm = recorded ?? promptMeanNorm(params, cfg, prompt, spec.hookName);
      return { saeDir: f.saeDir, hook: spec.hookName, decoderRows: sae.params['W_dec']!, latent: f.latent, coef: f.coef, meanNorm: norm, normSource: recorded === null ? 'prompt' : 'features index' };
    });
    return { steers, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

function recordedMeanNorm(saeDir: string): number | null {
  const p = join(saeDir, FEATURES_DIR, FEATURES_INDEX);
  if (!existsSync(p)) return null;
  try {
    const ix = JSON.parse(readFileSync(p, 'utf8')) as FeaturesIndex;
    return typeof ix.meanNorm === 'number' && ix.meanNorm > 0 ? ix.meanNorm : null;
  } catch {
    return null;
  }
}

function promptMeanNorm(params: Gpt2Params, cfg: Gpt2Config, prompt: readonly number[], hook: string): number {
  return E.tidy(() => {
    const ctx = prompt.slice(-cfg.n_positions);
    const r = runWithCache(params, cfg, E.tensor(Int32Array.from(ctx), [1, ctx.length], 'int32'), [hook], { checkTokens: false });
    return meanNorm(r.acts[hook]!);
  });
}

export interface SteeredSample {
  plain: number[];
  steered: number[];
  /** next-token top-n at the last prompt position, clean vs steered */
  change: { clean: TokenProbChange[]; steered: TokenProbChange[] };
}

/** Plain and steered continuations from the same seed, and the next-token change for the prompt. */
export function steeredSample(params: Gpt2Params, cfg: Gpt2Config, prompt: readonly number[], steers: readonly Steer[], o: Omit<SampleOptions, 'rng' | 'hooks'> & { seed: number; topN?: number }): SteeredSample {
  const deltas = E.keep(E.tidy(() => steeringDeltas(steers)));
  try {
    const hooks = steeringHooks(deltas);
    const { seed, topN, ...rest } = o;
    const plain = generate(params, cfg, prompt, { ...rest, rng: new E.Rng(seed) });
    const steered = generate(params, cfg, prompt, { ...rest, rng: new E.Rng(seed), hooks });
    const change = E.tidy(() => {
      const ctx = prompt.slice(-cfg.n_positions);
      const toks = E.tensor(Int32Array.from(ctx), [1, ctx.length], 'int32');
      const last = (l: E.Tensor) => (l.toArray() as Float32Array).slice((ctx.length - 1) * cfg.vocab_size);
      return nextTokenChange(last(forward(params, cfg, toks, { checkTokens: false })), last(forward(params, cfg, toks, { checkTokens: false, hooks })), topN ?? 10);
    });
    return { plain, steered, change };
  } finally {
    E.dispose(deltas);
  }
}
