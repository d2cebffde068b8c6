/**
 * Dropout for GPT-2 training, at HF GPT2LMHeadModel's (and nanoGPT's) four sites: the summed
 * embeddings (`embd_pdrop`), the attention probabilities (`attn_pdrop`), and the attention and MLP
 * outputs before each residual add (`resid_pdrop`).
 *
 * Masks are made on the host, one set per training step, and enter the compiled step as inputs:
 * a mask holds 0 (dropped) or 1/(1−p) (kept, inverted-dropout scaling as torch.nn.Dropout), so
 * dropout is one multiply and its gradient the same multiply. Each step's masks come from the
 * stream `rng.fork(step)`, so a resumed run draws the same masks without saving any state.
 * Evaluation and sampling pass no masks (PyTorch's model.eval()).
 */
import * as E from '../../engine/index.js';
import type { Gpt2Config } from './config.js';

/** Masks by site: `embd` [B·T, C], `h.{l}.attn` [B, H, T, T], `h.{l}.resid_attn` / `h.{l}.resid_mlp` [B·T, C]. */
export type DropoutMasks = Record<string, E.Tensor>;

/** The sites with a non-zero probability, with their mask shapes and probabilities. */
export function dropoutSites(cfg: Gpt2Config, B: number, T: number): { name: string; shape: number[]; p: number }[] {
  const N = B * T;
  const C = cfg.n_embd;
  const out: { name: string; shape: number[]; p: number }[] = [];
  if (cfg.embd_pdrop > 0) out.push({ name: 'embd', shape: [N, C], p: cfg.embd_pdrop });
  for (let l = 0; l < cfg.n_layer; l++) {
    if (cfg.attn_pdrop > 0) out.push({ name: `h.${l}.attn`, shape: [B, cfg.n_head, T, T], p: cfg.attn_pdrop });
    if (cfg.resid_pdrop > 0) {
      out.push({ name: `h.${l}.resid_attn`, shape: [N, C], p: cfg.resid_pdrop });
      out.push({ name: `h.${l}.resid_mlp`, shape: [N, C], p: cfg.resid_pdrop });
    }
  }
  return out;
}

/** One inverted-dropout mask: each element kept with probability 1 − p (one 32-bit draw each). */
export function dropoutMask(shape: number[], p: number, rng: E.Rng): E.Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: probability must be in [0, 1), got ${p}`);
  const n = shape.reduce((a, b) => a * b, 1);
  const m = new Float32Array(n);
  const threshold = p * 2 ** 32; // keep when the draw is at or above it: P(keep) = 1 − p
  const scale = 1 / (1 - p);
  for (let i = 0; i < n; i++) m[i] = rng.nextUint32() >= threshold ? scale : 0;
  return E.tensor(m, shape);
}

/** Every site's mask for one step (empty when the config has no dropout). */
export function makeDropoutMasks(cfg: Gpt2Config, B: number, T: number, rng: E.Rng): DropoutMasks {
  const masks: DropoutMasks = {};
  for (const s of dropoutSites(cfg, B, T)) masks[s.name] = dropoutMask(s.shape, s.p, rng.fork(s.name));
  return masks;
}

/** x · mask when the site has a mask, else x (checked against the activation's shape). */
export function applyDropout(masks: DropoutMasks | undefined, site: string, x: E.Tensor): E.Tensor {
  const m = masks?.[site];
  if (!m) return x;
  if (m.rank !== x.rank || m.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`dropout: mask '${site}' is ${E.fmtShape(m.shape)}, the activation ${E.fmtShape(x.shape)}`);
  }
  return E.mul(x, m);
}
