/**
 * The explorer in headless Chromium (Debian's /usr/bin/chromium through playwright-core, as the
 * gpu.js browser tests): served by `serveSite` over the fixture run (fixture.ts), it checks the
 * results page, the latent list (sort, token search), a dashboard, the comparison view and a
 * steering round trip, that the in-page forward equals the Node forward, and that the static
 * site opens from file:// (on the reference backend, saying why). Screenshots go to
 * test/explorer/artifacts/ (gitignored); the page must log no console errors. Timings (first
 * load, dashboard switch, page weight, forward tokens/s per backend) are printed.
 * Skipped, with the reason, where Chromium or playwright-core is missing.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { forward, runWithCache } from '../../models/gpt2/model.js';
import { disposeSae, loadSae } from '../../sae/model.js';
import { meanNorm, nextTokenChange, steeringDeltas, steeringHooks } from '../../experiments/features/steer_hook.js';
import { loadHfDir } from '../../models/gpt2/params.js';
import { loadTokenizer } from '../../models/gpt2/tokenizer.js';
import { bundleExplorer } from '../../experiments/explorer/bundle.js';
import { buildSite, type Site } from '../../experiments/explorer/site.js';
import { serveSite, type Served } from '../../experiments/explorer/server.js';
import { writeStaticSite } from '../../experiments/explorer/static_site.js';
import type { FeatureBlock, FeaturesIndex } from '../../experiments/features/schema.js';
import { browserUnavailable, CHROMIUM, CHROMIUM_ARGS } from '../backends/gpujs/browser/harness.js';
import { HOOK, MODEL_DIR, writeFixture, type Fixture } from './fixture.js';

export const ARTIFACTS = resolve('test/explorer/artifacts');
const unavailable = browserUnavailable();
if (unavailable) console.log(`[explorer browser] skipped — ${unavailable}`);

type Browser = Awaited<ReturnType<typeof import('playwright-core').chromium.launch>>;
type Page = Awaited<ReturnType<Browser['newPage']>>;

describe.skipIf(unavailable !== null)('explorer in headless Chromium', () => {
  let root: string;
  let fx: Fixture;
  let site: Site;
  let served: Served;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const measured: string[] = [];
  const PROMPT = 'First Citizen:\nBefore we proceed any further, hear me speak.';
  const PREPARED = 'computed features of topk-k4-s0 over 192 held-out tokens of <store> in 1.0 s (no steering effect)';

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    root = mkdtempSync(join(tmpdir(), 'gsae-explore-browser-'));
    fx = await writeFixture(join(root, 'run'));
    const t0 = performance.now();
    const bundle = await bundleExplorer({ minify: true });
    measured.push(`bundle ${(bundle.length / 1e6).toFixed(2)} MB (minified) in ${(performance.now() - t0).toFixed(0)} ms`);
    // as `gsae explore` passes what it computed before serving (prepare.ts), shown on the landing page
    site = buildSite(fx.runDir, { bundle, prepared: [PREPARED] });
    served = await serveSite(site, 0, '127.0.0.1');
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.setDefaultTimeout(120_000);
  }, 240_000);

  afterAll(async () => {
    console.log(`[explorer browser] measured:\n  ${measured.join('\n  ')}`);
    await browser?.close().catch(() => undefined);
    await served?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const ready = async () => page.waitForSelector('main[data-ready="1"]');
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });

  it('first load: the run results table and plots', async () => {
    const t0 = performance.now();
    await page.goto(served.url);
    await page.waitForSelector('[data-test="results-table"]');
    await ready();
    const ms = performance.now() - t0;
    const inPage = await page.evaluate(() => (globalThis as unknown as { gsaeExplorer: { timings: Record<string, number> } }).gsaeExplorer.timings);
    measured.push(`in-page: script start ${inPage.scriptStartMs?.toFixed(0)} ms, first content ${inPage.firstContentMs?.toFixed(0)} ms after navigation start`);
    // bytes over the wire for the page and everything it fetched (a string: the test's lib has no DOM types)
    const weight = (await page.evaluate(
      "performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation')).reduce((s, e) => s + (e.transferSize || 0), 0)",
    )) as number;
    measured.push(`first load to results table: ${ms.toFixed(0)} ms; page weight ${(weight / 1e6).toFixed(2)} MB`);
    const ids = await page.$$eval('[data-test="results-table"] tr td:first-child', (tds) => tds.map((t) => t.textContent));
    expect(ids).toEqual(['topk-k4', 'gsae-k4-b1']);
    expect(await page.$$eval('main .card[data-rendered="vega"] svg', (x) => x.length)).toBeGreaterThanOrEqual(3);
    expect(await page.$$eval('main img[alt="run/plots/fvu.svg"]', (x) => x.length)).toBe(1);
    expect(await page.textContent('[data-test="prepared"]')).toContain(PREPARED);
    await shot('results');
    expect(errors).toEqual([]);
  });

  it('latent list: sorted by density, searchable by promoted token', async () => {
    const ix = JSON.parse((await (await fetch(`${served.url}d/topk-k4-s0/features/index.json`)).text())) as FeaturesIndex;
    await page.goto(`${served.url}#/latents/topk-k4-s0?sort=density`);
    await ready();
    const order = await page.$$eval('[data-test="latent-table"] tr[data-latent]', (rows) => rows.map((r) => Number(r.getAttribute('data-latent'))));
    const expected = ix.latents.slice().sort((a, b) => b.density - a.density).map((l) => l.index);
    expect(order.map((i) => ix.latents[i]!.density)).toEqual(expected.map((i) => ix.latents[i]!.density));
    expect(order.length).toBe(64);
    await shot('latents');
    // "which latents promote ' X'?": exact token search
    const tok = ix.latents[5]!.topPromoted[0]!.token;
    const want = ix.latents.filter((l) => l.topPromoted.some((t) => t.token === tok)).map((l) => l.index).sort((a, b) => a - b);
    await page.goto(`${served.url}#/latents/topk-k4-s0?q=${encodeURIComponent(JSON.stringify(tok))}`);
    await ready();
    const hits = await page.$$eval('[data-test="latent-table"] tr[data-latent]', (rows) => rows.map((r) => Number(r.getAttribute('data-latent'))));
    expect(hits.sort((a, b) => a - b)).toEqual(want);
    expect(hits).toContain(5);
    expect(errors).toEqual([]);
  });

  it('dashboard: contexts with per-token highlighting, histograms, logit table, neighbours (g-SAE: attribution)', async () => {
    const ix = JSON.parse((await (await fetch(`${served.url}d/gsae-k4-b1-s0/features/index.json`)).text())) as FeaturesIndex;
    const i = ix.latents.slice().sort((a, b) => b.density - a.density)[0]!.index;
    const block = JSON.parse((await (await fetch(`${served.url}d/gsae-k4-b1-s0/features/${ix.blocks.find((b) => i >= b.first && i < b.first + b.count)!.file}`)).text())) as FeatureBlock;
    const l = block.latents[i - block.first]!;
    const t0 = performance.now();
    await page.goto(`${served.url}#/latent/gsae-k4-b1-s0/${i}`);
    await page.waitForSelector('[data-test="act-histogram"][data-rendered="vega"]');
    await ready();
    measured.push(`dashboard (new page load): ${(performance.now() - t0).toFixed(0)} ms`);
    expect(await page.textContent('[data-test="latent-title"]')).toContain(`Latent ${i}`);
    const ctx = await page.$$eval('[data-test="context"]', (els) => els.length);
    const nQ = l.quantiles.reduce((s, q) => s + q.contexts.length, 0);
    expect(ctx).toBe(2 * l.top.length + nQ); // each top context twice: activation and attribution rows
    const firstCtx = await page.$eval('[data-test="context"]', (el) => [...el.querySelectorAll('span')].map((x) => x.getAttribute('title')));
    expect(firstCtx.length).toBe(l.top[0]!.tokens.length);
    expect(firstCtx[l.top[0]!.centre]).toContain(`f = ${Number(l.top[0]!.acts[l.top[0]!.centre]!.toPrecision(4))}`);
    const promoted = await page.$$eval('[data-test="logit-table"] table td code', (c) => c.map((x) => x.textContent));
    expect(promoted.slice(0, 3)).toEqual(l.logits.promoted.slice(0, 3).map((t) => JSON.stringify(t.token).slice(1, -1)));
    expect(await page.$$eval('[data-test="neighbours"] a', (a) => a.map((x) => x.textContent))).toEqual(l.neighbours.map((n) => `latent ${n.index}`));
    // the histogram legend names both quantities (activation and attribution)
    expect(await page.textContent('[data-test="act-histogram"] svg')).toMatch(/attribution/);
    await shot('dashboard');
    // switching to the neighbour: a hash change, no reload
    const t1 = performance.now();
    await page.click(`[data-test="neighbours"] a >> nth=0`);
    await page.waitForFunction(`document.querySelector('[data-test="latent-title"]')?.textContent?.includes('Latent ${l.neighbours[0]!.index} ') && document.querySelector('main')?.dataset.ready === '1'`);
    const inPage = await page.evaluate(() => (globalThis as unknown as { gsaeExplorer: { timings: Record<string, number> } }).gsaeExplorer.timings.lastDashboardMs);
    measured.push(`dashboard switch (click → content): ${(performance.now() - t1).toFixed(0)} ms (in-page render ${inPage!.toFixed(0)} ms)`);
    expect(errors).toEqual([]);
  });

  it('comparison view: matched, unmatched and split latents (Hungarian)', async () => {
    await page.goto(`${served.url}#/compare/topk-k4-s0~gsae-k4-b1-s0`);
    await page.waitForSelector('[data-test="compare-summary"]');
    await ready();
    const summary = await page.textContent('[data-test="compare-summary"]');
    expect(summary).toContain('Hungarian');
    expect(summary).toMatch(/41 of 64 latents of A matched/);
    expect(await page.$$eval('[data-test="matched-table"] tr', (r) => r.length)).toBe(42);
    expect(await page.$$eval('[data-test="unmatched-table"] tr', (r) => r.length)).toBe(64 - 41 + 1);
    expect(await page.$$eval('[data-test="unmatched-b-table"] tr', (r) => r.length)).toBe(64 - 41 + 1);
    const splits = await page.textContent('[data-test="splits"]');
    expect(splits).toContain(`A ${fx.splitA} → B`);
    await shot('compare');
    // any other pair, computed by the server on request: B against A (the assignment is symmetric)
    await page.selectOption('[data-test="dict-picker"] >> nth=0', 'gsae-k4-b1-s0');
    await page.selectOption('[data-test="dict-picker"] >> nth=1', 'topk-k4-s0');
    await page.click('[data-test="compare-go"]');
    await page.waitForFunction(`location.hash === '#/compare/gsae-k4-b1-s0~topk-k4-s0' && document.querySelector('[data-test="compare-summary"]')`);
    expect(await page.textContent('[data-test="compare-summary"]')).toMatch(/41 of 64 latents of A matched/);
    expect(await page.textContent('[data-test="splits"]')).toContain(`B ${fx.splitA} → A`);
    expect(errors).toEqual([]);
  });

  it('the in-page forward equals the Node forward (logits, float32 tolerance) on every backend the page offers (wasm, reference, gpujs-webgl2)', async () => {
    const model = loadHfDir(MODEL_DIR);
    const tok = loadTokenizer(MODEL_DIR);
    const ids = tok.encode(PROMPT);
    const node = E.tidy(() => forward(model.params, model.cfg, E.tensor(Int32Array.from(ids), [1, ids.length], 'int32')).toArray() as Float32Array);
    E.dispose(model.params);
    let scale = 0;
    for (const v of node) scale = Math.max(scale, Math.abs(v));
    const offered = (await page.evaluate(() => (globalThis as unknown as { gsaeExplorer: { backends(): Promise<{ name: string; available: boolean; why: string }[]> } }).gsaeExplorer.backends()));
    measured.push(`page backends: ${offered.map((b) => `${b.name} ${b.available ? 'available' : 'unavailable'} (${b.why})`).join('; ')}`);
    expect(offered.filter((b) => b.available).map((b) => b.name).slice(0, 2)).toEqual(['wasm', 'reference']);
    for (const backend of offered.filter((b) => b.available).map((b) => b.name)) {
      const got = await page.evaluate(([i, b]) => (globalThis as unknown as { gsaeExplorer: { forwardLogits(i: number[], b: string): Promise<number[]> } }).gsaeExplorer.forwardLogits(i as number[], b as string), [ids, backend] as const);
      expect(got.length).toBe(node.length);
      let worst = 0;
      for (let j = 0; j < node.length; j++) worst = Math.max(worst, Math.abs(got[j]! - node[j]!));
      measured.push(`in-page forward vs Node on ${backend}: max |Δlogit| ${worst.toExponential(2)} (max |logit| ${scale.toFixed(2)})`);
      // float32 accumulation over 4 layers of width 128: a few ulps of the largest logit; gpu.js's
      // GLSL exp/tanh/division are driver approximations (a few ulps each, test/backends/gpujs), so more there
      expect(worst).toBeLessThan((backend.startsWith('gpujs') ? 1e-3 : 1e-5) * scale + 1e-5);
      const rate = await page.evaluate(([i, b]) => (globalThis as unknown as { gsaeExplorer: { forwardRate(i: number[], b: string, r: number): Promise<number> } }).gsaeExplorer.forwardRate(i as number[], b as string, 3), [ids, backend] as const);
      measured.push(`in-page forward on ${backend}: ${rate.toFixed(0)} tokens/s (prompt of ${ids.length} tokens, 3 runs)`);
    }
    expect(errors).toEqual([]);
  }, 180_000);

  it('steering round trip: next-token distribution and continuation change, prompt latents with attribution', async () => {
    await page.goto(`${served.url}#/steer?dict=gsae-k4-b1-s0&latent=${fx.perm[3]}&c=8`);
    await ready();
    await page.waitForSelector('[data-test="backend-why"]');
    expect(await page.textContent('[data-test="backend-why"]')).toMatch(/wasm: available/);
    await page.selectOption('[data-test="backend-picker"]', 'wasm');
    const t0 = performance.now();
    await page.click('[data-test="steer-run"]');
    await page.waitForSelector('[data-test="steer-status"][data-done]');
    const status = await page.textContent('[data-test="steer-status"]');
    expect(status).toMatch(/^backend wasm · α = c·E‖x‖/);
    measured.push(`steering round trip (load weights + 2 distributions + 2×12 sampled tokens + g-SAE encode with backward): ${(performance.now() - t0).toFixed(0)} ms`);
    const clean = await page.$$eval('[data-test="next-clean"] tr td:nth-child(2)', (t) => t.map((x) => Number(x.textContent)));
    const steered = await page.$$eval('[data-test="next-steered"] tr td:nth-child(2)', (t) => t.map((x) => Number(x.textContent)));
    expect(clean.length).toBe(10);
    expect(clean).not.toEqual(steered);
    // the same steer on Node (steer_hook.ts, E‖x‖ over the prompt: the fixture's index records none)
    const model = loadHfDir(MODEL_DIR);
    const ids = loadTokenizer(MODEL_DIR).encode(PROMPT);
    const sae = loadSae(fx.gsae);
    const change = E.tidy(() => {
      const toks = E.tensor(Int32Array.from(ids), [1, ids.length], 'int32');
      const norm = meanNorm(runWithCache(model.params, model.cfg, toks, [HOOK]).acts[HOOK]!);
      const hooks = steeringHooks(steeringDeltas([{ hook: HOOK, decoderRows: sae.params.W_dec!, latent: fx.perm[3]!, coef: 8, meanNorm: norm }]));
      const V = model.cfg.vocab_size;
      const last = (t: E.Tensor) => (t.toArray() as Float32Array).slice((ids.length - 1) * V);
      return nextTokenChange(last(forward(model.params, model.cfg, toks)), last(forward(model.params, model.cfg, toks, { hooks })), 10);
    });
    disposeSae(sae);
    E.dispose(model.params);
    // the page prints 3 significant digits
    change.clean.forEach((r, j) => expect(clean[j]!).toBeCloseTo(Number(r.clean.toPrecision(3)), 6));
    change.steered.forEach((r, j) => expect(steered[j]!).toBeCloseTo(Number(r.steered.toPrecision(3)), 6));
    const cc = await page.textContent('[data-test="cont-clean"]');
    const cs = await page.textContent('[data-test="cont-steered"]');
    expect(cc!.length).toBeGreaterThan(0);
    expect(cs).not.toBe(cc);
    const rows = await page.$$eval('[data-test="prompt-latents"] tr', (r) => r.length);
    expect(rows).toBe(ids.length);
    // a g-SAE shows the attribution f·a next to each activation: "i: f (f·a)"
    expect(await page.textContent('[data-test="prompt-latents"] .pill')).toMatch(/^\d+: [-\d.e]+ \([-\d.e]+\)$/);
    // each one links to its dashboard
    expect(await page.getAttribute('[data-test="prompt-latents"] .pill a >> nth=0', 'href')).toMatch(/^#\/latent\/gsae-k4-b1-s0\/\d+$/);
    expect(await page.$$eval('[data-test="next-chart"] svg', (s) => s.length)).toBe(1);
    await shot('steer');
    await page.screenshot({ path: join(ARTIFACTS, 'readme.png'), clip: { x: 0, y: 0, width: 1100, height: 700 } });
    expect(errors).toEqual([]);
  }, 180_000);

  it('the static site opens from file:// and says why it runs on the reference backend', async () => {
    const out = join(root, 'static');
    writeStaticSite(site, out);
    const p = await browser.newPage();
    const errs: string[] = [];
    p.on('console', (m) => m.type() === 'error' && errs.push(m.text()));
    p.on('pageerror', (e) => errs.push(e.message));
    await p.goto(`${pathToFileURL(join(out, 'index.html')).href}#/latents/topk-k4-s0`);
    await p.waitForSelector('[data-test="latent-table"] tr[data-latent]');
    expect(await p.$$eval('[data-test="latent-table"] tr[data-latent]', (r) => r.length)).toBe(64);
    await p.goto(`${pathToFileURL(join(out, 'index.html')).href}#/steer`);
    await p.waitForSelector('main[data-ready="1"]');
    const why = await p.textContent('[data-test="backend-why"]');
    expect(why).toMatch(/wasm: unavailable — .*file:\/\//);
    expect(await p.inputValue('[data-test="backend-picker"]')).toBe('reference');
    await p.fill('[data-test="coef-input"]', '4');
    await p.fill('[data-test="ntok-input"]', '2'); // the reference backend is slow: two sampled tokens suffice here
    await p.click('[data-test="steer-run"]');
    await p.waitForSelector('[data-test="steer-status"][data-done]', { timeout: 120_000 });
    expect(await p.textContent('[data-test="steer-status"]')).toMatch(/^backend reference/);
    await p.screenshot({ path: join(ARTIFACTS, 'static-steer.png') });
    await p.close();
    expect(errs).toEqual([]);
  }, 180_000);
});
