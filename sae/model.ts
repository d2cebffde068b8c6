/**
 * A trained SAE for inference: SAELens-semantics weights on the engine plus the spec that says
 * how to encode. `encode` needs g for a g-SAE (its selection depends on the gradient).
 */
import * as E from '../engine/index.js';
import { decode, toDevice, type HostParams, type Params } from './common.js';
import { topkEncode } from './topk.js';
import { gsaeEncode } from './gsae.js';
import { gatedEncode } from './gated.js';
import { reluEncode } from './relu_l1.js';
import { jumpReluEncode } from './jumprelu.js';
import { readSaelens, type SaeSpec } from './saelens.js';

export interface SaeModel {
  spec: SaeSpec;
  params: Params;
}

export function makeSae(spec: SaeSpec, params: HostParams, dtype: 'float32' | 'float64' = 'float32'): SaeModel {
  return { spec, params: E.keep(toDevice(params, dtype)) };
}

/** Loads a SAELens folder (ours or SAELens'); dispose with `disposeSae`. */
export function loadSae(dir: string): SaeModel {
  const { spec, params } = readSaelens(dir);
  return makeSae(spec, params);
}

export function disposeSae(m: SaeModel): void {
  E.dispose(m.params);
}

function checkInput(m: SaeModel, x: E.Tensor): void {
  if (x.rank < 1 || x.shape[x.rank - 1] !== m.spec.dIn) {
    throw new Error(`SAE encode: input ${E.fmtShape(x.shape)} must end in d_in = ${m.spec.dIn} (hook ${m.spec.hookName || '?'})`);
  }
}

/** Latent activations f [..., d_sae] of x [..., d_in] (g of x's shape for a g-SAE). */
export function encodeSae(m: SaeModel, x: E.Tensor, g?: E.Tensor | null): E.Tensor {
  checkInput(m, x);
  const lead = x.shape.slice(0, -1);
  const x2 = E.reshape(x, [-1, m.spec.dIn]);
  const p = m.params;
  const ab = m.spec.applyBDecToInput;
  let f: E.Tensor;
  switch (m.spec.kind) {
    case 'standard':
      f = reluEncode(p, x2, ab);
      break;
    case 'topk':
      f = topkEncode(p, x2, m.spec.k!, ab).f;
      break;
    case 'gsae': {
      const g2 = g ? E.reshape(g, [-1, m.spec.dIn]) : null;
      f = gsaeEncode(p, x2, g2, { k: m.spec.k!, beta: m.spec.beta!, valueSource: m.spec.valueSource!, gradNorm: m.spec.gradNorm! }, ab).f;
      break;
    }
    case 'gated':
      f = gatedEncode(p, x2, ab).f;
      break;
    case 'jumprelu':
      f = jumpReluEncode(p, x2, ab);
      break;
  }
  return E.reshape(f, [...lead, m.spec.dSae]);
}

export function decodeSae(m: SaeModel, f: E.Tensor): E.Tensor {
  const lead = f.shape.slice(0, -1);
  return E.reshape(decode(m.params, E.reshape(f, [-1, m.spec.dSae])), [...lead, m.spec.dIn]);
}

export function forwardSae(m: SaeModel, x: E.Tensor, g?: E.Tensor | null): { f: E.Tensor; xHat: E.Tensor } {
  const f = encodeSae(m, x, g);
  return { f, xHat: decodeSae(m, f) };
}
