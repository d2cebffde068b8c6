/** `gsae experiment <suite>`: train and compare a suite of SAEs end to end, then report. */
import type { CommandModule } from 'yargs';
import { consoleTable } from '../../experiments/report/tables.js';
import { TABLE_COLUMNS, reportFindings } from '../../experiments/report/report.js';
import { runExperiment } from '../../experiments/runner.js';
import { defaultPreset, getSuite, PRESET_NAMES, SUITES, suitePreset, type PresetName } from '../../experiments/suites.js';

interface Args {
  suite: string;
  preset?: PresetName;
  out?: string;
  cache: string;
  model?: string;
  seeds?: number[];
}

export const experimentCommand: CommandModule<object, Args> = {
  command: 'experiment <suite>',
  describe: 'Run an experiment suite end to end (store, SAE training, evaluation, report)',
  builder: (y) =>
    y
      .positional('suite', { type: 'string', choices: Object.keys(SUITES), describe: Object.values(SUITES).map((s) => `${s.name}: ${s.describe}`).join('; '), demandOption: true })
      .option('preset', { type: 'string', choices: PRESET_NAMES, describe: "quick: minutes on 2 cores; full: the complete sweep; paper: the 'paper' suite's one preset (default: the suite's quick preset, or its only one)" })
      .option('out', { type: 'string', describe: 'output folder (default runs/<suite>-<preset>; runs/paper for the paper suite)' })
      .option('cache', { type: 'string', default: '.cache', describe: 'folder for the default model and activation stores' })
      .option('model', { type: 'string', describe: 'HF GPT-2 directory to use instead of the default model' })
      .option('seeds', { type: 'number', array: true, describe: 'override the preset seeds' })
      .check((a) => {
        // checked here, not after minutes of building stores
        const bad = (a.seeds ?? []).find((s) => !Number.isSafeInteger(s) || s < 0);
        if (bad !== undefined) throw new Error(`--seeds must be non-negative integers, got ${String(bad)}`);
        if (a.seeds && a.seeds.length === 0) throw new Error('--seeds needs at least one seed');
        if (a.preset) suitePreset(getSuite(a.suite), a.preset); // a suite without that preset says which it has
        return true;
      })
      .example('$0 experiment gsae-vs-topk --preset quick', 'the README main job')
      .example('$0 experiment pareto --preset full --seeds 0 1 2', 'the full Pareto sweep')
      .example('$0 experiment paper', "both papers' questions, 3 seeds, about an hour (report in runs/paper)"),
  handler: async (a) => {
    const preset = a.preset ?? defaultPreset(getSuite(a.suite));
    const out = a.out ?? (preset === a.suite ? `runs/${a.suite}` : `runs/${a.suite}-${preset}`);
    const res = await runExperiment({ suite: a.suite, preset, out, cacheDir: a.cache, model: a.model, seeds: a.seeds });
    console.log(`\n${a.suite} (${preset}) on ${res.model.id}\n`);
    console.log(consoleTable(res.rows, TABLE_COLUMNS));
    console.log(`\nfindings (${res.config.seeds.length} seed(s); intervals: 95% seed-paired t):`);
    for (const s of reportFindings(a.suite, res.rows)) console.log(`- ${s.replace(/\*\*/g, '')}`);
    console.log(`\nreport: ${out}/report.md  results: ${out}/results.csv, ${out}/results.json  plots: ${out}/plots/`);
  },
};
