/**
 * The real `gsae` CLI as a child process, for tests that must signal, kill or time it (and see
 * its exit code and stderr exactly as a user would). The TypeScript sources are bundled once per
 * test file with rolldown (a dev dependency), so the tests never run a stale dist/; packages stay
 * external and resolve from the repo's node_modules.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Bundles cli/main.ts into node_modules/.cache (inside the repo, so packages resolve); returns its path. */
export async function bundleCli(): Promise<{ file: string; dispose(): void }> {
  const { rolldown } = await import('rolldown');
  const dir = join(ROOT, 'node_modules', '.cache', 'gsae-robustness');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `gsae-${process.pid}-${Date.now()}.mjs`);
  const bundle = await rolldown({
    input: join(ROOT, 'test/robustness/cli_entry.ts'),
    platform: 'node',
    logLevel: 'warn',
    external: (id) => !id.startsWith('.') && !isAbsolute(id),
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
  });
  try {
    await bundle.write({ file, format: 'esm', codeSplitting: false });
  } finally {
    await bundle.close();
  }
  return { file, dispose: () => rmSync(file, { force: true }) };
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string; ms: number }>;
}

/** Starts `gsae <args>` from the bundle, in the repo root (the default model and corpus resolve). */
export function startCli(bundle: string, args: string[]): CliRun {
  const t0 = performance.now();
  // the flag bin/gsae.js sets: relaxed SIMD for the wasm backend
  const child = spawn(process.execPath, ['--experimental-wasm-relaxed-simd', bundle, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string; ms: number }>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stderr, stdout, ms: performance.now() - t0 }));
  });
  return { child, done };
}

/** Runs `gsae <args>` to the end. */
export function runCliProcess(bundle: string, args: string[]): CliRun['done'] {
  return startCli(bundle, args).done;
}

/** The lines of stderr that start with `gsae:` (the CLI's error line). */
export function errorLines(stderr: string): string[] {
  return stderr.split(/[\r\n]+/).filter((l) => l.startsWith('gsae:'));
}

/** A small seeded generator for kill times (the gradcheck helpers' mulberry32): the test's random choices repeat exactly. */
export { prng as seededRandom } from '../engine/gradcheck.js';
