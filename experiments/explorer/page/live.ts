/**
 * The model and an SAE running in the page on the project's engine: the next-token
 * distribution with and without steering, a sampled continuation of each, and which latents fire
 * on each prompt token (for a g-SAE with the gradient g from a backward pass, and the
 * attribution f_i·a_i, a = W_dec g, next to the activation).
 *
 * Backends: 'wasm' when the page may create shared WebAssembly memory (cross-origin isolated:
 * the explorer's server sends COOP/COEP), single-threaded (a page's main thread may not
 * Atomics.wait, and worker_threads is Node's); else 'reference' (plain TypeScript). The page
 * shows which one runs and why.
 *
 * Steering (METHODS §4's addition) uses experiments/features/steer_hook.ts, the module
 * `gsae lm sample --steer` uses: α·d_i added at the SAE's hook at every position, α = c·E‖x‖,
 * with E‖x‖ from the features index (the held-out mean) when it records one, else measured on
 * the prompt, as the CLI does.
 */
import * as E from '../../../engine/index.js';
import { missingFeature } from '../../../engine/backends/wasm/features.js';
import { probeGpujs, registerGpujsMode } from '../../../engine/backends/gpujs/index.js';
import { parseConfig, type Gpt2Config } from '../../../models/gpt2/config.js';
import { paramsFromStored, type Gpt2Params } from '../../../models/gpt2/params.js';
import { activationsAndGrads, forward, runWithCache } from '../../../models/gpt2/model.js';
import { Gpt2BpeTokenizer, tokenizerFromJson, type Tokenizer } from '../../../models/gpt2/tokenizer.js';
import { sampleFromLogits } from '../../../models/gpt2/sample.js';
import { encodeSae, makeSae, type SaeModel } from '../../../sae/model.js';
import type { SaeSpec } from '../../../sae/saelens.js';
import type { HostParams } from '../../../sae/common.js';
import { meanNorm, nextTokenChange, steeringDeltas, steeringHooks } from '../../features/steer_hook.js';

export { nextTokenChange };

export interface BackendChoice {
  name: string;
  available: boolean;
  why: string;
}

let gpujs: { loaded: boolean; error: string | null } = { loaded: false, error: null };

/**
 * Loads gpu.js's browser build (script tag; it defines the global GPU) and registers the
 * 'gpujs-webgl2' backend when gpu.js finds WebGL2 here. Only webgl2 is offered: gpu.js's WebGPU
 * kernels are asynchronous, and the page's forward runs the engine's synchronous interface.
 */
export async function prepareGpujs(src: string): Promise<void> {
  if (gpujs.loaded || gpujs.error) return;
  await new Promise<void>((resolve) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => {
      gpujs = { loaded: false, error: `could not load ${src}` };
      resolve();
    };
    document.head.appendChild(s);
  });
  if (gpujs.error) return;
  gpujs = { loaded: true, error: null };
  const st = probeGpujs(true).modes.find((m) => m.mode === 'webgl2');
  if (st?.usable) registerGpujsMode('webgl2');
}

/** The backends the page can use, best first, each with why it can or cannot run here. */
export function pageBackends(): BackendChoice[] {
  const out: BackendChoice[] = [];
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const miss = missingFeature();
  if (miss) {
    out.push({ name: 'wasm', available: false, why: isolated ? miss : `${miss} — the page is not cross-origin isolated (opened from ${location.protocol === 'file:' ? 'file://' : 'a server without COOP/COEP headers'}); serve it with 'gsae explore' for wasm` });
  } else {
    out.push({ name: 'wasm', available: true, why: 'WebAssembly SIMD on shared memory (cross-origin isolated page), single thread' });
  }
  out.push({ name: 'reference', available: true, why: 'plain TypeScript loops (the oracle), always available' });
  if (gpujs.error) out.push({ name: 'gpujs-webgl2', available: false, why: gpujs.error });
  else if (!gpujs.loaded) out.push({ name: 'gpujs-webgl2', available: false, why: 'gpu.js is not loaded' });
  else {
    const st = probeGpujs().modes.find((m) => m.mode === 'webgl2')!;
    out.push({ name: 'gpujs-webgl2', available: st.usable, why: st.usable ? `gpu.js WebGL2 kernels on ${st.renderer ?? 'this GPU'}${st.hardware ? '' : ' (a software rasteriser: slow)'}` : st.reason ?? 'not usable' });
  }
  return out;
}

export interface LiveModel {
  cfg: Gpt2Config;
  tokenizer: Tokenizer;
  stored: Map<string, E.StoredTensor>;
  params: Gpt2Params | null;
}

export interface LiveSae {
  id: string;
  spec: SaeSpec;
  host: HostParams;
  model: SaeModel | null;
}

let backendName = '';

/** Switches the engine to `name` and moves the model and SAEs there (re-uploaded from host copies). */
export function useBackend(name: string, model: LiveModel, saes: LiveSae[]): void {
  if (backendName === name && model.params) return;
  if (model.params) E.dispose(model.params);
  for (const s of saes) if (s.model) E.dispose(s.model.params);
  E.setBackend(name);
  backendName = name;
  model.params = E.keep(paramsFromStored(model.cfg, model.stored, 'model/model.safetensors'));
  for (const s of saes) s.model = makeSae(s.spec, s.host);
}

/** Puts an SAE loaded after the backend was chosen onto the current backend. */
export function attachSae(s: LiveSae): void {
  s.model ??= makeSae(s.spec, s.host);
}

export function currentBackend(): string {
  return backendName;
}

export function loadLiveModel(config: unknown, weights: Uint8Array, vocab: unknown | null): LiveModel {
  const cfg = parseConfig(config as Record<string, unknown>, 'model/config.json');
  const file = E.parseSafetensors(weights, 'model/model.safetensors');
  const tokenizer = vocab ? tokenizerFromJson(vocab, 'model/gsae_vocab.json') : new Gpt2BpeTokenizer();
  return { cfg, tokenizer, stored: file.tensors, params: null };
}

export function loadLiveSae(id: string, spec: SaeSpec, weights: Uint8Array): LiveSae {
  const file = E.parseSafetensors(weights, `${id}/sae_weights.safetensors`);
  const host: HostParams = {};
  for (const [name, t] of file.tensors) host[name] = { shape: [...t.shape], data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) };
  return { id, spec, host, model: null };
}

function params(m: LiveModel): Gpt2Params {
  if (!m.params) throw new Error('the model is not on a backend yet (useBackend first)');
  return m.params;
}

function tokensOf(m: LiveModel, ids: readonly number[]): E.Tensor {
  return E.tensor(Int32Array.from(ids.slice(-m.cfg.n_positions)), [1, Math.min(ids.length, m.cfg.n_positions)], 'int32');
}

export interface Steer {
  sae: LiveSae;
  latent: number;
  /** c: α = c·E‖x‖ */
  coef: number;
  meanNorm: number;
}

function hooksFor(s: Steer | null): ReturnType<typeof steeringHooks> {
  if (!s) return {};
  if (!s.sae.model) throw new Error('the SAE is not on a backend yet');
  return steeringHooks(steeringDeltas([{ hook: s.sae.spec.hookName, decoderRows: s.sae.model.params.W_dec!, latent: s.latent, coef: s.coef, meanNorm: s.meanNorm }]));
}

/** Logits [T, V] of the prompt (every position), optionally steered. */
export function logitsOf(m: LiveModel, ids: readonly number[], steer: Steer | null = null): Float32Array {
  return E.tidy(() => forward(params(m), m.cfg, tokensOf(m, ids), { hooks: hooksFor(steer) }).toArray() as Float32Array);
}

/** The last position's logits. */
export function lastLogits(m: LiveModel, ids: readonly number[], steer: Steer | null = null): Float32Array {
  const all = logitsOf(m, ids, steer);
  return all.slice(all.length - m.cfg.vocab_size);
}

/** E‖x‖ at the hook over the prompt's tokens (clean model). */
export function promptMeanNorm(m: LiveModel, ids: readonly number[], hook: string): number {
  return E.tidy(() => meanNorm(runWithCache(params(m), m.cfg, tokensOf(m, ids), [hook]).acts[hook]!));
}

/** Continues the prompt by n tokens, seeded (same seed ⇒ same draws with and without steering). */
export async function sampleContinuation(m: LiveModel, ids: readonly number[], n: number, temperature: number, seed: number, steer: Steer | null): Promise<number[]> {
  const rng = new E.Rng(seed);
  const ctx = [...ids];
  const out: number[] = [];
  const V = m.cfg.vocab_size;
  for (let i = 0; i < n; i++) {
    const all = logitsOf(m, ctx, steer);
    const id = sampleFromLogits(all.subarray(all.length - V), temperature, undefined, rng);
    out.push(id);
    ctx.push(id);
    // let the page paint between tokens
    await new Promise((r) => setTimeout(r, 0));
  }
  return out;
}

export interface TokenLatents {
  token: string;
  /** the latents firing on this token, largest activation first: index, f_i and (g-SAE) f_i·a_i */
  latents: { index: number; act: number; attr: number | null }[];
}

/** Which latents fire on each prompt token; a g-SAE encodes with g from a backward pass. */
export function promptLatents(m: LiveModel, sae: LiveSae, ids: readonly number[], top = 8): TokenLatents[] {
  if (!sae.model) throw new Error('the SAE is not on a backend yet');
  const hook = sae.spec.hookName;
  const needsGrad = sae.spec.kind === 'gsae';
  const T = Math.min(ids.length, m.cfg.n_positions);
  const shown = ids.slice(-T);
  const { f, a } = E.tidy(() => {
    const toks = tokensOf(m, ids);
    let x: E.Tensor;
    let g: E.Tensor | null = null;
    if (needsGrad) {
      const r = activationsAndGrads(params(m), m.cfg, toks, [hook], { reduction: 'sum' });
      x = r.acts[hook]!;
      g = r.grads[hook]!;
    } else {
      x = runWithCache(params(m), m.cfg, toks, [hook]).acts[hook]!;
    }
    const f = encodeSae(sae.model!, x, g).toArray() as Float32Array;
    const a = g ? (E.matmul(E.reshape(g, [T, sae.spec.dIn]), sae.model!.params.W_dec!, false, true).toArray() as Float32Array) : null;
    return { f, a };
  });
  const D = sae.spec.dSae;
  return shown.map((id, t) => {
    const lat: TokenLatents['latents'] = [];
    for (let i = 0; i < D; i++) {
      const v = f[t * D + i]!;
      if (v > 0) lat.push({ index: i, act: v, attr: a ? v * a[t * D + i]! : null });
    }
    lat.sort((p, q) => q.act - p.act || p.index - q.index);
    return { token: m.tokenizer.decode([id]), latents: lat.slice(0, top) };
  });
}

/** Tokens per second of the forward pass on the current backend (prompt of `ids`, `reps` runs). */
export function forwardRate(m: LiveModel, ids: readonly number[], reps: number): number {
  logitsOf(m, ids); // warm-up
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) logitsOf(m, ids);
  const s = (performance.now() - t0) / 1000;
  return (reps * Math.min(ids.length, m.cfg.n_positions)) / s;
}
