/**
 * Runs the gpujs equivalence cases inside headless Chromium, where gpu.js's browser modes exist:
 * WebGL2 and WebGL (GLSL kernels) and WebGPU (WGSL kernels), on SwiftShader when there is no GPU.
 *
 *  1. bundles browser/page.ts (engine + backends + cases + fast-check) with rolldown; `node:*`
 *     imports become the stubs in engine/node_stub.ts;
 *  2. serves it, with gpu.js's browser build, from a node:http server on 127.0.0.1 (a localhost
 *     origin is a secure context, which WebGPU requires);
 *  3. drives Debian's `chromium` through playwright-core (no downloaded browser) and evaluates
 *     `gsaeEquivalence(options)` in the page.
 *
 * Chromium flags: --enable-unsafe-swiftshader (WebGL on SwiftShader without a GPU),
 * --enable-unsafe-webgpu (WebGPU on Linux), and flags that stop it reaching the network (there is
 * none here; waiting on it stalls start-up). Playwright gives each launch a fresh profile.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PageOptions, PageReport } from './page.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.GSAE_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', // runs as root in containers; the page is our own code on localhost
  '--enable-unsafe-swiftshader',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-quic',
  '--metrics-recording-only',
];

/** Why the browser run cannot happen here (null when it can). */
export function browserUnavailable(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} does not exist (install Debian's chromium: apt-get install chromium, or .ci/browser-setup.sh; GSAE_CHROMIUM overrides the path)`;
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  return null;
}

/** The page bundle (ES module source). */
export async function bundlePage(): Promise<string> {
  const { rolldown } = await import('rolldown');
  const stub = path.join(here, '..', '..', '..', '..', 'engine', 'node_stub.ts');
  const alias: Record<string, string> = {};
  for (const m of ['fs', 'module', 'os', 'path', 'worker_threads', 'url', 'child_process']) {
    alias[`node:${m}`] = stub;
    alias[m] = stub;
  }
  const bundle = await rolldown({
    input: path.join(here, 'page.ts'),
    platform: 'browser',
    logLevel: 'warn',
    resolve: { alias, extensionAlias: { '.js': ['.ts', '.js'] } },
    // the engine reads process.env lazily and guards it; nothing else of Node is needed
    transform: { define: { 'process.env.NODE_ENV': '"production"' } },
  });
  try {
    const { output } = await bundle.generate({ format: 'esm', codeSplitting: false });
    return output[0].code;
  } finally {
    await bundle.close();
  }
}

function serve(files: Record<string, { type: string; body: string | Buffer }>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]!];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store' }).end(f.body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/` });
    });
  });
}

export interface BrowserRun {
  report: PageReport;
  /** console output of the page (gpu.js warnings, errors) */
  console: string[];
  timings: { bundleMs: number; launchMs: number; runMs: number };
  chromiumVersion: string;
}

/** Bundles, serves, launches Chromium and runs the cases; always closes the browser and server. */
export async function runInChromium(opts: PageOptions, timeoutMs = 300_000): Promise<BrowserRun> {
  const t0 = performance.now();
  const code = await bundlePage();
  const t1 = performance.now();
  const gpuBrowser = readFileSync(require.resolve('gpu.js/dist/gpu-browser.js'));
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>gsae gpujs equivalence</title>' +
    '<script src="/gpu-browser.js"></script><script type="module" src="/page.js"></script></head><body></body></html>';
  const { server, url } = await serve({
    '/': { type: 'text/html', body: html },
    '/gpu-browser.js': { type: 'text/javascript', body: gpuBrowser },
    '/page.js': { type: 'text/javascript', body: code },
    '/favicon.ico': { type: 'image/x-icon', body: '' },
  });
  const { chromium } = await import('playwright-core');
  let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
  const log: string[] = [];
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    const page = await browser.newPage();
    page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    page.setDefaultTimeout(timeoutMs);
    await page.goto(url);
    await page.waitForFunction(() => typeof (globalThis as { gsaeEquivalence?: unknown }).gsaeEquivalence === 'function', undefined, { timeout: 30_000 });
    const t2 = performance.now();
    const report = await page.evaluate(
      (o) => (globalThis as unknown as { gsaeEquivalence(o: PageOptions): Promise<PageReport> }).gsaeEquivalence(o),
      opts,
    );
    const t3 = performance.now();
    return {
      report,
      console: log,
      timings: { bundleMs: Math.round(t1 - t0), launchMs: Math.round(t2 - t1), runMs: Math.round(t3 - t2) },
      chromiumVersion: browser.version(),
    };
  } catch (e) {
    const tail = log.slice(-10).join('\n');
    throw new Error(`${e instanceof Error ? e.message : String(e)}${tail ? `\npage console:\n${tail}` : ''}`);
  } finally {
    await browser?.close().catch(() => undefined);
    await new Promise((r) => server.close(r));
  }
}

/** One line per case: mode, status, largest errors, time. */
export function formatReport(run: BrowserRun): string[] {
  const { report } = run;
  const lines = [`Chromium ${run.chromiumVersion}; ${report.userAgent}`, 'probe in the page:', ...report.probe.map((l) => `  ${l}`), `WebGPU adapter: ${report.webgpuAdapter}`];
  for (const m of report.modes) lines.push(`mode ${m.mode}: ${m.ran ? 'ran' : 'did not run'} (${m.status})${m.renderer ? `; renderer ${m.renderer}` : ''}`);
  for (const r of report.results) {
    const err = `max |err| ${r.maxAbs.toExponential(2)}, ${r.maxUlps.toFixed(0)} ulp, ${(100 * r.maxBoundUse).toFixed(1)}% of bound`;
    lines.push(`${r.ok ? 'ok  ' : 'FAIL'} ${r.mode.padEnd(6)} ${r.name.padEnd(70)} ${err.padEnd(48)} ${String(r.ms).padStart(6)} ms${r.ok ? '' : `\n       ${r.failure}`}`);
  }
  lines.push(`bundle ${run.timings.bundleMs} ms, browser start ${run.timings.launchMs} ms, cases ${run.timings.runMs} ms`);
  return lines;
}
