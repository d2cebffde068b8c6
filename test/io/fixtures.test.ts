import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const at = (p: string) => ROOT + p;

describe('repo data and fixtures are present, licensed, and as documented', () => {
  it('tinyshakespeare: size, alphabet and the 90/10 split from the data README', () => {
    const bytes = readFileSync(at('data/tinyshakespeare/input.txt'));
    expect(bytes.length).toBe(1115394);
    const text = bytes.toString('utf8');
    expect(new Set(text).size).toBe(65);
    const cut = Math.floor(text.length * 0.9);
    expect([cut, text.length - cut]).toEqual([1003854, 111540]);
    expect(readFileSync(at('data/README.md'), 'utf8')).toMatch(/karpathy\/char-rnn.*public-domain/);
  });

  it.each(['gpt2-debug', 'gpt2-tiny-uor'])('%s has config, weights and a README with its origin', (dir) => {
    for (const f of ['config.json', 'model.safetensors', 'README.md']) expect(existsSync(at(`test/fixtures/${dir}/${f}`)), f).toBe(true);
    const cfg = JSON.parse(readFileSync(at(`test/fixtures/${dir}/config.json`), 'utf8'));
    expect(cfg.model_type).toBe('gpt2');
    expect(readFileSync(at(`test/fixtures/${dir}/README.md`), 'utf8')).toMatch(/Origin:.*\n?.*License/);
  });

  it('the UOR fixture keeps its MIT license and golden outputs', () => {
    expect(readFileSync(at('test/fixtures/gpt2-tiny-uor/LICENSE'), 'utf8')).toMatch(/^MIT License/);
    const golden = JSON.parse(readFileSync(at('test/fixtures/gpt2-tiny-uor/golden.json'), 'utf8'));
    expect(typeof golden).toBe('object');
    expect(existsSync(at('test/fixtures/gpt2-debug/debug_state.safetensors'))).toBe(true);
  });
});
