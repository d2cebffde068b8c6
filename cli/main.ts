/**
 * The gsae command line. Each subcommand lives in cli/commands/<name>.ts and exports a yargs
 * CommandModule; add new ones to COMMANDS below.
 */
import yargs, { type CommandModule } from 'yargs';
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
    .demandCommand(1, 'Name a command (see --help).')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) exitWithError(err);
      // yargs' own messages may span lines ("Invalid values:\n  Argument: ..."): one line here too
      process.stderr.write(`gsae: ${msg.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ')} (see 'gsae --help')\n`);
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
