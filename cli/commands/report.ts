/** `gsae report <dir>`: rebuild report.md, CSV and plots of an experiment from its results.json. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { writeReport, TABLE_COLUMNS, type ReportMeta } from '../../experiments/report/report.js';
import { consoleTable, type Row } from '../../experiments/report/tables.js';

export const reportCommand: CommandModule<object, { dir: string }> = {
  command: 'report <dir>',
  describe: "Rebuild an experiment's report, CSV and plots from its results.json and print its table",
  builder: (y) => y.positional('dir', { type: 'string', demandOption: true, describe: 'experiment output folder' }),
  handler: async (a) => {
    const path = join(a.dir, 'results.json');
    if (!existsSync(path)) throw new Error(`${a.dir} has no results.json (run 'gsae experiment' first)`);
    let parsed: { meta?: ReportMeta; rows?: Row[] };
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8')) as typeof parsed;
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
    const { meta, rows } = parsed ?? {};
    if (!meta || typeof meta !== 'object' || !Array.isArray(rows)) throw new Error(`${path}: expected {meta, rows[]} as 'gsae experiment' writes it`);
    await writeReport(a.dir, meta, rows);
    console.log(consoleTable(rows, TABLE_COLUMNS));
    console.log(`\nwrote ${a.dir}/report.md`);
  },
};
