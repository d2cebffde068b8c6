/**
 * nanoGPT's initial weights, exactly: after `torch.manual_seed(seed)`, nanoGPT's `GPT(config)`
 * draws from PyTorch's global generator in a fixed order, and this replays that order with
 * `TorchGenerator` so a run started here from the same seed starts from the same weights
 * (`lm train --rng torch`). The order (model.py, PyTorch's module defaults):
 *
 * 1. construction, each module's own reset_parameters (values later overwritten, but the draws
 *    move the stream): wte, wpe `nn.Embedding` → normal_(0, 1); per block, c_attn, attn.c_proj,
 *    c_fc, mlp.c_proj `nn.Linear` → kaiming_uniform_ (one uniform per weight element) and, with
 *    biases, uniform_ on the bias; lm_head `nn.Linear(bias=False)` → kaiming_uniform_;
 * 2. `self.apply(_init_weights)`, children before parents: wte, wpe, then per block c_attn,
 *    attn.c_proj, c_fc, mlp.c_proj → normal_(0, 0.02) (biases zeroed, no draws), then lm_head →
 *    normal_(0, 0.02), which is the tied wte's final value;
 * 3. every `*c_proj.weight` in named_parameters order (attn, then mlp, block by block) →
 *    normal_(0, 0.02 / sqrt(2 · n_layer)).
 *
 * PyTorch's Linear weight is [out, in]; ours (HF Conv1D) is [in, out], so those are transposed.
 * nanoGPT uses 0.02 for every std; here `initializer_range` stands for it (0.02 by default).
 */
import * as E from '../../engine/index.js';
import { innerDim, type Gpt2Config } from './config.js';
import { paramShapes, type Gpt2Params } from './params.js';

/** A PyTorch [out, in] row-major weight as our [in, out] tensor. */
function fromTorchLinear(w: Float32Array, out: number, inp: number): E.Tensor {
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = w[o * inp + i]!;
  return E.tensor(t, [inp, out]);
}

export function initParamsTorch(cfg: Gpt2Config, gen: E.TorchGenerator): Gpt2Params {
  const C = cfg.n_embd;
  const F = innerDim(cfg);
  const V = cfg.vocab_size;
  const P = cfg.n_positions;
  const L = cfg.n_layer;
  const std = cfg.initializer_range;
  // Every Linear of a block as [HF name, in, out]; the order is the modules' construction order.
  const linears: [string, number, number][] = [['attn.c_attn', C, 3 * C], ['attn.c_proj', C, C], ['mlp.c_fc', C, F], ['mlp.c_proj', F, C]];
  for (const [name, n] of [['wte', V * C], ['wpe', P * C], ...linears.map(([k, i, o]) => [k, i * o] as const)] as const) {
    if (n < 16) throw new Error(`initParamsTorch: ${name} has ${n} elements; PyTorch draws fewer than 16 normals another way, which is not reproduced`);
  }

  // 1. construction defaults (only the stream position matters)
  gen.normal(V * C);
  gen.normal(P * C);
  for (let l = 0; l < L; l++) {
    for (const [, inp, out] of linears) {
      gen.skipUniform(inp * out);
      if (cfg.bias) gen.skipUniform(out);
    }
  }
  gen.skipUniform(V * C); // lm_head

  // 2. _init_weights, children first
  const params: Gpt2Params = {};
  gen.normal(V * C, 0, std); // wte's own draw; the tied lm_head's draw below replaces it
  params['wpe.weight'] = E.tensor(gen.normal(P * C, 0, std), [P, C]);
  for (let l = 0; l < L; l++) {
    for (const [name, inp, out] of linears) {
      const w = gen.normal(inp * out, 0, std);
      // the c_proj values are redrawn in step 3; only the stream position matters here
      if (!name.endsWith('c_proj')) params[`h.${l}.${name}.weight`] = fromTorchLinear(w, out, inp);
      if (cfg.bias) params[`h.${l}.${name}.bias`] = E.zeros([out]);
    }
    for (const ln of ['ln_1', 'ln_2']) {
      params[`h.${l}.${ln}.weight`] = E.ones([C]);
      if (cfg.bias) params[`h.${l}.${ln}.bias`] = E.zeros([C]);
    }
  }
  params['ln_f.weight'] = E.ones([C]);
  if (cfg.bias) params['ln_f.bias'] = E.zeros([C]);
  params['wte.weight'] = E.tensor(gen.normal(V * C, 0, std), [V, C]);

  // 3. the scaled residual projections
  const projStd = std / Math.sqrt(2 * L);
  for (let l = 0; l < L; l++) {
    for (const [name, inp, out] of linears.filter(([k]) => k.endsWith('c_proj'))) {
      params[`h.${l}.${name}.weight`] = fromTorchLinear(gen.normal(inp * out, 0, projStd), out, inp);
    }
  }
  // HF's parameter order, as initParams gives it (checkpoints and pytrees list names in it).
  return Object.fromEntries(paramShapes(cfg).map(([name]) => [name, params[name]!]));
}
