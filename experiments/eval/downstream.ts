/**
 * Downstream metrics (METHODS.md §3): next-token cross-entropy with the activation at the hook
 * left alone (clean), replaced by the SAE's reconstruction (spliced), by zeros, and by the
 * training mean; loss added, loss recovered (zero and mean ablation) and KL(p_clean || p_sae).
 * All positions of every sequence are spliced; CE is the mean over predicted positions.
 */
import * as E from '../../engine/index.js';
import type { EvalDictionary, EvalModel } from './interfaces.js';

export interface DownstreamMetrics {
  ce_clean: number;
  ce_sae: number;
  ce_zero: number;
  ce_mean: number;
  loss_added: number;
  loss_recovered_zero: number;
  loss_recovered_mean: number;
  kl: number;
}

/** Mean next-token CE of logits [B, T, V] against tokens [B, T] (positions 0..T-2 predict 1..T-1). */
export function nextTokenCE(logits: E.Tensor, tokens: E.Tensor, reduction: E.Reduction = 'mean'): E.Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  const pred = E.slice(logits, [0, 0, 0], [B, T - 1, V]);
  const tgt = E.slice(tokens, [0, 1], [B, T - 1]);
  return E.crossEntropy(pred, tgt, reduction);
}

/** Mean over predicted positions of KL(p || q) from logits [B, T, V] (last position excluded). */
export function meanKL(logitsP: E.Tensor, logitsQ: E.Tensor): E.Tensor {
  const [B, T, V] = logitsP.shape as [number, number, number];
  const lp = E.logSoftmax(E.slice(logitsP, [0, 0, 0], [B, T - 1, V]));
  const lq = E.logSoftmax(E.slice(logitsQ, [0, 0, 0], [B, T - 1, V]));
  return E.mean(E.sum(E.mul(E.exp(lp), E.sub(lp, lq)), -1));
}

/** Reconstructs activations [B, T, d] through the dictionary (with gradients for g-SAEs). */
export function spliceReconstruction(dict: EvalDictionary, x: E.Tensor, g?: E.Tensor): E.Tensor {
  const d = x.shape[x.rank - 1]!;
  const flat = E.reshape(x, [-1, d]);
  const f = dict.encode(flat, g ? E.reshape(g, [-1, d]) : undefined);
  return E.reshape(dict.decode(f), x.shape);
}

export class DownstreamAccumulator {
  private sums = { clean: 0, sae: 0, zero: 0, mean: 0, kl: 0 };
  private batches = 0;

  /**
   * Adds one batch. `meanAct` is the training-set mean activation [d] for mean ablation.
   * The CE of each batch is a mean over the same number of positions, so batch means average.
   */
  addBatch(model: EvalModel, dict: EvalDictionary, hook: string, tokens: E.Tensor, meanAct: E.Tensor): void {
    E.tidy(() => {
      const clean = model.logits(tokens);
      const g = dict.needsGrad ? model.actsAndGrads(tokens, hook).grads : undefined;
      const sae = model.logits(tokens, { [hook]: (x) => spliceReconstruction(dict, x, g) });
      const zero = model.logits(tokens, { [hook]: (x) => E.zerosLike(x) });
      const mean = model.logits(tokens, { [hook]: (x) => E.broadcastTo(meanAct, x.shape) });
      this.sums.clean += nextTokenCE(clean, tokens).item();
      this.sums.sae += nextTokenCE(sae, tokens).item();
      this.sums.zero += nextTokenCE(zero, tokens).item();
      this.sums.mean += nextTokenCE(mean, tokens).item();
      this.sums.kl += meanKL(clean, sae).item();
    });
    this.batches++;
  }

  result(): DownstreamMetrics {
    const n = this.batches;
    const s = this.sums;
    const [clean, sae, zero, mean] = [s.clean / n, s.sae / n, s.zero / n, s.mean / n];
    return {
      ce_clean: clean,
      ce_sae: sae,
      ce_zero: zero,
      ce_mean: mean,
      loss_added: sae - clean,
      loss_recovered_zero: (zero - sae) / (zero - clean),
      loss_recovered_mean: (mean - sae) / (mean - clean),
      kl: s.kl / n,
    };
  }
}
