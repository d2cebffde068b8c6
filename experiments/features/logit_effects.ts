/**
 * Direct logit effects of each latent (METHODS §4's associated tokens, as
 * experiments/eval/steering.ts associatedTokens): W_U·(γ ⊙ d_i), the unembedding with the final
 * LayerNorm's gain γ folded in (bias and the LayerNorm's normalisation ignored), in logit units.
 * Computed in blocks of latents on the engine; only the top-n and bottom-n of each row come back.
 */
import * as E from '../../engine/index.js';

export interface LogitEffects {
  /** per latent: promoted (largest first) and suppressed (most negative first) token ids and values */
  promoted: { ids: Int32Array; values: Float32Array }[];
  suppressed: { ids: Int32Array; values: Float32Array }[];
}

/** decoderRows [m, d]; unembedWithGain [V, d] (EvalModel.unembedWithGain). */
export function logitEffects(decoderRows: E.Tensor, unembedWithGain: E.Tensor, n: number, block = 128): LogitEffects {
  const [m, d] = decoderRows.shape as [number, number];
  const V = unembedWithGain.shape[0]!;
  const k = Math.min(n, V);
  const out: LogitEffects = { promoted: [], suppressed: [] };
  for (let first = 0; first < m; first += block) {
    const b = Math.min(block, m - first);
    E.tidy(() => {
      const effect = E.matmul(E.slice(decoderRows, [first, 0], [b, d]), unembedWithGain, false, true); // [b, V]
      const up = E.topk(effect, k);
      const down = E.topk(E.neg(effect), k);
      const [ui, uv, di, dv] = [up.indices.toArray(), up.values.toArray(), down.indices.toArray(), down.values.toArray()];
      for (let r = 0; r < b; r++) {
        out.promoted.push({ ids: Int32Array.from(ui.subarray(r * k, (r + 1) * k)), values: Float32Array.from(uv.subarray(r * k, (r + 1) * k)) });
        out.suppressed.push({ ids: Int32Array.from(di.subarray(r * k, (r + 1) * k)), values: Float32Array.from(dv.subarray(r * k, (r + 1) * k), (x) => -x) });
      }
    });
  }
  return out;
}
