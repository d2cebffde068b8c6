/** Writes an experiment's results: JSON, CSV, SVG plots and a Markdown report. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barsWithIntervals, linePlot, paretoPlot } from './plots.js';
import { ablationFindings, ablationPairs, gsaeVsTopkFindings, gsaeVsTopkPairs, pairedDifferenceTable, paretoFindings } from './findings.js';
import { protocolParagraph, type ProtocolConfig } from './protocol.js';
import { frontierRows, gridRows, paperAnalysisSections, paperFindings, paperRowSections } from './paper.js';
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
  const grid = suite === 'paper' ? gridRows(rows) : rows;
  const frontier = suite === 'paper' ? frontierRows(rows) : rows;
  if (suite === 'gsae-vs-topk' || suite === 'paper') {
    files.push(['fvu_vs_k.svg', linePlot('FVU vs k', grid, 'k', 'fvu', 'group', { logX: true })]);
    files.push(['loss_added_vs_k.svg', linePlot('Loss added vs k', grid, 'k', 'loss_added', 'group', { logX: true })]);
    files.push(['dead_vs_k.svg', linePlot('Dead latent fraction vs k', grid, 'k', 'dead_fraction', 'group', { logX: true })]);
  }
  if (suite === 'pareto' || suite === 'paper') {
    files.push(['pareto_loss_recovered.svg', paretoPlot('L0 vs loss recovered (zero ablation)', frontier, 'l0', 'loss_recovered_zero', 'group')]);
    files.push(['pareto_fvu.svg', paretoPlot('L0 vs FVU', frontier, 'l0', 'fvu', 'group')]);
  }
  files.push(['steering.svg', barsWithIntervals('Steering: probability addition (95% CI over latents)', steerRows, 'run', 'steer', 'lo', 'hi')]);
  for (const [name, svg] of files) writeFileSync(join(dir, name), await svg);
  return files.map(([n]) => n);
}

/** The findings lines of a suite's report (also printed by `gsae experiment`). */
export function reportFindings(suite: string, rows: Row[]): string[] {
  if (suite === 'paper') return paperFindings(rows);
  return suite === 'gsae-vs-topk' ? gsaeVsTopkFindings(rows) : suite === 'pareto' ? paretoFindings(rows) : ablationFindings(rows);
}

export async function writeReport(outDir: string, meta: ReportMeta, rows: Row[]): Promise<void> {
  writeFileSync(join(outDir, 'results.json'), JSON.stringify({ meta, rows }, null, 2));
  writeFileSync(join(outDir, 'results.csv'), toCSV(rows));
  const figs = await plots(meta.suite, rows, join(outDir, 'plots'));
  const findings = reportFindings(meta.suite, rows);
  const cfg = meta.config as ProtocolConfig | undefined;
  const paired = meta.suite === 'gsae-vs-topk'
    ? ['## Paired differences (g-SAE − TopK, same k, same seed)', '', 'Each cell: mean difference over seeds [95% seed-paired t interval].', '', pairedDifferenceTable(gsaeVsTopkPairs(rows)), '']
    : meta.suite === 'ablations'
      ? ['## Paired differences (option − g-SAE β=1 reference, same k, same seed)', '', 'Each cell: mean difference over seeds [95% seed-paired t interval].', '', pairedDifferenceTable(ablationPairs(rows)), '']
      : [];
  const md = [
    `# ${meta.suite} (${meta.preset})`,
    '',
    `**Question.** ${meta.question}`,
    '',
    ...(cfg?.seeds && meta.suite !== 'pareto' ? [protocolParagraph(cfg, meta.suite === 'ablations' ? 'ablations' : 'gsae-vs-topk'), ''] : []),
    ...(meta.suite === 'paper'
      ? [...paperRowSections(rows), ...paperAnalysisSections(outDir)]
      : ['## Findings', '', ...findings.map((s) => `- ${s}`), '', ...paired]),
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
