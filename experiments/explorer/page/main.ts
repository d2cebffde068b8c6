/**
 * The explorer page's entry (bundled by ../bundle.ts): one script, plain DOM, hash routes
 * (router.ts; one module per view). It inserts the stylesheet, loads the site manifest, routes
 * on every hash change, and exposes `globalThis.gsaeExplorer`: hooks for the browser test
 * (forward logits, timings).
 */
import type { SiteManifest } from '../manifest.js';
import { bytesRead, loadJson, siteMode } from './data.js';
import * as live from './live.js';
import { ensureLive, liveSaes } from './live_session.js';
import { route } from './router.js';
import { manifest, setManifest, timings } from './state.js';
import { STYLE } from './style.js';

timings.scriptStartMs = performance.now();

async function start(): Promise<void> {
  const style = document.createElement('style');
  style.textContent = STYLE;
  document.head.append(style);
  try {
    setManifest(await loadJson<SiteManifest>('manifest.json'));
  } catch (e) {
    document.getElementById('app')!.textContent = `could not load the explorer's manifest: ${(e as Error).message}`;
    return;
  }
  window.addEventListener('hashchange', () => void route());
  await route();
  timings.firstContentMs = performance.now();
}

/** Hooks for the browser test and measurements. */
(globalThis as { gsaeExplorer?: unknown }).gsaeExplorer = {
  timings,
  siteMode,
  bytesRead: () => bytesRead,
  async backends() {
    await live.prepareGpujs('vendor/gpu-browser.min.js');
    return live.pageBackends();
  },
  /** logits [T·V] of `ids` on `backend`, as a plain array */
  async forwardLogits(ids: number[], backend: string, dictId?: string): Promise<number[]> {
    await live.prepareGpujs('vendor/gpu-browser.min.js');
    const { m } = await ensureLive(dictId ?? manifest.dictionaries[0]!.id);
    live.useBackend(backend, m, [...liveSaes.values()]);
    return Array.from(live.logitsOf(m, ids));
  },
  async forwardRate(ids: number[], backend: string, reps: number): Promise<number> {
    await live.prepareGpujs('vendor/gpu-browser.min.js');
    const { m } = await ensureLive(manifest.dictionaries[0]!.id);
    live.useBackend(backend, m, [...liveSaes.values()]);
    return live.forwardRate(m, ids, reps);
  },
};

void start();
