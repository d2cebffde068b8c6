/**
 * Config parsing, parameter layout and initialisation, and HF directory loading/saving with the
 * errors a user sees for bad checkpoints.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { configToJson, makeConfig, parseConfig } from '../../models/gpt2/config.js';
import { forward, tokensTensor } from '../../models/gpt2/model.js';
import { countParams, initParams, loadHfDir, paramShapes, saveHfDir } from '../../models/gpt2/params.js';

const TINY = 'test/fixtures/gpt2-tiny-uor';
const tmp = mkdtempSync(join(tmpdir(), 'gsae-params-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(tmp, `d${n++}`);

/** Hand-built safetensors bytes with raw (e.g. F16/BF16) payloads, independent of the writer. */
function rawSafetensors(entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[]): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const e of entries) {
    out.set(e.bytes, at);
    at += e.bytes.length;
  }
  return out;
}

describe('config', () => {
  it('reads HF config.json files and fills HF defaults', () => {
    const raw = JSON.parse(readFileSync(`${TINY}/config.json`, 'utf8'));
    const c = parseConfig(raw);
    expect([c.n_layer, c.n_head, c.n_embd, c.vocab_size, c.n_positions]).toEqual([2, 4, 32, 24, 16]);
    expect(c.n_inner).toBeNull();
    expect(c.scale_attn_weights).toBe(true);
    const gpt2small = parseConfig({});
    expect([gpt2small.vocab_size, gpt2small.n_positions, gpt2small.n_embd, gpt2small.n_layer, gpt2small.n_head]).toEqual([50257, 1024, 768, 12, 12]);
    expect(gpt2small.eos_token_id).toBe(50256);
    // The legacy n_ctx alone gives the context length.
    expect(parseConfig({ n_ctx: 32 }).n_positions).toBe(32);
  });

  it('refuses fields that change semantics, naming them', () => {
    expect(() => parseConfig({ scale_attn_by_inverse_layer_idx: true })).toThrow(/scale_attn_by_inverse_layer_idx=true is not supported/);
    expect(() => parseConfig({ activation_function: 'relu' })).toThrow(/activation_function "relu" is not supported/);
    expect(() => parseConfig({ activation_function: 'gelu_fast' })).toThrow(/activation_function "gelu_fast"/);
    expect(parseConfig({ activation_function: 'gelu' }).activation_function).toBe('gelu'); // exact erf GELU
    expect(() => parseConfig({ add_cross_attention: true })).toThrow(/add_cross_attention=true/);
    expect(() => parseConfig({ tie_word_embeddings: false })).toThrow(/tie_word_embeddings=false/);
    expect(() => parseConfig({ model_type: 'gpt_neox' })).toThrow(/model_type is "gpt_neox"/);
    expect(() => parseConfig({ n_embd: 30, n_head: 4 })).toThrow(/n_embd \(30\) must be divisible by n_head \(4\)/);
    expect(() => parseConfig({ n_layer: 0 })).toThrow(/n_layer must be a positive integer/);
    expect(() => parseConfig({ vocab_size: 10, eos_token_id: 10 })).toThrow(/eos_token_id 10 is outside the vocabulary/);
  });

  it('accepts fields that do not matter and writes them back', () => {
    const c = parseConfig({ use_cache: true, summary_type: 'cls_index', gelu_pytorch: 1, activation_function: 'gelu_pytorch_tanh', reorder_and_upcast_attn: true });
    expect(c.extra.summary_type).toBe('cls_index');
    const j = configToJson(c);
    expect(j.summary_type).toBe('cls_index');
    expect(j.n_ctx).toBe(c.n_positions);
    const back = parseConfig(j);
    expect({ ...back, extra: {} }).toEqual({ ...c, extra: {} });
    expect(back.extra).toMatchObject(c.extra);
    expect(back.extra.architectures).toEqual(['GPT2LMHeadModel']);
  });
});

describe('parameters', () => {
  it('have the HF names and shapes', () => {
    const c = makeConfig({ vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 });
    // GPT-2 small has 124,439,808 parameters (tied head).
    expect(countParams(c)).toBe(124439808);
    const shapes = new Map(paramShapes(c));
    expect(shapes.get('h.3.attn.c_attn.weight')).toEqual([768, 2304]);
    expect(shapes.get('h.11.mlp.c_proj.weight')).toEqual([3072, 768]);
  });

  it('are initialised as GPT-2 from the seed', () => {
    const c = makeConfig({ vocab_size: 64, n_positions: 32, n_embd: 48, n_layer: 3, n_head: 4 });
    const a = initParams(c, 42);
    const b = initParams(c, 42);
    const other = initParams(c, 43);
    const std = (t: E.Tensor) => Math.sqrt(E.mean(E.mul(t, t)).item());
    expect(a['wte.weight']!.toArray()).toEqual(b['wte.weight']!.toArray());
    expect(a['wte.weight']!.toArray()).not.toEqual(other['wte.weight']!.toArray());
    expect(std(a['h.0.mlp.c_fc.weight']!)).toBeCloseTo(0.02, 3);
    expect(std(a['h.1.mlp.c_proj.weight']!)).toBeCloseTo(0.02 / Math.sqrt(6), 3);
    expect(std(a['h.2.attn.c_proj.weight']!)).toBeCloseTo(0.02 / Math.sqrt(6), 3);
    expect(Array.from(a['h.0.ln_1.weight']!.toArray()).every((v) => v === 1)).toBe(true);
    expect(Array.from(a['h.0.attn.c_attn.bias']!.toArray()).every((v) => v === 0)).toBe(true);
    E.dispose([a, b, other]);
  });
});

describe('HF directories', () => {
  const { cfg, params } = loadHfDir(TINY);
  const tokens = tokensTensor(cfg, [[3, 1, 4, 1, 5]]);
  const ref = forward(params, cfg, tokens).toArray();

  it('save then load round-trips exactly', () => {
    const d = freshDir();
    saveHfDir(d, cfg, params);
    const back = loadHfDir(d);
    expect(back.cfg).toEqual(cfg);
    expect(forward(back.params, back.cfg, tokens).toArray()).toEqual(ref);
  });

  it('accepts the transformer. prefix, mask buffers and a stored lm_head; reads BF16 and F16', () => {
    const d = freshDir();
    const file = E.readSafetensors(`${TINY}/model.safetensors`);
    const entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] = [];
    const truncated = new Map<string, Float32Array>();
    for (const [name, t] of file.tensors) {
      // BF16 = the upper 16 bits of each float32: the expected float32 is the value with its low half zeroed.
      const bits = new Uint32Array(Float32Array.from(t.data).buffer);
      const half = new Uint16Array(bits.length);
      const expect32 = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) {
        half[i] = bits[i]! >>> 16;
        expect32[i] = bits[i]! & 0xffff0000;
      }
      truncated.set(name, new Float32Array(expect32.buffer));
      entries.push({ name: `transformer.${name}`, dtype: 'BF16', shape: t.shape, bytes: new Uint8Array(half.buffer) });
    }
    entries.push({ name: 'transformer.h.0.attn.bias', dtype: 'F32', shape: [1], bytes: new Uint8Array(4) });
    entries.push({ name: 'lm_head.weight', dtype: 'BF16', shape: [cfg.vocab_size, cfg.n_embd], bytes: entries[0]!.bytes });
    rmSync(d, { recursive: true, force: true });
    saveHfDir(d, cfg, params);
    writeFileSync(join(d, 'model.safetensors'), rawSafetensors(entries));
    const back = loadHfDir(d);
    for (const [name, want] of truncated) expect(back.params[name]!.toArray()).toEqual(want);

    // F16: a few bit patterns with known values (IEEE binary16): 1.0, -2.0, 65504, 2^-24.
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]);
    const s = E.parseSafetensors(rawSafetensors([{ name: 'x', dtype: 'F16', shape: [4], bytes: new Uint8Array(f16.buffer) }]));
    expect(Array.from(s.tensors.get('x')!.data)).toEqual([1, -2, 65504, 2 ** -24]);
  });

  it('names missing, mis-shaped and unexpected tensors', () => {
    const file = E.readSafetensors(`${TINY}/model.safetensors`);
    const write = (mutate: (m: Record<string, { shape: number[]; data: Float32Array }>) => void) => {
      const d = freshDir();
      saveHfDir(d, cfg, params);
      const m: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const [k, t] of file.tensors) m[k] = { shape: t.shape, data: t.data as Float32Array };
      mutate(m);
      E.writeSafetensors(join(d, 'model.safetensors'), m);
      return d;
    };
    const missing = write((m) => delete m['h.1.mlp.c_fc.bias']);
    expect(() => loadHfDir(missing)).toThrow(/missing tensors: h\.1\.mlp\.c_fc\.bias/);
    const wrong = write((m) => (m['h.0.attn.c_attn.weight'] = { shape: [96, 32], data: m['h.0.attn.c_attn.weight']!.data }));
    expect(() => loadHfDir(wrong)).toThrow(/h\.0\.attn\.c_attn\.weight: stored \[96, 32\], expected \[32, 96\]/);
    const extra = write((m) => (m['h.2.ln_1.weight'] = { shape: [32], data: new Float32Array(32) }));
    expect(() => loadHfDir(extra)).toThrow(/unexpected tensors .*h\.2\.ln_1\.weight/);
    expect(() => loadHfDir(join(tmp, 'nope'))).toThrow(/does not exist/);
    const noWeights = freshDir();
    saveHfDir(noWeights, cfg, params);
    rmSync(join(noWeights, 'model.safetensors'));
    writeFileSync(join(noWeights, 'pytorch_model.bin'), '');
    expect(() => loadHfDir(noWeights)).toThrow(/no model\.safetensors \(found pytorch_model\.bin/);
    const badCfg = freshDir();
    saveHfDir(badCfg, cfg, params);
    writeFileSync(join(badCfg, 'config.json'), JSON.stringify({ ...configToJson(cfg), scale_attn_by_inverse_layer_idx: true }));
    expect(() => loadHfDir(badCfg)).toThrow(/config\.json: scale_attn_by_inverse_layer_idx=true is not supported/);
  });
});
