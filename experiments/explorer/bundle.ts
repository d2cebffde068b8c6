/**
 * The page bundle: page/main.ts with the engine, GPT-2, the SAE inference code and vega /
 * vega-lite, bundled by rolldown into one classic script (IIFE; see html.ts for why not ESM).
 * `node:*` imports become the stubs of engine/node_stub.ts: the page never touches files, and the
 * wasm backend runs single-threaded there (worker_threads is Node's; a page's main thread may
 * not Atomics.wait).
 *
 * `npm run build` writes the bundle beside the compiled module (dist/experiments/explorer/
 * explorer.bundle.js, by build_bundle.ts) so `gsae explore` needs no bundler at run time; from
 * the TypeScript sources (tests, development) it is bundled on the fly.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PREBUILT = path.join(here, 'explorer.bundle.js');

/** Where the page sources are: beside this file when run from sources, else in the repository. */
function pageEntry(): string {
  const local = path.join(here, 'page', 'main.ts');
  if (existsSync(local)) return local;
  // compiled: dist/experiments/explorer → experiments/explorer/page in the package root
  const fromDist = path.resolve(here, '..', '..', '..', 'experiments', 'explorer', 'page', 'main.ts');
  return fromDist;
}

export async function bundleExplorer(opts: { minify?: boolean } = {}): Promise<string> {
  const entry = pageEntry();
  if (!existsSync(entry)) throw new Error(`explorer page sources not found at ${entry}`);
  let rolldown: typeof import('rolldown').rolldown;
  try {
    ({ rolldown } = await import('rolldown'));
  } catch {
    throw new Error(`the explorer page is not built (${PREBUILT} is missing) and rolldown is not installed to build it: run 'npm install && npm run build'`);
  }
  const stub = path.join(path.dirname(entry), '..', '..', '..', 'engine', 'node_stub.ts');
  const alias: Record<string, string> = {};
  for (const m of ['fs', 'module', 'os', 'path', 'worker_threads', 'url', 'child_process', 'crypto', 'v8']) {
    alias[`node:${m}`] = stub;
    alias[m] = stub;
  }
  const bundle = await rolldown({
    input: entry,
    platform: 'browser',
    logLevel: 'warn',
    resolve: { alias, extensionAlias: { '.js': ['.ts', '.js'] } },
    // the engine reads a few environment variables; the page has none
    transform: { define: { 'process.env': '{}', 'import.meta.url': '"file:///gsae-explorer.js"' } },
  });
  try {
    const { output } = await bundle.generate({ format: 'iife', codeSplitting: false, minify: opts.minify ?? false });
    return output[0].code;
  } finally {
    await bundle.close();
  }
}

/** The prebuilt bundle when there is one (compiled CLI), else a fresh bundle (sources). */
export async function explorerBundle(): Promise<string> {
  if (here.includes(`${path.sep}dist${path.sep}`) && existsSync(PREBUILT)) {
    return readFileSync(PREBUILT, 'utf8');
  }
  return bundleExplorer();
}
