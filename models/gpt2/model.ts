/**
 * The GPT-2 forward pass (GPT2LMHeadModel; dropout only when given masks, see dropout.ts), written
 * only in engine ops so it runs unchanged on every backend and differentiates through the engine's
 * autodiff.
 *
 * Layout: the residual stream is kept as [B*T, C] so every linear layer is one 2-D matmul (a
 * batched [B,T,C] @ [C,K] would materialise a per-batch weight gradient). Hooks see [B,T,C].
 *
 * Semantics (as HF): Conv1D weights [in, out]; tanh GELU (exact erf GELU for activation_function
 * 'gelu'); no biases when cfg.bias is false (nanoGPT); LayerNorm eps from the config; causal
 * attention with scores divided by sqrt(head_dim) (when scale_attn_weights); lm head tied to wte.
 */
import * as E from '../../engine/index.js';
import type { Gpt2Config } from './config.js';
import { applyDropout, type DropoutMasks } from './dropout.js';
import { checkHookNames, type Hooks } from './hooks.js';
import type { Gpt2Params } from './params.js';

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

export interface ForwardOptions {
  /** Hook functions by hook name (see hooks.ts). */
  hooks?: Hooks;
  /**
   * Check on the host that every token id is inside the vocabulary (reads the tokens back).
   * Default true; pass false inside `E.jit` (reading values while tracing is refused) after
   * validating the data once up front.
   */
  checkTokens?: boolean;
  /** Training-mode dropout: one mask per site (makeDropoutMasks); absent = evaluation mode. */
  dropout?: DropoutMasks;
}

function p(params: Gpt2Params, name: string): E.Tensor {
  const t = params[name];
  if (!t) throw new Error(`gpt2: parameter '${name}' is missing`);
  return t;
}

/** A bias parameter, or null for a bias-free model (`cfg.bias` false, nanoGPT's default). */
function pb(params: Gpt2Params, cfg: Gpt2Config, name: string): E.Tensor | null {
  return cfg.bias ? p(params, name) : null;
}

/** Validates the shape/dtype of a token tensor and (optionally) its values; returns [B, T]. */
export function checkTokenTensor(cfg: Gpt2Config, tokens: E.Tensor, readValues: boolean): [number, number] {
  if (!(tokens instanceof E.Tensor)) throw new TokenError('gpt2: tokens must be an int32 Tensor [batch, pos]');
  if (tokens.dtype !== 'int32' || tokens.rank !== 2) {
    throw new TokenError(`gpt2: tokens must be int32 [batch, pos], got ${tokens.dtype} ${E.fmtShape(tokens.shape)}`);
  }
  const [B, T] = tokens.shape as [number, number];
  if (B < 1 || T < 1) throw new TokenError(`gpt2: tokens ${E.fmtShape(tokens.shape)} are empty`);
  if (T > cfg.n_positions) throw new TokenError(`gpt2: sequence length ${T} exceeds the model's context n_positions = ${cfg.n_positions}`);
  if (readValues) checkTokenValues(tokens.toArray() as Int32Array, cfg.vocab_size);
  return [B, T];
}

/** Throws naming the first token id outside [0, vocab). */
export function checkTokenValues(ids: ArrayLike<number>, vocab: number, where = 'gpt2'): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= vocab) {
      throw new TokenError(`${where}: token id ${v} at position ${i} is out of the vocabulary [0, ${vocab})`);
    }
  }
}

/** An int32 [B, T] token tensor from host ids, validated against the vocabulary. */
export function tokensTensor(cfg: Gpt2Config, ids: ArrayLike<number> | number[][], shape?: [number, number]): E.Tensor {
  let flat: Int32Array;
  let s: [number, number];
  if (Array.isArray(ids) && Array.isArray(ids[0])) {
    const rows = ids as number[][];
    const T = rows[0]!.length;
    if (rows.some((r) => r.length !== T)) throw new TokenError('gpt2: token rows have different lengths');
    checkTokenValues(rows.flat(), cfg.vocab_size);
    flat = Int32Array.from(rows.flat());
    s = [rows.length, T];
  } else {
    const a = ids as ArrayLike<number>;
    checkTokenValues(a, cfg.vocab_size); // before Int32Array.from, which would wrap 2^31 or truncate 1.5
    flat = Int32Array.from(a);
    s = shape ?? [1, flat.length];
  }
  if (s[0] * s[1] !== flat.length) throw new TokenError(`gpt2: ${flat.length} token ids do not fill shape [${s.join(', ')}]`);
  return E.tensor(flat, s, 'int32');
}

/** Applies the hook `name` (if any) to a [N, C] activation, validating a replacement. */
function hookAt(hooks: Hooks | undefined, name: string, x: E.Tensor, B: number, T: number): E.Tensor {
  const h = hooks?.[name];
  if (!h) return x;
  const C = x.shape[1]!;
  const r = h(E.reshape(x, [B, T, C]), name);
  if (r === undefined) return x;
  if (!(r instanceof E.Tensor) || r.dtype !== x.dtype || r.rank !== 3 || r.shape[0] !== B || r.shape[1] !== T || r.shape[2] !== C) {
    const got = r instanceof E.Tensor ? `${r.dtype} ${E.fmtShape(r.shape)}` : typeof r;
    throw new Error(`gpt2: hook '${name}' returned ${got}; a replacement must be ${x.dtype} [${B}, ${T}, ${C}] (or return nothing to only read)`);
  }
  return E.reshape(r, [B * T, C]);
}

function linear(x: E.Tensor, w: E.Tensor, b: E.Tensor | null): E.Tensor {
  const y = E.matmul(x, w);
  return b ? E.add(y, b) : y;
}

/** Causal multi-head self-attention of a [B*T, C] input (already layer-normed). */
function attention(params: Gpt2Params, cfg: Gpt2Config, l: number, x: E.Tensor, B: number, T: number, drop?: DropoutMasks): E.Tensor {
  const C = cfg.n_embd;
  const H = cfg.n_head;
  const D = C / H;
  const N = B * T;
  const qkv = linear(x, p(params, `h.${l}.attn.c_attn.weight`), pb(params, cfg, `h.${l}.attn.c_attn.bias`)); // [N, 3C]
  const heads = (i: number) => E.transpose(E.reshape(E.slice(qkv, [0, i * C], [N, C]), [B, T, H, D]), [0, 2, 1, 3]); // [B,H,T,D]
  const q = heads(0);
  const k = heads(1);
  const v = heads(2);
  let scores = E.matmul(q, k, false, true); // [B,H,T,T]
  if (cfg.scale_attn_weights) scores = E.div(scores, Math.sqrt(D));
  const att = applyDropout(drop, `h.${l}.attn`, E.softmax(E.causalMask(scores), -1));
  const y = E.reshape(E.transpose(E.matmul(att, v), [0, 2, 1, 3]), [N, C]);
  const out = linear(y, p(params, `h.${l}.attn.c_proj.weight`), pb(params, cfg, `h.${l}.attn.c_proj.bias`));
  return applyDropout(drop, `h.${l}.resid_attn`, out);
}

function mlp(params: Gpt2Params, cfg: Gpt2Config, l: number, x: E.Tensor, drop?: DropoutMasks): E.Tensor {
  const pre = linear(x, p(params, `h.${l}.mlp.c_fc.weight`), pb(params, cfg, `h.${l}.mlp.c_fc.bias`));
  const h = cfg.activation_function === 'gelu' ? E.geluErf(pre) : E.gelu(pre);
  const out = linear(h, p(params, `h.${l}.mlp.c_proj.weight`), pb(params, cfg, `h.${l}.mlp.c_proj.bias`));
  return applyDropout(drop, `h.${l}.resid_mlp`, out);
}

/** Position ids 0..T-1 repeated for each of the B rows (host constant; a jit plan captures it). */
function positionIds(B: number, T: number): E.Tensor {
  const ids = new Int32Array(B * T);
  for (let i = 0; i < ids.length; i++) ids[i] = i % T;
  return E.tensor(ids, [B * T], 'int32');
}

/**
 * The final hidden state after ln_f, [B*T, C], running every hook on the way. Used by `forward`
 * and by callers that want hidden states without the LM head.
 */
export function hiddenStates(params: Gpt2Params, cfg: Gpt2Config, tokens: E.Tensor, opts: ForwardOptions = {}): E.Tensor {
  const [B, T] = checkTokenTensor(cfg, tokens, opts.checkTokens ?? true);
  const hooks = opts.hooks;
  if (hooks) checkHookNames(Object.keys(hooks), cfg, 'gpt2 forward');
  const eps = cfg.layer_norm_epsilon;
  const N = B * T;
  const tok = hookAt(hooks, 'hook_embed', E.gather(p(params, 'wte.weight'), E.reshape(tokens, [N]), 0), B, T);
  const pos = hookAt(hooks, 'hook_pos_embed', E.gather(p(params, 'wpe.weight'), positionIds(B, T), 0), B, T);
  const drop = opts.dropout;
  let x = applyDropout(drop, 'embd', E.add(tok, pos));
  for (let l = 0; l < cfg.n_layer; l++) {
    const pre = `blocks.${l}.`;
    x = hookAt(hooks, `${pre}hook_resid_pre`, x, B, T);
    const a = E.layerNorm(x, p(params, `h.${l}.ln_1.weight`), pb(params, cfg, `h.${l}.ln_1.bias`), eps);
    const attnOut = hookAt(hooks, `${pre}hook_attn_out`, attention(params, cfg, l, a, B, T, drop), B, T);
    const mid = hookAt(hooks, `${pre}hook_resid_mid`, E.add(x, attnOut), B, T);
    const m = E.layerNorm(mid, p(params, `h.${l}.ln_2.weight`), pb(params, cfg, `h.${l}.ln_2.bias`), eps);
    const mlpOut = hookAt(hooks, `${pre}hook_mlp_out`, mlp(params, cfg, l, m, drop), B, T);
    x = hookAt(hooks, `${pre}hook_resid_post`, E.add(mid, mlpOut), B, T);
  }
  const h = E.layerNorm(x, p(params, 'ln_f.weight'), pb(params, cfg, 'ln_f.bias'), eps);
  return hookAt(hooks, 'ln_final.hook_normalized', h, B, T);
}

/** Logits as [B*T, vocab] (rows in batch-major order): the loss uses them without a reshape. */
function logitsRows(params: Gpt2Params, cfg: Gpt2Config, tokens: E.Tensor, opts: ForwardOptions): E.Tensor {
  const h = hiddenStates(params, cfg, tokens, opts);
  return E.matmul(h, p(params, 'wte.weight'), false, true); // tied head: h @ wteᵀ
}

/** Logits [B, T, vocab] for int32 tokens [B, T]. */
export function forward(params: Gpt2Params, cfg: Gpt2Config, tokens: E.Tensor, opts: ForwardOptions = {}): E.Tensor {
  const [B, T] = tokens.shape as [number, number];
  return E.reshape(logitsRows(params, cfg, tokens, opts), [B, T, cfg.vocab_size]);
}

export type LossReduction = 'sum' | 'mean';

/**
 * Cross-entropy of logit rows [B*T, V] for tokens [B, T]: with `targets` [B,T] every position is
 * scored against its target; without, position t predicts tokens[t+1] and the last position is
 * unscored (masked to zero, so no [B,T,V] slice of the logits is ever copied).
 */
function lossFromRows(rows: E.Tensor, tokens: E.Tensor, targets: E.Tensor | undefined, reduction: LossReduction): E.Tensor {
  const [B, T] = tokens.shape as [number, number];
  if (reduction !== 'sum' && reduction !== 'mean') throw new Error(`gpt2 loss: reduction must be 'sum' or 'mean', got ${JSON.stringify(reduction)}`);
  if (targets) {
    checkTargets(tokens, targets);
    return E.crossEntropy(rows, E.reshape(targets, [B * T]), reduction);
  }
  if (T < 2) throw new TokenError('gpt2: next-token loss needs sequences of at least 2 tokens (or explicit targets)');
  // Targets tokens[t+1], with a placeholder 0 after the last position; its loss is masked out.
  const shifted = E.reshape(E.pad(E.slice(tokens, [0, 1], [B, T - 1]), [0, 0], [0, 1]), [B * T]);
  const nll = E.crossEntropy(rows, shifted, 'none');
  const mask = new Float32Array(B * T).fill(1);
  for (let b = 0; b < B; b++) mask[b * T + T - 1] = 0;
  const total = E.sum(E.mul(nll, E.tensor(mask, [B * T], rows.dtype)));
  return reduction === 'sum' ? total : E.div(total, B * (T - 1));
}

/** Next-token cross-entropy of logits [B,T,V] (see lossFromRows for `targets`). */
export function lmLoss(logits: E.Tensor, tokens: E.Tensor, targets: E.Tensor | undefined, reduction: LossReduction): E.Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  if (logits.rank !== 3 || tokens.rank !== 2 || tokens.shape[0] !== B || tokens.shape[1] !== T) {
    throw new TokenError(`gpt2 loss: logits ${E.fmtShape(logits.shape)} do not match tokens ${E.fmtShape(tokens.shape)}`);
  }
  return lossFromRows(E.reshape(logits, [B * T, V]), tokens, targets, reduction);
}

function checkTargets(tokens: E.Tensor, targets: E.Tensor): void {
  const [B, T] = tokens.shape as [number, number];
  if (targets.dtype !== 'int32' || targets.rank !== 2 || targets.shape[0] !== B || targets.shape[1] !== T) {
    throw new TokenError(`gpt2: targets must be int32 [${B}, ${T}] like the tokens, got ${targets.dtype} ${E.fmtShape(targets.shape)}`);
  }
}

/**
 * Mean next-token cross-entropy (the training loss). `targets` [B,T] score every position;
 * without them position t predicts tokens[t+1].
 */
export function lossFn(params: Gpt2Params, cfg: Gpt2Config, tokens: E.Tensor, targets?: E.Tensor, opts: ForwardOptions = {}): E.Tensor {
  return lossFromRows(logitsRows(params, cfg, tokens, opts), tokens, targets, 'mean');
}

/** Runs the model and returns the logits and the activations at the named hooks ([B,T,C] each). */
export function runWithCache(
  params: Gpt2Params,
  cfg: Gpt2Config,
  tokens: E.Tensor,
  names: readonly string[],
  opts: ForwardOptions = {},
): { logits: E.Tensor; acts: Record<string, E.Tensor> } {
  checkHookNames(names, cfg, 'runWithCache');
  const acts: Record<string, E.Tensor> = {};
  const hooks: Hooks = { ...opts.hooks };
  for (const n of names) {
    const user = hooks[n];
    hooks[n] = (x, name) => {
      const r = user ? user(x, name) : undefined;
      acts[n] = r ?? x;
      return r;
    };
  }
  const logits = forward(params, cfg, tokens, { ...opts, hooks });
  return { logits, acts };
}

export interface ActGradOptions {
  /** 'sum' over scored positions (default, METHODS §1.3) or 'mean'. */
  reduction?: LossReduction;
  /** Explicit targets [B,T]; default: next-token targets from `tokens` (last position unscored). */
  targets?: E.Tensor;
  /** Extra hooks applied as well (e.g. an SAE spliced elsewhere); default none: the clean model. */
  hooks?: Hooks;
  checkTokens?: boolean;
}

/**
 * The loss, the activations at `hookNames` and ∂loss/∂activation for each, on the clean model.
 * The gradient uses the zero-probe trick: each hooked activation x becomes x + probe with
 * probe = 0, and the loss is differentiated with respect to the probes only (the parameters are
 * not differentiated, so no parameter gradients are computed).
 */
export function activationsAndGrads(
  params: Gpt2Params,
  cfg: Gpt2Config,
  tokens: E.Tensor,
  hookNames: readonly string[],
  opts: ActGradOptions = {},
): { loss: E.Tensor; acts: Record<string, E.Tensor>; grads: Record<string, E.Tensor> } {
  checkHookNames(hookNames, cfg, 'activationsAndGrads');
  if (new Set(hookNames).size !== hookNames.length) throw new Error('activationsAndGrads: hook names repeat');
  const [B, T] = checkTokenTensor(cfg, tokens, opts.checkTokens ?? true);
  const reduction = opts.reduction ?? 'sum';
  if (reduction !== 'sum' && reduction !== 'mean') throw new Error(`activationsAndGrads: reduction must be 'sum' or 'mean', got ${JSON.stringify(reduction)}`);
  return E.tidy(() => {
    const probes: Record<string, E.Tensor> = {};
    const dtype = p(params, 'wte.weight').dtype; // float64 parameters give float64 probes (gradient checks)
    for (const n of hookNames) probes[n] = E.zeros([B, T, cfg.n_embd], dtype);
    const f = (pr: Record<string, E.Tensor>) => {
      const acts: Record<string, E.Tensor> = {};
      const hooks: Hooks = { ...opts.hooks };
      for (const n of hookNames) {
        const user = hooks[n];
        hooks[n] = (x, name) => {
          const v = (user ? user(x, name) : undefined) ?? x;
          acts[n] = v;
          return E.add(v, pr[n]!);
        };
      }
      const rows = logitsRows(params, cfg, tokens, { hooks, checkTokens: false });
      return [lossFromRows(rows, tokens, opts.targets, reduction), acts] as [E.Tensor, Record<string, E.Tensor>];
    };
    const [[loss, acts], grads] = E.valueAndGrad(f, { hasAux: true })(probes) as [[E.Tensor, Record<string, E.Tensor>], Record<string, E.Tensor>];
    return { loss, acts, grads };
  });
}
