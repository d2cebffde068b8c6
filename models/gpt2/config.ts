/**
 * GPT-2 configuration with Hugging Face `GPT2Config` field names, so `config.json` files from the
 * Hub load unchanged. Fields whose non-default values would change the computation in a way this
 * implementation does not reproduce are refused with an error naming the field; fields that do
 * not matter here (summary_*, use_cache, architectures, ...) are accepted and kept as `extra`.
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface Gpt2Config {
  model_type: 'gpt2';
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** MLP hidden width; null means 4 * n_embd (as in HF). */
  n_inner: number | null;
  /**
   * 'gelu_new' and 'gelu_pytorch_tanh' are the same tanh-approximated GELU (every released GPT-2);
   * 'gelu' is the exact erf GELU (HF's GELUActivation, nanoGPT's nn.GELU()).
   */
  activation_function: 'gelu_new' | 'gelu_pytorch_tanh' | 'gelu';
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  layer_norm_epsilon: number;
  initializer_range: number;
  /** Divide attention scores by sqrt(head_dim) (true for every released GPT-2). */
  scale_attn_weights: boolean;
  /** Must be false: dividing scores by (layer index + 1) is not implemented. */
  scale_attn_by_inverse_layer_idx: false;
  /** Only changes numerics under fp16 (upcast to fp32); this implementation is fp32 throughout. */
  reorder_and_upcast_attn: boolean;
  /** Must be true: the LM head is `wte` (GPT2LMHeadModel's tying). */
  tie_word_embeddings: true;
  bos_token_id: number | null;
  eos_token_id: number | null;
  /**
   * Not an HF field (nanoGPT's `GPTConfig.bias`): false drops every Linear and LayerNorm bias, as
   * nanoGPT's default does. Written to config.json only when false; HF's GPT2 loads such a
   * checkpoint with the missing biases initialised to zero, which computes the same function.
   */
  bias: boolean;
  /** Unknown or irrelevant fields from the source file, written back unchanged on save. */
  extra: Record<string, unknown>;
}

/** HF's defaults (GPT-2 small). */
export const GPT2_DEFAULTS: Omit<Gpt2Config, 'extra'> = {
  model_type: 'gpt2',
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  n_inner: null,
  activation_function: 'gelu_new',
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  layer_norm_epsilon: 1e-5,
  initializer_range: 0.02,
  scale_attn_weights: true,
  scale_attn_by_inverse_layer_idx: false,
  reorder_and_upcast_attn: false,
  tie_word_embeddings: true,
  bos_token_id: 50256,
  eos_token_id: 50256,
  bias: true,
};

const KNOWN = new Set(Object.keys(GPT2_DEFAULTS));
const ACTIVATIONS = new Set(['gelu_new', 'gelu_pytorch_tanh', 'gelu']);

function posInt(name: string, v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${where}: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function prob(name: string, v: unknown, where: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ConfigError(`${where}: ${name} must be a number in [0, 1), got ${JSON.stringify(v)}`);
  return v;
}

function tokenId(name: string, v: unknown, where: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ConfigError(`${where}: ${name} must be a non-negative integer or null, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Builds a validated config from a parsed `config.json` object (or a partial object in code).
 * Missing fields take HF's defaults. `where` names the source in error messages.
 */
export function parseConfig(raw: Record<string, unknown>, where = 'config'): Gpt2Config {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: expected a JSON object`);
  const get = <K extends keyof typeof GPT2_DEFAULTS>(k: K): unknown => (raw[k] === undefined ? GPT2_DEFAULTS[k] : raw[k]);

  if (raw.model_type !== undefined && raw.model_type !== 'gpt2') {
    throw new ConfigError(`${where}: model_type is ${JSON.stringify(raw.model_type)}; only 'gpt2' is supported`);
  }
  const act = get('activation_function');
  if (typeof act !== 'string' || !ACTIVATIONS.has(act)) {
    throw new ConfigError(
      `${where}: activation_function ${JSON.stringify(act)} is not supported (only the tanh GELU 'gelu_new' / 'gelu_pytorch_tanh' or the exact GELU 'gelu')`,
    );
  }
  if (get('scale_attn_by_inverse_layer_idx') !== false) {
    throw new ConfigError(`${where}: scale_attn_by_inverse_layer_idx=true is not supported (attention scores would be divided by the layer index + 1)`);
  }
  if (get('tie_word_embeddings') !== true) {
    throw new ConfigError(`${where}: tie_word_embeddings=false is not supported (the LM head must be wte, as in GPT-2)`);
  }
  if (raw.add_cross_attention === true) {
    throw new ConfigError(`${where}: add_cross_attention=true is not supported (GPT-2 here is a decoder-only LM)`);
  }
  if (raw.is_encoder_decoder === true) throw new ConfigError(`${where}: is_encoder_decoder=true is not supported`);
  for (const k of ['scale_attn_weights', 'reorder_and_upcast_attn', 'bias'] as const) {
    if (typeof get(k) !== 'boolean') throw new ConfigError(`${where}: ${k} must be a boolean, got ${JSON.stringify(get(k))}`);
  }
  // n_ctx is GPT-2's legacy name for the context length; it must agree with n_positions if both are given.
  if (raw.n_ctx !== undefined && raw.n_positions !== undefined && raw.n_ctx !== raw.n_positions) {
    throw new ConfigError(`${where}: n_ctx (${JSON.stringify(raw.n_ctx)}) differs from n_positions (${JSON.stringify(raw.n_positions)})`);
  }
  const nPos = raw.n_positions === undefined && raw.n_ctx !== undefined ? raw.n_ctx : get('n_positions');

  const n_embd = posInt('n_embd', get('n_embd'), where);
  const n_head = posInt('n_head', get('n_head'), where);
  if (n_embd % n_head !== 0) throw new ConfigError(`${where}: n_embd (${n_embd}) must be divisible by n_head (${n_head})`);
  const inner = get('n_inner');
  const eps = get('layer_norm_epsilon');
  if (typeof eps !== 'number' || !(eps > 0)) throw new ConfigError(`${where}: layer_norm_epsilon must be a positive number, got ${JSON.stringify(eps)}`);
  const init = get('initializer_range');
  if (typeof init !== 'number' || !(init >= 0)) throw new ConfigError(`${where}: initializer_range must be a non-negative number, got ${JSON.stringify(init)}`);

  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!KNOWN.has(k) && k !== 'extra') extra[k] = v;
  if (raw.extra && typeof raw.extra === 'object') Object.assign(extra, raw.extra);
  delete extra.n_ctx; // rewritten from n_positions on save

  const cfg: Gpt2Config = {
    model_type: 'gpt2',
    vocab_size: posInt('vocab_size', get('vocab_size'), where),
    n_positions: posInt('n_positions', nPos, where),
    n_embd,
    n_layer: posInt('n_layer', get('n_layer'), where),
    n_head,
    n_inner: inner === null ? null : posInt('n_inner', inner, where),
    activation_function: act as Gpt2Config['activation_function'],
    resid_pdrop: prob('resid_pdrop', get('resid_pdrop'), where),
    embd_pdrop: prob('embd_pdrop', get('embd_pdrop'), where),
    attn_pdrop: prob('attn_pdrop', get('attn_pdrop'), where),
    layer_norm_epsilon: eps,
    initializer_range: init,
    scale_attn_weights: get('scale_attn_weights') as boolean,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: get('reorder_and_upcast_attn') as boolean,
    tie_word_embeddings: true,
    bos_token_id: tokenId('bos_token_id', get('bos_token_id'), where),
    eos_token_id: tokenId('eos_token_id', get('eos_token_id'), where),
    bias: get('bias') as boolean,
    extra,
  };
  for (const k of ['bos_token_id', 'eos_token_id'] as const) {
    const id = cfg[k];
    // HF's default (50256) does not exist in a smaller vocabulary: unset rather than refuse.
    if (raw[k] === undefined && id !== null && id >= cfg.vocab_size) cfg[k] = null;
    else if (id !== null && id >= cfg.vocab_size) throw new ConfigError(`${where}: ${k} ${id} is outside the vocabulary (vocab_size ${cfg.vocab_size})`);
  }
  return cfg;
}

/** A config for a fresh model: HF defaults overridden by `over` (validated). */
export function makeConfig(over: Partial<Omit<Gpt2Config, 'extra'>> & { extra?: Record<string, unknown> } = {}): Gpt2Config {
  return parseConfig({ ...over } as Record<string, unknown>, 'makeConfig');
}

/** The MLP hidden width. */
export function innerDim(cfg: Gpt2Config): number {
  return cfg.n_inner ?? 4 * cfg.n_embd;
}

/** The JSON object written as `config.json` (HF-compatible; extra fields written back). */
export function configToJson(cfg: Gpt2Config): Record<string, unknown> {
  const { extra, bias, ...fields } = cfg;
  return {
    architectures: ['GPT2LMHeadModel'],
    ...extra,
    ...fields,
    ...(bias ? {} : { bias: false }), // absent means true: HF configs stay as HF writes them
    n_ctx: cfg.n_positions,
  };
}

/** True when any dropout probability is non-zero (training then draws masks per step: dropout.ts, train.ts). */
export function hasDropout(cfg: Gpt2Config): boolean {
  return cfg.resid_pdrop > 0 || cfg.embd_pdrop > 0 || cfg.attn_pdrop > 0;
}
