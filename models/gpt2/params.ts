/**
 * GPT-2 parameters in the Hugging Face layout and names (`wte.weight`, `h.{i}.attn.c_attn.weight`,
 * ...; Conv1D weights stored [in, out]; the LM head is `wte`), GPT-2's initialisation, and
 * loading/saving an HF model directory (`config.json` + `model.safetensors`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../../engine/io/atomic.js';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { ConfigError, configToJson, innerDim, parseConfig, type Gpt2Config } from './config.js';

/** Flat map from HF parameter name (without the `transformer.` prefix) to tensor. */
export type Gpt2Params = Record<string, E.Tensor>;

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Every parameter's name and shape, in HF's order (without the biases when `cfg.bias` is false). */
export function paramShapes(cfg: Gpt2Config): [string, number[]][] {
  const C = cfg.n_embd;
  const F = innerDim(cfg);
  const out: [string, number[]][] = [
    ['wte.weight', [cfg.vocab_size, C]],
    ['wpe.weight', [cfg.n_positions, C]],
  ];
  for (let l = 0; l < cfg.n_layer; l++) {
    const h = `h.${l}.`;
    out.push(
      [`${h}ln_1.weight`, [C]],
      [`${h}ln_1.bias`, [C]],
      [`${h}attn.c_attn.weight`, [C, 3 * C]],
      [`${h}attn.c_attn.bias`, [3 * C]],
      [`${h}attn.c_proj.weight`, [C, C]],
      [`${h}attn.c_proj.bias`, [C]],
      [`${h}ln_2.weight`, [C]],
      [`${h}ln_2.bias`, [C]],
      [`${h}mlp.c_fc.weight`, [C, F]],
      [`${h}mlp.c_fc.bias`, [F]],
      [`${h}mlp.c_proj.weight`, [F, C]],
      [`${h}mlp.c_proj.bias`, [C]],
    );
  }
  out.push(['ln_f.weight', [C]], ['ln_f.bias', [C]]);
  return cfg.bias ? out : out.filter(([name]) => !name.endsWith('.bias'));
}

export function countParams(cfg: Gpt2Config): number {
  return paramShapes(cfg).reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);
}

/**
 * GPT-2's initialisation (HF `_init_weights` + the GPT-2 paper's scaled residual projections):
 * embeddings and linear weights N(0, initializer_range²), biases 0, LayerNorm weight 1 / bias 0,
 * and the two residual output projections (`attn.c_proj.weight`, `mlp.c_proj.weight`) with
 * std initializer_range / sqrt(2 · n_layer). Draws happen in paramShapes order from `rng`.
 */
export function initParams(cfg: Gpt2Config, rng: E.Rng | number): Gpt2Params {
  const r = typeof rng === 'number' ? new E.Rng(rng) : rng;
  const std = cfg.initializer_range;
  const projStd = std / Math.sqrt(2 * cfg.n_layer);
  const params: Gpt2Params = {};
  for (const [name, shape] of paramShapes(cfg)) {
    if (name.includes('ln_') && name.endsWith('.weight')) params[name] = E.ones(shape);
    else if (name.endsWith('.bias')) params[name] = E.zeros(shape);
    else params[name] = E.randn(shape, r, name.endsWith('c_proj.weight') ? projStd : std);
  }
  return params;
}

/** Names in a checkpoint that are buffers or the tied head, not parameters. */
function isIgnoredName(name: string): boolean {
  return /^h\.\d+\.attn\.(bias|masked_bias)$/.test(name) || name === 'lm_head.weight';
}

/**
 * Parameters from named host tensors (e.g. a safetensors file): accepts an optional
 * `transformer.` prefix, skips the attention-mask buffers and a stored lm_head (tied), converts
 * to float32, and reports every missing, mis-shaped or unexpected tensor by name.
 */
export function paramsFromStored(cfg: Gpt2Config, stored: Map<string, E.StoredTensor>, source: string): Gpt2Params {
  const byName = new Map<string, E.StoredTensor>();
  const unexpected: string[] = [];
  for (const [raw, t] of stored) {
    const name = raw.startsWith('transformer.') ? raw.slice('transformer.'.length) : raw;
    if (isIgnoredName(name)) continue;
    if (byName.has(name)) throw new CheckpointError(`${source}: tensor '${name}' appears twice (with and without the 'transformer.' prefix)`);
    byName.set(name, t);
  }
  const expected = paramShapes(cfg);
  const expectedNames = new Set(expected.map(([n]) => n));
  for (const n of byName.keys()) if (!expectedNames.has(n)) unexpected.push(n);
  const missing: string[] = [];
  const misshaped: string[] = [];
  const nonFinite: string[] = [];
  for (const [name, shape] of expected) {
    const t = byName.get(name);
    if (!t) missing.push(name);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      misshaped.push(`${name}: stored ${E.fmtShape(t.shape)}, expected ${E.fmtShape(shape)}`);
    } else if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) {
      misshaped.push(`${name}: stored as ${t.dtype}, expected a float type (F32/F16/BF16/F64)`);
    } else if (!t.data.every(Number.isFinite)) {
      nonFinite.push(name); // a diverged or corrupt model: every output would be NaN
    }
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing tensors: ${missing.join(', ')}`);
  if (misshaped.length) problems.push(`mis-shaped tensors (config: n_layer ${cfg.n_layer}, n_embd ${cfg.n_embd}, vocab_size ${cfg.vocab_size}, n_positions ${cfg.n_positions}): ${misshaped.join('; ')}`);
  if (unexpected.length) problems.push(`unexpected tensors (not part of GPT-2 with this config): ${unexpected.join(', ')}`);
  if (nonFinite.length) problems.push(`tensors holding NaN or Inf: ${nonFinite.join(', ')}`);
  if (problems.length) throw new CheckpointError(`${source}: ${problems.join('\n  ')}`);
  const params: Gpt2Params = {};
  for (const [name] of expected) params[name] = E.storedToTensor(byName.get(name)!, 'float32');
  return params;
}

/** Reads and validates `dir/config.json`. */
export function loadConfig(dir: string): Gpt2Config {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new CheckpointError(`${dir}: no config.json (expected a Hugging Face GPT-2 directory with config.json and model.safetensors)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  try {
    return parseConfig(raw as Record<string, unknown>, path);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new CheckpointError(`${path}: ${(e as Error).message}`);
  }
}

/** Loads an HF GPT-2 directory: config.json + model.safetensors (F32, F16 or BF16 weights). */
export function loadHfDir(dir: string): { cfg: Gpt2Config; params: Gpt2Params } {
  if (!existsSync(dir)) throw new CheckpointError(`model directory '${dir}' does not exist`);
  const cfg = loadConfig(dir);
  const wpath = join(dir, 'model.safetensors');
  if (!existsSync(wpath)) {
    const hint = existsSync(join(dir, 'pytorch_model.bin'))
      ? ' (found pytorch_model.bin: convert it to safetensors, e.g. with transformers\' save_pretrained(safe_serialization=True))'
      : existsSync(join(dir, 'model.safetensors.index.json'))
        ? ' (sharded checkpoints are not supported; GPT-2 fits in one file)'
        : '';
    throw new CheckpointError(`${dir}: no model.safetensors${hint}`);
  }
  const file = E.readSafetensors(wpath);
  return { cfg, params: paramsFromStored(cfg, file.tensors, wpath) };
}

export { writeFileAtomic };

/** Host copies of the parameters, in HF order, ready for writeSafetensors. */
export function paramsToHost(cfg: Gpt2Config, params: Gpt2Params): E.SafetensorsInput {
  const out: E.SafetensorsInput = {};
  for (const [name, shape] of paramShapes(cfg)) {
    const t = params[name];
    if (!t) throw new CheckpointError(`cannot save: parameter '${name}' is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`cannot save: parameter '${name}' is ${E.fmtShape(t.shape)}, expected ${E.fmtShape(shape)}`);
    }
    const data = t.toArray();
    out[name] = { shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
  }
  return out;
}

/** Saves an HF-compatible directory: config.json + model.safetensors (F32), each written atomically. */
export function saveHfDir(dir: string, cfg: Gpt2Config, params: Gpt2Params): void {
  mkdirSync(dir, { recursive: true });
  E.writeSafetensors(join(dir, 'model.safetensors'), paramsToHost(cfg, params), { format: 'pt' });
  writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(configToJson(cfg), null, 2)}\n`);
}
