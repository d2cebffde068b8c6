/**
 * Exactness against an independent numpy GPT-2 (gpt2-tiny-uor fixture, MIT): for each token
 * sequence, the last position's logits, the final hidden state (after ln_f) and the residual
 * stream after each block, all within 1e-5 absolute.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { loadHfDir } from '../../models/gpt2/params.js';
import { runWithCache, tokensTensor } from '../../models/gpt2/model.js';

const DIR = 'test/fixtures/gpt2-tiny-uor';

interface GoldenCase {
  tokens: number[];
  per_layer: number[][];
  hidden: number[];
  logits: number[];
  top_k: [number, number][];
}
const golden = JSON.parse(readFileSync(`${DIR}/golden.json`, 'utf8')) as { cases: GoldenCase[] };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The last position's row of a [1, T, K] tensor. */
function lastRow(t: E.Tensor): Float32Array {
  const [, T, K] = t.shape as [number, number, number];
  return (t.toArray() as Float32Array).slice((T - 1) * K, T * K);
}

// Every backend that can start here must reproduce the reference (models use only engine ops).
const backends = E.backendStatus().filter((b) => b.available).map((b) => b.name);

describe.each(backends)('GPT-2 vs the independent numpy reference (gpt2-tiny-uor) on %s', (backendName) => {
  const previous = E.backend().name;
  let cfg: ReturnType<typeof loadHfDir>['cfg'];
  let params: ReturnType<typeof loadHfDir>['params'];
  beforeAll(() => {
    E.setBackend(backendName);
    ({ cfg, params } = loadHfDir(DIR));
  });
  afterAll(() => {
    E.dispose(params);
    E.setBackend(previous);
  });
  const names = (n: number) => [...Array.from({ length: n }, (_, l) => `blocks.${l}.hook_resid_post`), 'ln_final.hook_normalized'];

  it('the fixture is what the test assumes', () => {
    expect(golden.cases.length).toBe(3);
    expect(cfg.n_layer).toBe(2);
    for (const c of golden.cases) expect(c.per_layer.length).toBe(cfg.n_layer);
  });

  for (const [i, c] of golden.cases.entries()) {
    it(`case ${i}: tokens [${c.tokens.join(', ')}]`, () => {
      E.tidy(() => {
        const { logits, acts } = runWithCache(params, cfg, tokensTensor(cfg, c.tokens), names(cfg.n_layer));
        expect(maxAbsDiff(lastRow(logits), c.logits)).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(lastRow(acts['ln_final.hook_normalized']!), c.hidden)).toBeLessThanOrEqual(1e-5);
        for (let l = 0; l < cfg.n_layer; l++) {
          expect(maxAbsDiff(lastRow(acts[`blocks.${l}.hook_resid_post`]!), c.per_layer[l]!)).toBeLessThanOrEqual(1e-5);
        }
        // top_k holds (token, probability) pairs of the last position's softmax, best first.
        const probs = E.softmax(logits, -1);
        const row = lastRow(probs);
        for (const [tok, pr] of c.top_k) expect(Math.abs(row[tok]! - pr)).toBeLessThanOrEqual(1e-6);
        const order = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]!);
        expect(order.slice(0, c.top_k.length)).toEqual(c.top_k.map(([t]) => t));
      });
    });
  }
});
