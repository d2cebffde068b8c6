/**
 * Steering hooks (METHODS §4) for sampling, shared by `gsae lm sample --steer` and the explorer's
 * in-page steering: pure functions over engine tensors, no Node imports, so the page bundles them.
 *
 * Steering latent i with coefficient c adds α·d_i at the SAE's hook at every position, with
 * α = c·E‖x‖ (d_i the decoder row as stored — unit norm for the TopK family — and E‖x‖ the mean
 * activation norm at the hook). Several steers add up; steers at different hooks give one hook
 * function each. A coefficient of 0 adds an exact zero vector, so the model's outputs are
 * unchanged bit for bit.
 */
import * as E from '../../engine/index.js';
import type { Hooks } from '../../models/gpt2/hooks.js';

export interface Steer {
  hook: string;
  /** decoder rows [d_sae, d] of the SAE the latent belongs to */
  decoderRows: E.Tensor;
  latent: number;
  coef: number;
  /** E‖x‖ at the hook */
  meanNorm: number;
}

/** α·d_i summed per hook ([d] each; caller disposes, or wrap in E.tidy with the forward). */
export function steeringDeltas(steers: readonly Steer[]): Record<string, E.Tensor> {
  const out: Record<string, E.Tensor> = {};
  for (const s of steers) {
    const [m, d] = s.decoderRows.shape as [number, number];
    if (!Number.isInteger(s.latent) || s.latent < 0 || s.latent >= m) throw new Error(`steer: latent ${s.latent} is not in 0..${m - 1}`);
    if (!Number.isFinite(s.coef)) throw new Error(`steer: coefficient ${s.coef} is not a finite number`);
    const delta = E.mul(E.reshape(E.slice(s.decoderRows, [s.latent, 0], [1, d]), [d]), s.coef * s.meanNorm);
    out[s.hook] = out[s.hook] ? E.add(out[s.hook]!, delta) : delta;
  }
  return out;
}

/** Hook functions adding each hook's delta at every position ([B, T, d] + [d]). */
export function steeringHooks(deltas: Record<string, E.Tensor>): Hooks {
  const hooks: Hooks = {};
  for (const [name, delta] of Object.entries(deltas)) hooks[name] = (x) => E.add(x, delta);
  return hooks;
}

/** Mean over positions of ‖x‖ for activations [..., d] (E‖x‖ measured on a prompt). */
export function meanNorm(x: E.Tensor): number {
  return E.tidy(() => E.mean(E.sqrt(E.sum(E.mul(x, x), -1))).item());
}

export interface TokenProbChange {
  id: number;
  clean: number;
  steered: number;
}

function softmax64(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  const p = Float64Array.from(row as ArrayLike<number>, (v) => Math.exp(v - max));
  let s = 0;
  for (const v of p) s += v;
  for (let i = 0; i < p.length; i++) p[i]! /= s;
  return p;
}

function topIds(p: Float64Array, n: number): number[] {
  return Array.from(p.keys()).sort((a, b) => p[b]! - p[a]! || a - b).slice(0, n);
}

/**
 * The next-token distribution change at one position: the top-n tokens of the clean and of the
 * steered distribution, each with both probabilities, from the two logit rows.
 */
export function nextTokenChange(cleanLogits: ArrayLike<number>, steeredLogits: ArrayLike<number>, n = 10): { clean: TokenProbChange[]; steered: TokenProbChange[] } {
  const pc = softmax64(cleanLogits);
  const ps = softmax64(steeredLogits);
  const row = (id: number): TokenProbChange => ({ id, clean: pc[id]!, steered: ps[id]! });
  return { clean: topIds(pc, n).map(row), steered: topIds(ps, n).map(row) };
}
