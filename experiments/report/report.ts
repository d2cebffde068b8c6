/** Writes an experiment's results: JSON, CSV, SVG plots and a Markdown report. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barsWithIntervals, linePlot, paretoPlot } from './plots.js';
import { ablationFindings, gsaeVsTopkFindings, paretoFindings } from './findings.js';
import { markdownTable, toCSV, type Column, type Row } from './tables.js';

export const TABLE_COLUMNS: Column[] = [
  { key: 'id', title: 'run' },
  { key: 'seed' },
  { key: 'l0', title: 'L0', digits: 3 },
  { key: 'fvu', title: 'FVU' },
  { key: 'loss_added', title: 'loss added' },
  { key: 'loss_recovered_zero', title: 'recovered (zero)' },
  { key: 'kl', title: 'KL' },
  { key: 'dead_fraction', title: 'dead', digits: 3 },
  { key: 'gamma', title: 'γ' },
  { key: 'steer_mean', title: 'steer', digits: 3 },
];

export interface ReportMeta {
  suite: string;
  preset: string;
  question: string;
  [k: string]: unknown;
}

async function plots(suite: string, rows: Row[], dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files: [string, Promise<string>][] = [];
  const steerRows = rows.map((r) => ({ run: `${r.id} s${r.seed}`, steer: r.steer_mean as number, lo: r.steer_lo as number, hi: r.steer_hi as number }));
  if (suite === 'gsae-vs-topk') {
    files.push(['fvu_vs_k.svg', linePlot('FVU vs k', rows, 'k', 'fvu', 'group', { logX: true })]);
    files.push(['loss_added_vs_k.svg', linePlot('Loss added vs k', rows, 'k', 'loss_added', 'group', { logX: true })]);
    files.push(['dead_vs_k.svg', linePlot('Dead latent fraction vs k', rows, 'k', 'dead_fraction', 'group', { logX: true })]);
  } else if (suite === 'pareto') {
    files.push(['pareto_loss_recovered.svg', paretoPlot('L0 vs loss recovered (zero ablation)', rows, 'l0', 'loss_recovered_zero', 'group')]);
    files.push(['pareto_fvu.svg', paretoPlot('L0 vs FVU', rows, 'l0', 'fvu', 'group')]);
  }
  files.push(['steering.svg', barsWithIntervals('Steering: probability addition (95% CI over latents)', steerRows, 'run', 'steer', 'lo', 'hi')]);
  for (const [name, svg] of files) writeFileSync(join(dir, name), await svg);
  return files.map(([n]) => n);
}

export async function writeReport(outDir: string, meta: ReportMeta, rows: Row[]): Promise<void> {
  writeFileSync(join(outDir, 'results.json'), JSON.stringify({ meta, rows }, null, 2));
  writeFileSync(join(outDir, 'results.csv'), toCSV(rows));
  const figs = await plots(meta.suite, rows, join(outDir, 'plots'));
  const findings = meta.suite === 'gsae-vs-topk' ? gsaeVsTopkFindings(rows) : meta.suite === 'pareto' ? paretoFindings(rows) : ablationFindings(rows);
  const md = [
    `# ${meta.suite} (${meta.preset})`,
    '',
    `**Question.** ${meta.question}`,
    '',
    '## Findings',
    '',
    ...findings.map((s) => `- ${s}`),
    '',
    'Uncertainty: steering intervals are 95% normal-approximation intervals over the sampled latents; ' +
      'metric differences are called resolved only with two or more seeds and a gap above two standard errors.',
    '',
    '## Results',
    '',
    markdownTable(rows, TABLE_COLUMNS),
    '',
    `Full metrics: \`results.csv\`, \`results.json\`; per-run logs and SAELens exports under \`runs/\`.`,
    '',
    '## Figures',
    '',
    ...figs.map((f) => `![${f}](plots/${f})`),
    '',
    '## Setup',
    '',
    '```json',
    JSON.stringify(meta, null, 2),
    '```',
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'report.md'), md);
}
