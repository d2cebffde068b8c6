/**
 * Neuronpedia-style export of one latent (schema NeuronpediaLatent), built from its dashboard:
 * field names follow Neuronpedia's feature JSON. `layer` is the SAE's source id (we use the hook
 * name), `index` the latent index as a string; pos_/neg_ are the promoted / suppressed logit
 * tokens with their logit effects; the frequency histogram is the activation histogram (bar
 * values are bin centres, heights counts); `activations` are the top contexts.
 */
import type { LatentDetail, NeuronpediaLatent } from './schema.js';

export function neuronpediaLatent(d: LatentDetail, ids: { modelId: string; layer: string }): NeuronpediaLatent {
  const h = d.actHistogram;
  return {
    modelId: ids.modelId,
    layer: ids.layer,
    index: String(d.index),
    maxActApprox: d.maxAct,
    frac_nonzero: d.density,
    pos_str: d.logits.promoted.map((t) => t.token),
    pos_values: d.logits.promoted.map((t) => t.value),
    neg_str: d.logits.suppressed.map((t) => t.token),
    neg_values: d.logits.suppressed.map((t) => t.value),
    freq_hist_data_bar_heights: h.counts,
    freq_hist_data_bar_values: h.counts.map((_, j) => (h.edges[j]! + h.edges[j + 1]!) / 2),
    activations: d.top.map((c) => {
      let at = 0;
      for (let j = 1; j < c.acts.length; j++) if (c.acts[j]! > c.acts[at]!) at = j;
      return { tokens: c.tokens, values: c.acts, maxValue: c.acts[at] ?? 0, maxValueTokenIndex: at };
    }),
  };
}
