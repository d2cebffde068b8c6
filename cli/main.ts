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
      if (err) {
        process.stderr.write(`gsae: ${err.message}\n`);
      } else {
        process.stderr.write(`gsae: ${msg}\nRun 'gsae --help' for usage.\n`);
      }
      process.exit(2);
    });
  for (const c of COMMANDS) cli = cli.command(c);
  await cli.parseAsync();
}
