/**
 * The on-disk schema of `gsae features` (what each latent of one SAE means), read by
 * `gsae explore`. Everything lives under `<sae-dir>/features/`:
 *
 *   features/index.json            FeaturesIndex: run facts, histograms over latents, one summary per latent
 *   features/blocks/block-00000.json  FeatureBlock: full dashboards of latents [first, first + count)
 *   features/neuronpedia/...       Neuronpedia-style per-latent export (see NeuronpediaLatent)
 *   features/state.msgpack         resumable pass state (deleted when complete)
 *
 * One file per block of latents (default 128), never one per latent, so a d_sae 16k dictionary is
 * ~128 files. All numbers are plain JSON numbers (float32 values printed as doubles). Token strings
 * are the model tokenizer's decoded text of one token (may contain spaces / newlines).
 * Bump FEATURES_VERSION on any incompatible change; readers refuse other versions.
 */

export const FEATURES_FORMAT = 'gsae-features';
export const FEATURES_VERSION = 1;
export const FEATURES_DIR = 'features';
export const FEATURES_INDEX = 'index.json';
export const FEATURES_BLOCKS_DIR = 'blocks';
export const NEURONPEDIA_DIR = 'neuronpedia';

/** Fixed-bin histogram: counts[i] counts values in [edges[i], edges[i+1]) (last bin closed). */
export interface Histogram {
  edges: number[];
  counts: number[];
  /** what the values are, with units, for axis labels, e.g. "log10 firing density" */
  label: string;
}

/** One token with its logit effect or similarity score. */
export interface TokenScore {
  id: number;
  token: string;
  value: number;
}

/** A window of held-out text around one position where a latent was read. */
export interface TokenContext {
  /** index of the sequence in the store (0-based over the store's sequences) and position in it */
  seq: number;
  pos: number;
  /** the window: token ids and texts, and the latent's activation f_i at every token of the window */
  ids: number[];
  tokens: string[];
  acts: number[];
  /** g-SAE only: attribution z_i · a_i (a = W_decᵀ g) at every token of the window; else absent */
  attr?: number[];
  /** index inside the window of the position (seq, pos) itself */
  centre: number;
}

/** SAEDashboard-style "interval" section: contexts sampled from one activation quantile range. */
export interface QuantileSection {
  /** activation range [lo, hi] of the sampled centres, and a label such as "Interval 0.5-0.6" */
  lo: number;
  hi: number;
  label: string;
  /** how many firing positions fell in the range over the whole pass */
  count: number;
  contexts: TokenContext[];
}

/** Compact per-latent summary: enough for the sortable/searchable latent list. */
export interface LatentSummary {
  index: number;
  /** fraction of held-out tokens on which the latent fired (value > the SAE's fired threshold) */
  density: number;
  maxAct: number;
  /** mean activation over firing tokens (0 when it never fired) */
  meanAct: number;
  /** top few promoted tokens of W_U · d_i (for search by token) */
  topPromoted: TokenScore[];
  /** probability-addition steering effect (METHODS §4) measured on a sample of contexts; null if not measured */
  steering: number | null;
  /** g-SAE: mean |z_i · a_i| over firing tokens; absent otherwise */
  meanAbsAttr?: number;
}

/** Full dashboard of one latent. */
export interface LatentDetail extends LatentSummary {
  actHistogram: Histogram;
  top: TokenContext[];
  quantiles: QuantileSection[];
  logits: { promoted: TokenScore[]; suppressed: TokenScore[] };
  /** decoder nearest neighbours by cosine (other latents of the same SAE), best first */
  neighbours: { index: number; cosine: number }[];
  /** g-SAE: histogram of the attribution z_i · a_i over firing tokens */
  attrHistogram?: Histogram;
}

export interface FeatureBlock {
  format: 'gsae-features-block';
  version: number;
  first: number;
  count: number;
  latents: LatentDetail[];
}

export interface FeaturesIndex {
  format: typeof FEATURES_FORMAT;
  version: number;
  createdAt: string;
  sae: {
    dir: string;
    architecture: string;
    dIn: number;
    dSae: number;
    k: number | null;
    hook: string;
    /** true when encoding needed the loss gradient (g-SAE): attributions are present */
    needsGrad: boolean;
  };
  model: { dir: string; vocabSize: number; nLayer: number; nEmbd: number };
  store: { dir: string; tokens: { source: string; start: number; end: number }; seqLen: number };
  /** held-out tokens the pass read */
  tokens: number;
  options: {
    topContexts: number;
    contextWindow: number;
    quantileSections: number;
    contextsPerQuantile: number;
    logitTokens: number;
    neighbours: number;
    blockSize: number;
  };
  /** over latents: log10 of firing density (dead latents counted separately) */
  densityHistogram: Histogram;
  deadLatents: number;
  blocks: { file: string; first: number; count: number }[];
  latents: LatentSummary[];
  /** seconds of the whole command and held-out tokens per second (passSeconds: the streamed pass alone) */
  timing: { seconds: number; tokensPerSecond: number; passSeconds?: number };
  complete: boolean;
  /** E||x|| at the hook over the store's tokens (activation units): the steering scale α = c·E||x|| */
  meanNorm?: number;
  /** whether the store was checked to be disjoint from the SAE's training tokens, and how */
  heldOut?: { checked: boolean; note: string };
  /** how `steering` was measured (null: not measured): store sequences used, tokens from the start of each, c, |T_i|, α */
  steeringOptions?: { contexts: number[]; tokensPerContext: number; c: number; topN: number; alpha: number } | null;
  /** seed of the reservoirs (interval samples) and of the steering contexts */
  seed?: number;
}

/**
 * Neuronpedia-style export of one latent (field names as in Neuronpedia's feature JSON:
 * modelId, layer, index, activations[{tokens, values, maxValue, maxValueTokenIndex}],
 * pos_str/pos_values, neg_str/neg_values, frac_nonzero, freq_hist_data_*, logits_hist_data_*).
 */
export interface NeuronpediaLatent {
  modelId: string;
  layer: string;
  index: string;
  maxActApprox: number;
  frac_nonzero: number;
  pos_str: string[];
  pos_values: number[];
  neg_str: string[];
  neg_values: number[];
  freq_hist_data_bar_heights: number[];
  freq_hist_data_bar_values: number[];
  activations: { tokens: string[]; values: number[]; maxValue: number; maxValueTokenIndex: number }[];
}
