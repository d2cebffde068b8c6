/**
 * The statistical protocol of a suite, as one paragraph a reviewer can check against the code:
 * what a seed fixes, what is shared between runs, how the paired intervals are formed and how a
 * verdict is called. Built from the run's own configuration so it never drifts from what ran.
 */
import { tCritical } from '../eval/statistics.js';

export interface ProtocolConfig {
  hook: string;
  seeds: number[];
  trainTokens: number;
  storeTrainTokens: number;
  evalTokens: number;
  steering: { latents: number; c: number; topN: number; contexts: number };
  /** the suite's runs; those with a `store` option train on their own store (experiments/train_stores.ts) */
  runs?: readonly { id: string; store?: unknown }[];
}

export function protocolParagraph(cfg: ProtocolConfig, comparison: 'gsae-vs-topk' | 'ablations' = 'gsae-vs-topk'): string {
  const n = cfg.seeds.length;
  const t = n >= 2 ? tCritical(n - 1) : NaN;
  const tText = n >= 2 ? `t_{0.975, ${n - 1}} = ${t.toFixed(3)}` : 'no interval with a single seed';
  return [
    `**Protocol.** Every configuration is trained once per seed (seeds ${cfg.seeds.join(', ')}; n = ${n}).`,
    `A seed fixes the SAE's initial weights (TopK and g-SAE share the same initialisation rule, so the same seed gives both the same start),`,
    `its batch order over the shared training store and the sample of latents used for steering; the model,`,
    `the training store (${cfg.storeTrainTokens.toLocaleString('en-US')} tokens of the training split at \`${cfg.hook}\`, cycled to ${cfg.trainTokens.toLocaleString('en-US')} training tokens per SAE)`,
    `and the held-out evaluation (${cfg.evalTokens.toLocaleString('en-US')} tokens of the validation split, disjoint from the training tokens) are the same for every run.`,
    ...(cfg.runs?.some((r) => r.store !== undefined)
      ? [`Exception: runs with a training-store option (${cfg.runs.filter((r) => r.store !== undefined).map((r) => r.id).join(', ')}) train on a store of the same tokens and the same activations x whose gradients g follow the option (columns grad_source, grad_reduction), and those with grad_reduction 'mean' are evaluated with gradients of the mean loss; a gradient source never changes evaluation (clean gradients).`]
      : []),
    comparison === 'gsae-vs-topk'
      ? `For each g-SAE configuration and the TopK run with the same k, the per-seed difference d_s = metric(g-SAE, s) − metric(TopK, s) is formed and`
      : `For each ablated option and the reference g-SAE (β = 1, gradNorm 'rms', values from z) with the same k, the per-seed difference d_s = metric(option, s) − metric(reference, s) is formed and`,
    `reported as d̄ with the 95% seed-paired Student t interval d̄ ± t·sd(d)/√n (${tText}).`,
    `A claim **holds** when its whole interval lies on the claimed side of zero, is **reversed** when it lies wholly on the other side,`,
    `and is **unresolved** otherwise (always so with one seed). Verdicts use these intervals alone; they are per comparison,`,
    `with no correction for the number of k × β × metric comparisons. Steering scores are, per run, the mean probability addition`,
    `over ${cfg.steering.latents} sampled alive latents (c = ${cfg.steering.c}, top ${cfg.steering.topN} tokens of W_U·d_i, ${cfg.steering.contexts} held-out context batches);`,
    `the per-run intervals over latents in the results table describe that sample and are not used for verdicts.`,
  ].join(' ');
}
