/**
 * The explorer's Node side: decoder-cosine matching (Hungarian against brute force; the
 * fixture's planted matches and split), the site built from a run folder, and bad input (no
 * features, an occupied port, not an SAE folder, a model of the wrong width) as one clear line.
 */
import * as nodeFs from 'node:fs';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareDictionaries, hungarian } from '../../experiments/explorer/match.js';
import { buildSite, ExplorerInputError, fileBytes } from '../../experiments/explorer/site.js';
import { serveSite } from '../../experiments/explorer/server.js';
import { writeStaticSite } from '../../experiments/explorer/static_site.js';
import type { ComparisonResult } from '../../experiments/explorer/manifest.js';
import { readSaelens } from '../../sae/saelens.js';
import { writeFixture, type Fixture } from './fixture.js';
import { runCli } from '../cli_helpers.js';
import { exploreCommand } from '../../cli/commands/explore.js';

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

describe('hungarian assignment', () => {
  it('finds the minimum-cost assignment (brute force over all assignments, n ≤ 6, m ≥ n)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 }), fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 49, maxLength: 49 }), (n, extra, vals) => {
        const m = n + extra;
        const cost = Float64Array.from({ length: n * m }, (_, i) => vals[i % vals.length]! + i * 1e-9);
        const col = hungarian(cost, n, m);
        expect(new Set(col).size).toBe(n);
        const got = [...col].reduce((s, c, r) => s + cost[r * m + c]!, 0);
        // brute force: every injective map rows → columns (choose n of m columns, all orders)
        let best = Infinity;
        for (const p of permutations(m)) best = Math.min(best, p.slice(0, n).reduce((s, c, r) => s + cost[r * m + c]!, 0));
        expect(got).toBeCloseTo(best, 9);
      }),
      { numRuns: 60, seed: 11 },
    );
  });
});

describe('explorer site from a run folder', () => {
  let root: string;
  let fx: Fixture;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'gsae-explore-'));
    fx = await writeFixture(join(root, 'run'));
  }, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lists both dictionaries with features, the run, the model and the TopK-vs-g-SAE pair', () => {
    const site = buildSite(fx.runDir, { bundle: '/* bundle */' });
    expect(site.manifest.dictionaries.map((d) => [d.id, d.spec.kind, d.hasFeatures])).toEqual([
      ['gsae-k4-b1-s0', 'gsae', true],
      ['topk-k4-s0', 'topk', true],
    ]);
    expect(site.manifest.model?.nEmbd).toBe(128);
    expect(site.manifest.comparisons).toEqual([{ a: 'topk-k4-s0', b: 'gsae-k4-b1-s0', file: 'cmp/topk-k4-s0~gsae-k4-b1-s0.json' }]);
    for (const p of ['manifest.json', 'run/results.json', 'run/plots/fvu.svg', 'model/model.safetensors', 'd/topk-k4-s0/features/index.json', 'd/gsae-k4-b1-s0/features/blocks/block-00048.json']) {
      expect(site.files.has(p), p).toBe(true);
    }
  });

  it('the comparison recovers the planted matches and the split', () => {
    const site = buildSite(fx.runDir, { bundle: '' });
    const r = JSON.parse(fileBytes(site.files.get(site.manifest.comparisons[0]!.file)!).toString()) as ComparisonResult;
    expect(r.method).toBe('hungarian');
    for (let i = 0; i < 40; i++) {
      const p = r.pairs.find((x) => x.a === i)!;
      expect(p.b).toBe(fx.perm[i]);
      expect(p.cosine).toBeCloseTo(1, 5);
    }
    // random 128-d directions are far apart (cosine ~ ±0.1): the 40 planted pairs and the split latent with one of its halves (0.86) are the only matches
    expect(r.matched).toBe(41);
    // ≈ 1/√1.36 = 0.857 (the random unit offset is only nearly orthogonal to the row)
    const c = r.pairs.find((x) => x.a === fx.splitA)!.cosine;
    expect(c).toBeGreaterThan(0.8);
    expect(c).toBeLessThan(0.92);
    const split = r.splitsA.find((s) => s.latent === fx.splitA);
    expect(split?.partners.map((p) => p.index).sort()).toEqual([...fx.splitB].sort());
    expect(r.unmatchedA.length + r.matched).toBe(64);
    // a comparison against itself matches everything
    const self = compareDictionaries({ id: 'a', wDec: new Float32Array(readW(fx.topk)), dSae: 64 }, { id: 'b', wDec: new Float32Array(readW(fx.topk)), dSae: 64 }, 128, 0.7, 0.5);
    expect(self.matched).toBe(64);
    expect(self.pairs.every((p) => p.a === p.b)).toBe(true);
  });

  it('--static writes every site file as a script the page can load from file://', () => {
    const site = buildSite(fx.runDir, { bundle: '/* b */' });
    const out = join(root, 'static');
    const w = writeStaticSite(site, out);
    expect(w.files).toBe(site.files.size + 1);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    const m = readFileSync(join(out, 'manifest.json.js'), 'utf8');
    expect(m.startsWith('gsaeStatic("manifest.json", "json", {')).toBe(true);
    expect(readFileSync(join(out, 'model/model.safetensors.js'), 'utf8')).toMatch(/^gsaeStatic\("model\/model.safetensors", "base64", "[A-Za-z0-9+/=]+"\);\n$/);
  });

  it('bad input: a folder without features says to run gsae features, in one line', () => {
    const bare = join(root, 'bare');
    rmSync(bare, { recursive: true, force: true });
    // the same SAE without its features/ folder
    const fs = nodeFs;
    fs.mkdirSync(bare, { recursive: true });
    for (const f of ['cfg.json', 'sae_weights.safetensors']) fs.copyFileSync(join(fx.topk, f), join(bare, f));
    expect(() => buildSite(bare, { bundle: '' })).toThrow(ExplorerInputError);
    expect(() => buildSite(bare, { bundle: '' })).toThrow(/^no features under .*: run 'gsae features .* --store <held-out store>' first$/);
    // an unfinished pass is not silently skipped
    const half = join(root, 'half');
    fs.mkdirSync(join(half, 'features'), { recursive: true });
    for (const f of ['cfg.json', 'sae_weights.safetensors']) fs.copyFileSync(join(fx.topk, f), join(half, f));
    const ix = JSON.parse(fs.readFileSync(join(fx.topk, 'features', 'index.json'), 'utf8')) as { complete: boolean };
    fs.writeFileSync(join(half, 'features', 'index.json'), JSON.stringify({ ...ix, complete: false }));
    expect(() => buildSite(half, { bundle: '' })).toThrow(/the features pass is incomplete \(resume it: 'gsae features .*half --store <the same store>'\)$/);
    expect(() => buildSite(join(root, 'nothing-here'), { bundle: '' })).toThrow(/is not a folder/);
    expect(() => buildSite(root, { bundle: '' })).toThrow(/neither an SAE folder/);
    expect(() => buildSite(fx.runDir, { bundle: '', model: 'test/fixtures/gpt2-tiny-uor' })).toThrow(/n_embd|not a GPT-2 folder/);
  });

  it('bad input: an occupied port is one clear line', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const site = buildSite(fx.runDir, { bundle: '' });
      await expect(serveSite(site, port, '127.0.0.1')).rejects.toThrow(`port ${port} on 127.0.0.1 is already in use (pick another with --port, or --port 0 for any free port)`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('gsae explore (CLI)', () => {
  let root: string;
  let fx: Fixture;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'gsae-explore-cli-'));
    fx = await writeFixture(join(root, 'run'));
  }, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('--static writes the site and says where; bad flags and a folder without features are one line each', async () => {
    const out = join(root, 'site');
    const lines = await runCli(exploreCommand, ['explore', fx.runDir, '--static', out]);
    expect(lines.join('')).toMatch(new RegExp(`^wrote \\d+ files \\([\\d.]+ MB\\) to ${out} in [\\d.]+ s; open ${out}/index.html`));
    expect(readFileSync(join(out, 'explorer.js'), 'utf8').length).toBeGreaterThan(100_000);
    await expect(runCli(exploreCommand, ['explore', fx.runDir, '--port', '70000'])).rejects.toThrow('--port must be an integer in 0..65535, got 70000');
    await expect(runCli(exploreCommand, ['explore', fx.runDir, '--match-threshold', '2'])).rejects.toThrow('--match-threshold must be a cosine in (-1, 1], got 2');
    const bare = join(root, 'bare');
    nodeFs.mkdirSync(bare, { recursive: true });
    for (const f of ['cfg.json', 'sae_weights.safetensors']) nodeFs.copyFileSync(join(fx.gsae, f), join(bare, f));
    const err = await runCli(exploreCommand, ['explore', bare]).catch((e: Error) => e);
    expect((err as Error).message).toBe(`no features under ${bare} (1 SAE folder, none with features/index.json): run 'gsae features ${bare} --store <held-out store>' first`);
    expect((err as Error).message).not.toContain('\n');
  }, 120_000);
});

function readW(dir: string): Float32Array {
  return readSaelens(dir).params.W_dec!.data as Float32Array;
}
