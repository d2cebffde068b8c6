/**
 * Evaluates one dictionary on held-out data: reconstruction metrics over the evaluation store,
 * downstream loss with the reconstruction spliced in over held-out sequences, decoder geometry,
 * and steering on a seeded sample of latents that are alive on the evaluation set.
 */
import * as E from '../../engine/index.js';
import type { StoreReader } from '../../sae/store/reader.js';
import type { EvalDictionary, EvalModel } from './interfaces.js';
import { ReconstructionAccumulator, decoderMaxCosines, quantiles, type ReconstructionMetrics } from './reconstruction.js';
import { meanKL, nextTokenCE, spliceReconstruction, type DownstreamMetrics } from './downstream.js';
import { meanCI, steer, type SteeringResult } from './steering.js';

export interface EvalContext {
  model: EvalModel;
  hook: string;
  evalStore: StoreReader;
  /** held-out token sequences, [n, T] batches */
  sequences: E.Tensor[];
  /** CE of the clean, zero-ablated and mean-ablated model on `sequences` (SAE-independent) */
  baseline: { ce_clean: number; ce_zero: number; ce_mean: number };
  /** E||x|| at the hook on held-out activations */
  meanNorm: number;
  steering: { latents: number; c: number; topN: number; contexts: number };
  seed: number;
}

export interface EvalResult {
  reconstruction: ReconstructionMetrics;
  downstream: DownstreamMetrics;
  decoder_max_cos: { median: number; p90: number; max: number };
  steering: { mean: number; lo: number; hi: number; n: number; per_latent: SteeringResult[] };
}

/** SAE-independent downstream baselines: clean, zero-ablated and mean-ablated CE. */
export function downstreamBaseline(model: EvalModel, hook: string, sequences: readonly E.Tensor[], meanAct: E.Tensor): EvalContext['baseline'] {
  let clean = 0, zero = 0, mean = 0;
  for (const toks of sequences) {
    E.tidy(() => {
      clean += nextTokenCE(model.logits(toks), toks).item();
      zero += nextTokenCE(model.logits(toks, { [hook]: (x) => E.zerosLike(x) }), toks).item();
      mean += nextTokenCE(model.logits(toks, { [hook]: (x) => E.broadcastTo(meanAct, x.shape) }), toks).item();
    });
  }
  const n = sequences.length;
  return { ce_clean: clean / n, ce_zero: zero / n, ce_mean: mean / n };
}

export function evaluate(ctx: EvalContext, dict: EvalDictionary): EvalResult {
  const { model, hook } = ctx;
  // reconstruction over the evaluation store
  const acc = new ReconstructionAccumulator(dict.dIn, dict.dSae, dict.firedThreshold);
  const active = new Uint8Array(dict.dSae);
  for (const b of ctx.evalStore.sequential(1024)) {
    E.tidy(() => {
      const x = E.tensor(b.x, [b.rows, dict.dIn]);
      const g = dict.needsGrad ? E.tensor(b.g!, [b.rows, dict.dIn]) : undefined;
      const f = dict.encode(x, g);
      const xh = dict.decode(f);
      const fa = f.toArray();
      acc.add(b.x, xh.toArray(), fa);
      for (let i = 0; i < fa.length; i++) if (fa[i]! > dict.firedThreshold) active[i % dict.dSae] = 1;
    });
  }
  const reconstruction = acc.result();

  // downstream: spliced CE and KL against the clean model
  let sae = 0, kl = 0;
  for (const toks of ctx.sequences) {
    E.tidy(() => {
      const clean = model.logits(toks);
      const g = dict.needsGrad ? model.actsAndGrads(toks, hook).grads : undefined;
      const spliced = model.logits(toks, { [hook]: (x) => spliceReconstruction(dict, x, g) });
      sae += nextTokenCE(spliced, toks).item();
      kl += meanKL(clean, spliced).item();
    });
  }
  const n = ctx.sequences.length;
  const { ce_clean, ce_zero, ce_mean } = ctx.baseline;
  const ce_sae = sae / n;
  const downstream: DownstreamMetrics = {
    ce_clean, ce_sae, ce_zero, ce_mean,
    loss_added: ce_sae - ce_clean,
    loss_recovered_zero: (ce_zero - ce_sae) / (ce_zero - ce_clean),
    loss_recovered_mean: (ce_mean - ce_sae) / (ce_mean - ce_clean),
    kl: kl / n,
  };

  // decoder geometry
  const rows = dict.decoderRows();
  const mc = decoderMaxCosines(rows.toArray(), dict.dSae, dict.dIn);
  const [median, p90, max] = quantiles(mc, [0.5, 0.9, 1]);

  // steering on a seeded sample of latents alive on the evaluation set
  const alive = [...active.keys()].filter((i) => active[i]);
  const rng = new E.Rng(ctx.seed).fork('steering');
  const pick = rng.shuffle(alive.slice()).slice(0, Math.min(ctx.steering.latents, alive.length)).sort((a, b) => a - b);
  const per = pick.length
    ? steer(model, dict, hook, ctx.sequences.slice(0, ctx.steering.contexts), pick, { c: ctx.steering.c, topN: ctx.steering.topN, meanNorm: ctx.meanNorm })
    : [];
  const ci = meanCI(per.map((r) => r.probability_addition));
  return {
    reconstruction,
    downstream,
    decoder_max_cos: { median: median!, p90: p90!, max: max! },
    steering: { mean: ci.mean, lo: ci.lo, hi: ci.hi, n: ci.n, per_latent: per },
  };
}
