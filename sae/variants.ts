/** The variant registry: name → module (see variant.ts for the contract). */
import type { VariantName } from './config.js';
import type { Variant } from './variant.js';
import { topkVariant } from './topk.js';
import { gsaeVariant } from './gsae.js';
import { gatedVariant } from './gated.js';
import { reluL1Variant } from './relu_l1.js';
import { batchTopkVariant } from './batch_topk.js';
import { jumpReluVariant } from './jumprelu.js';

const REGISTRY: Record<VariantName, Variant> = {
  topk: topkVariant,
  gsae: gsaeVariant,
  gated: gatedVariant,
  relu_l1: reluL1Variant,
  batchtopk: batchTopkVariant,
  jumprelu: jumpReluVariant,
};

export function getVariant(name: VariantName): Variant {
  const v = REGISTRY[name];
  if (!v) throw new Error(`unknown SAE variant '${name}' (known: ${Object.keys(REGISTRY).join(', ')})`);
  return v;
}
