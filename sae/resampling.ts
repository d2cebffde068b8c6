/**
 * Neuron resampling during training (relu_l1; Anthropic, "Towards Monosemanticity"): which
 * latents are dead at step t, the squared loss of `resampleSamples` rows read without moving the
 * data cursor, and the host-side re-initialisation of those latents by `resampleDead` (relu_l1.ts).
 */
import * as E from '../engine/index.js';
import type { SaeTrainConfig } from './config.js';
import { decode, toHost, type HostParams, type Params } from './common.js';
import type { AdamState } from './adam.js';
import { readRows, type BatchSource } from './data.js';
import { reluEncode, resampleDead } from './relu_l1.js';

export interface ResampleInput {
  cfg: SaeTrainConfig;
  source: BatchSource;
  /** The input normalisation factor c (rows are trained on as c·x). */
  scale: number;
  params: Params;
  opt: AdamState;
  /** Tokens since each latent last fired. */
  since: E.Tensor;
  /** The trainer's generator; the step's stream is its fork `resample:<t>`. */
  rng: E.Rng;
  t: number;
}

export interface Resampled {
  /** The latents re-initialised (none: nothing else is set). */
  dead: number[];
  /** New host parameters, Adam moments (zeroed for the dead latents) and dead counters. */
  state: { params: HostParams; m: HostParams; v: HostParams; since: Float32Array } | null;
}

/** Resamples the latents dead at step t; the caller moves `state` to the device. */
export function resampleDeadLatents({ cfg, source, scale, params, opt, since: sinceT, rng, t }: ResampleInput): Resampled {
  const since = sinceT.toArray();
  const dead: number[] = [];
  since.forEach((v, i) => {
    if (v >= cfg.deadTokens) dead.push(i);
  });
  if (dead.length === 0) return { dead, state: null };
  const cursor = source.getState();
  const s = readRows(source, cfg.resampleSamples, cfg.batchSize);
  source.setState(cursor);
  const xs = scale === 1 ? s.x : s.x.map((v) => v * scale);
  const sq = new Float64Array(s.rows);
  for (let r0 = 0; r0 < s.rows; r0 += cfg.batchSize) {
    const n = Math.min(cfg.batchSize, s.rows - r0);
    const part = E.tidy(() => {
      const x = E.tensor(xs.subarray(r0 * cfg.dIn, (r0 + n) * cfg.dIn), [n, cfg.dIn]);
      const e = E.sub(x, decode(params, reluEncode(params, x)));
      return E.sum(E.mul(e, e), 1).toArray();
    });
    sq.set(part, r0);
  }
  const p = toHost(params);
  const m = toHost(opt.m);
  const v = toHost(opt.v);
  resampleDead(p, m, v, dead, xs, sq, rng.fork(`resample:${t}`), cfg.april);
  const sinceNew = Float32Array.from(since);
  for (const i of dead) sinceNew[i] = 0;
  return { dead, state: { params: p, m, v, since: sinceNew } };
}
