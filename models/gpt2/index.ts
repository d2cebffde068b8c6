/**
 * GPT-2 in engine ops: config (HF field names), parameters (HF layout), forward with
 * TransformerLens hook points, activation gradients, tokenizers, training and sampling.
 *
 *   import * as G from '../models/gpt2/index.js';
 *   const { cfg, params } = G.loadHfDir('path/to/gpt2');          // config.json + model.safetensors
 *   const logits = G.forward(params, cfg, tokens, { hooks: { 'blocks.3.hook_resid_post': (x) => ... } });
 *   const { acts, grads } = G.activationsAndGrads(params, cfg, tokens, ['blocks.3.hook_resid_post']);
 */
export * from './config.js';
export * from './hooks.js';
export * from './params.js';
export * from './model.js';
export * from './tokenizer.js';
export * from './data.js';
export * from './sample.js';
export * from './checkpoint.js';
export { validateTrainOptions, type TrainOptions } from './train_options.js';
export * from './presets.js';
export * from './train.js';
