/**
 * The gsae command line. Each subcommand lives in cli/commands/<name>.ts and exports a yargs
 * CommandModule; add new ones to COMMANDS below.
 */
import yargs, { type CommandModule, type MiddlewareFunction } from 'yargs';
import { backendsCommand } from './commands/backends.js';
import { lmCommand } from './commands/lm.js';
import { saeCommand } from './commands/sae.js';
import { cacheCommand } from './commands/cache.js';
import { experimentCommand } from './commands/experiment.js';
import { steerCommand } from './commands/steer.js';
import { reportCommand } from './commands/report.js';
import { featuresCommand } from './commands/features.js';
import { exploreCommand } from './commands/explore.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const COMMANDS: CommandModule<any, any>[] = [backendsCommand, lmCommand, cacheCommand, saeCommand, steerCommand, experimentCommand, reportCommand, exploreCommand, featuresCommand];

export async function main(argv: string[]): Promise<void> {
  let cli = yargs(argv)
    .scriptName('gsae')
    .usage('$0 <command> [options]\n\nGradient-aware sparse dictionary learning on GPT-2.')
    .strict()
    // runs after the command's builder, so its array (repeatable) options are known; yargs passes
    // itself as the second argument, which @types/yargs does not declare
    .middleware(((_parsed: unknown, y: { getOptions(): { array: string[] } }) => {
      const twice = repeatedFlag(argv, new Set(y.getOptions().array.map(camel)));
      if (twice) throw new Error(`--${twice} is given more than once; give each flag once`);
    }) as unknown as MiddlewareFunction, true)
    .demandCommand(1, 'Name a command (see --help).')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) exitWithError(err);
      // yargs' own messages may span lines ("Invalid values:\n  Argument: ..."): one line here too
      const line = msg.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ');
      process.stderr.write(`gsae: ${line}${line.includes('--help') ? '' : " (see 'gsae --help')"}\n`);
      process.exit(2);
    });
  for (const c of COMMANDS) cli = cli.command(c);
  try {
    await cli.parseAsync();
  } catch (e) {
    // A synchronous handler's error escapes parseAsync instead of reaching .fail().
    exitWithError(e);
  }
}

/**
 * The first flag that occurs twice, else null. yargs merges repeats unpredictably (an array for
 * `--tokens 64 --tokens 0`, the sum 17 for `--seq-len 16 --seq-len 1`), so they are refused.
 * `--x`, `--no-x` and `--x=v` are the same flag, as are its kebab and camelCase spellings; array
 * options (`lm sample --steer a --steer b`) may repeat.
 */
function repeatedFlag(argv: string[], repeatable: Set<string>): string | null {
  const seen = new Set<string>();
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--(?:no-)?([^=]+)/.exec(a);
    if (!m) continue;
    const key = camel(m[1]!);
    if (seen.has(key) && !repeatable.has(key)) return m[1]!;
    seen.add(key);
  }
  return null;
}

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * One line on stderr, `gsae: <message>`, and a non-zero exit: 2 for errors, or the error's own
 * `exitCode` (130 for an interrupted run). GSAE_DEBUG=1 prints the stack as well.
 */
function exitWithError(e: unknown): never {
  const err = e instanceof Error ? e : new Error(String(e));
  const line = err.message.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ') || err.name;
  process.stderr.write(`gsae: ${line}\n`);
  if (process.env.GSAE_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
  const code = (err as { exitCode?: unknown }).exitCode;
  process.exit(typeof code === 'number' && code > 0 ? code : 2);
}
