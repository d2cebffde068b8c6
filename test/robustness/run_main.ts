/**
 * Runs the real entry point, cli/main.ts's `main(argv)`, in-process, as `gsae` would run it:
 * the same yargs setup and error handling, with process.exit intercepted. Returns the exit code,
 * what was written to stderr and stdout before the exit, and whether the run ended by an exit at
 * all (a command that returns normally has code 0). Fast enough to try dozens of bad inputs.
 */
import { vi } from 'vitest';
import { main } from '../../cli/main.js';

class Exit extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

export interface MainResult {
  code: number;
  stderr: string;
  stdout: string;
  /** lines of stderr (progress bars and logs included), without empty ones */
  errLines: string[];
}

export async function runMain(argv: string[]): Promise<MainResult> {
  let code: number | null = null;
  let stderr = '';
  let stdout = '';
  const exit = vi.spyOn(process, 'exit').mockImplementation(((c?: number) => {
    // only the first exit counts: the real one would have ended the process there
    if (code === null) code = c ?? 0;
    throw new Exit(c ?? 0);
  }) as never);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    if (code === null) stderr += String(s);
    return true;
  });
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    if (code === null) stdout += String(s);
    return true;
  });
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    if (code === null) stdout += `${a.join(' ')}\n`;
  });
  try {
    await main(argv);
  } catch (e) {
    if (!(e instanceof Exit) && code === null) throw e; // escaped main: a bug the test must see
  } finally {
    exit.mockRestore();
    err.mockRestore();
    out.mockRestore();
    log.mockRestore();
  }
  return { code: code ?? 0, stderr, stdout, errLines: stderr.split(/[\r\n]+/).filter((l) => l.trim() !== '') };
}
