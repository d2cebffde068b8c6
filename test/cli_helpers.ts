/**
 * Runs `gsae <argv>` in-process through real yargs command modules: returns what the command
 * printed on stdout (console.log lines and direct writes), swallows stderr (progress, logs), and
 * throws the CLI's error instead of exiting, so tests can assert on both.
 */
import yargs, { type CommandModule } from 'yargs';
import { vi } from 'vitest';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function runCli(commands: CommandModule<any, any> | CommandModule<any, any>[], argv: string[]): Promise<string[]> {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    let cli = yargs(argv).scriptName('gsae').strict().exitProcess(false);
    for (const c of Array.isArray(commands) ? commands : [commands]) cli = cli.command(c);
    await cli
      .fail((msg, e) => {
        throw e ?? new Error(msg);
      })
      .parseAsync();
  } finally {
    log.mockRestore();
    write.mockRestore();
    err.mockRestore();
  }
  return out;
}
