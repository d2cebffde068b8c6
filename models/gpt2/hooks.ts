/**
 * Hook points of the GPT-2 forward pass, named as in TransformerLens (METHODS.md §5), so
 * researchers recognise them. Every hooked activation is [batch, pos, n_embd].
 */
import type * as E from '../../engine/index.js';
import type { Gpt2Config } from './config.js';

/**
 * A hook sees the activation (and its name). Returning a tensor of the same shape replaces the
 * activation downstream (splice an SAE reconstruction, add a steering vector); returning nothing
 * only reads it.
 */
export type HookFn = (x: E.Tensor, name: string) => E.Tensor | void;
export type Hooks = Record<string, HookFn>;

export const PER_LAYER_HOOKS = ['hook_resid_pre', 'hook_attn_out', 'hook_resid_mid', 'hook_mlp_out', 'hook_resid_post'] as const;

/** Every hook name of a model, in the order the forward pass reaches them. */
export function hookNames(cfg: Pick<Gpt2Config, 'n_layer'>): string[] {
  const names = ['hook_embed', 'hook_pos_embed'];
  for (let l = 0; l < cfg.n_layer; l++) for (const h of PER_LAYER_HOOKS) names.push(`blocks.${l}.${h}`);
  names.push('ln_final.hook_normalized');
  return names;
}

/** Throws naming the first unknown hook and listing the valid patterns. */
export function checkHookNames(names: Iterable<string>, cfg: Pick<Gpt2Config, 'n_layer'>, where: string): void {
  const valid = new Set(hookNames(cfg));
  for (const n of names) {
    if (!valid.has(n)) {
      throw new Error(
        `${where}: unknown hook '${n}' for a ${cfg.n_layer}-layer model; valid names are hook_embed, hook_pos_embed, ` +
          `blocks.{0..${cfg.n_layer - 1}}.{${PER_LAYER_HOOKS.join(',')}}, ln_final.hook_normalized`,
      );
    }
  }
}
