/**
 * Autoregressive sampling with temperature and top-k (nanoGPT's `generate`): the context is
 * cropped to n_positions, the last position's logits are divided by the temperature, all but the
 * top k set to −∞, and the next token drawn from the softmax with the seeded RNG. Temperature 0
 * is greedy decoding (argmax, ties to the lower id).
 */
import * as E from '../../engine/index.js';
import type { Gpt2Config } from './config.js';
import { checkTokenValues, forward } from './model.js';
import type { Gpt2Params } from './params.js';
import type { Hooks } from './hooks.js';

export interface SampleOptions {
  maxNewTokens: number;
  /** > 0 scales the logits; 0 means greedy. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (default: all). */
  topK?: number;
  rng: E.Rng;
  /** Called with each new token id as it is produced (for streaming output). */
  onToken?: (id: number) => void;
  /** Stop early when this id is produced (it is included). */
  stopId?: number | null;
  /** Hooks applied at every forward (e.g. steering: α·d_i added at every position). */
  hooks?: Hooks;
}

/** Draws an id from logits (host array) with temperature/top-k, in float64. */
export function sampleFromLogits(logits: ArrayLike<number>, temperature: number, topK: number | undefined, rng: E.Rng): number {
  const V = logits.length;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const scaled = Float64Array.from(logits, (x) => x / temperature);
  if (topK !== undefined && topK < V) {
    // The k-th largest value; entries below it are removed (ties at the threshold are kept, as in nanoGPT).
    const kth = Float64Array.from(scaled).sort().reverse()[topK - 1]!;
    for (let i = 0; i < V; i++) if (scaled[i]! < kth) scaled[i] = -Infinity;
  }
  let max = -Infinity;
  for (const x of scaled) max = Math.max(max, x);
  let total = 0;
  for (let i = 0; i < V; i++) {
    scaled[i] = Math.exp(scaled[i]! - max);
    total += scaled[i]!;
  }
  let u = rng.uniform() * total;
  for (let i = 0; i < V; i++) {
    u -= scaled[i]!;
    if (u < 0) return i;
  }
  // Rounding left u ≥ 0 after the last positive entry: return that entry.
  for (let i = V - 1; i >= 0; i--) if (scaled[i]! > 0) return i;
  throw new Error('sample: no token has positive probability');
}

/** Continues `prompt` (token ids) by up to maxNewTokens tokens; returns only the new ids. */
export function generate(params: Gpt2Params, cfg: Gpt2Config, prompt: readonly number[], opts: SampleOptions): number[] {
  const temperature = opts.temperature ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`sample: temperature must be a finite number >= 0, got ${temperature}`);
  if (opts.topK !== undefined && (!Number.isInteger(opts.topK) || opts.topK < 1)) throw new Error(`sample: top-k must be a positive integer, got ${opts.topK}`);
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) throw new Error(`sample: max new tokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  if (prompt.length === 0) throw new Error('sample: the prompt is empty (give at least one token)');
  checkTokenValues(prompt, cfg.vocab_size, 'sample prompt');
  const ids = [...prompt];
  const out: number[] = [];
  for (let n = 0; n < opts.maxNewTokens; n++) {
    const ctx = ids.slice(-cfg.n_positions);
    const row = E.tidy(() => {
      const logits = forward(params, cfg, E.tensor(Int32Array.from(ctx), [1, ctx.length], 'int32'), { checkTokens: false, hooks: opts.hooks });
      return logits.toArray().slice((ctx.length - 1) * cfg.vocab_size);
    });
    const next = sampleFromLogits(row, temperature, opts.topK, opts.rng);
    ids.push(next);
    out.push(next);
    opts.onToken?.(next);
    if (opts.stopId !== undefined && opts.stopId !== null && next === opts.stopId) break;
  }
  return out;
}
