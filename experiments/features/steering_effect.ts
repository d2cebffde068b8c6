/**
 * Per-latent steering effect for the explorer: METHODS §4's probability addition (the same
 * quantity as experiments/eval/steering.ts `steer`), on a small seeded sample of held-out
 * contexts. Add α·d_i at the hook at every position (α = c·E‖x‖) and take the mean over contexts
 * and positions of Σ_{t∈T_i} p_steered(t) − Σ_{t∈T_i} p_clean(t), T_i the latent's top-n logit
 * tokens. Unlike `steer`, several latents share one forward: the contexts are repeated once per
 * latent of a group and each copy gets its own latent's direction, so a d_sae 1024 dictionary
 * costs ~m·N·T/groupTokens batched forwards instead of m small ones.
 */
import * as E from '../../engine/index.js';
import type { EvalDictionary, EvalModel } from '../eval/interfaces.js';

export interface SteeringEffectOptions {
  hook: string;
  /** α = c · meanNorm */
  c: number;
  meanNorm: number;
  /** associated tokens per latent (top-n of the logit effect), as from logitEffects */
  tokenSets: ArrayLike<number>[];
  /** rows per batched forward (contexts × latents), default 32 */
  groupRows?: number;
  onProgress?: (latentsDone: number) => void;
}

export function steeringEffects(model: EvalModel, dict: EvalDictionary, contexts: E.Tensor, opts: SteeringEffectOptions): number[] {
  const [N, T] = contexts.shape as [number, number];
  const m = dict.dSae;
  const d = dict.dIn;
  const n = opts.tokenSets[0]?.length ?? 0;
  const alpha = opts.c * opts.meanNorm;
  const per = Math.max(1, Math.floor((opts.groupRows ?? 32) / N));
  const out = new Array<number>(m).fill(0);
  // clean mass of each latent's token set, mean over positions, on the host
  const pClean = E.tidy(() => E.softmax(model.logits(contexts)).toArray()); // [N, T, V]
  const V = pClean.length / (N * T);
  const clean = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const set = opts.tokenSets[i]!;
    let s = 0;
    for (let r = 0; r < N * T; r++) for (let j = 0; j < n; j++) s += pClean[r * V + set[j]!]!;
    clean[i] = s / (N * T);
  }
  {
    for (let first = 0; first < m; first += per) {
      const L = Math.min(per, m - first);
      E.tidy(() => {
        const ids = E.tensor(Int32Array.from({ length: L * n }, (_, j) => opts.tokenSets[first + Math.floor(j / n)]![j % n]!), [L, 1, 1, n], 'int32');
        // rows ordered latent-major: row l·N + c is context c steered by latent first + l
        const toks = E.reshape(E.broadcastTo(E.reshape(contexts, [1, N, T]), [L, N, T]), [L * N, T]);
        const dirs = E.slice(dict.decoderRows(), [first, 0], [L, d]); // [L, d]
        const delta = E.reshape(E.broadcastTo(E.reshape(E.mul(dirs, alpha), [L, 1, 1, d]), [L, N, 1, d]), [L * N, 1, d]);
        const pSteer = E.reshape(E.softmax(model.logits(toks, { [opts.hook]: (x) => E.add(x, delta) })), [L, N, T, -1]);
        const idx = E.broadcastTo(ids, [L, N, T, n]);
        const mass = (p: E.Tensor) => E.sum(E.takeAlongAxis(p, idx, -1), -1); // [L, N, T]
        const steered = E.mean(E.reshape(mass(pSteer), [L, N * T]), -1).toArray();
        for (let l = 0; l < L; l++) out[first + l] = steered[l]! - clean[first + l]!;
      });
      opts.onProgress?.(first + L);
    }
  }
  return out;
}
