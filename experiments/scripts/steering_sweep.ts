/**
 * The steering investigation on the SAEs an experiment already trained (issue 12, item 3): the
 * command line over experiments/eval/steering_investigation.ts (protocol, diagnostics and the
 * per-SAE cache `runs/<id>-s<seed>/steering_sweep.json` are described there). Prints the pair
 * table (g-SAE/TopK ratio per seed with its 95% t interval over seeds, seed-paired difference) on
 * stdout, progress on stderr; `--diagnostics` adds the diagnostics table; `--out` writes the JSON.
 * Interrupted runs resume: re-running the same command computes only the missing cells.
 *
 *   npm run build
 *   node dist/experiments/scripts/steering_sweep.js runs/gsae-vs-topk-quick [--ids topk-k32,gsae-k32-b1] \
 *     [--cs 0.5,1,2,4,8] [--latents 32] [--top-n 10] [--seeds 0,1] [--diagnostics] [--out sweep.json]
 *
 * Defaults: every g-SAE with the TopK of its k, c ∈ {0.5, 1, 2, 4, 8}, 32 latents, top 10 tokens.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { diagnosticTableLines, steeringInvestigation, steeringTableLines } from '../eval/steering_investigation.js';

function arg(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

const list = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map(Number));

/** The command: `argv` without node and the script; tables on stdout (via `out`), progress on stderr. */
export async function main(argv: string[], out: (s: string) => void = (s) => console.log(s)): Promise<void> {
  const dir = argv[0];
  if (!dir || dir.startsWith('--')) throw new Error(`usage: steering_sweep.js <experiment dir with results.json> [--ids a,b] [--cs ...] [--latents N] [--top-n N] [--seeds ...] [--diagnostics] [--out file]; got '${dir ?? ''}'`);
  const ids = arg(argv, '--ids')?.split(',');
  const cs = list(arg(argv, '--cs'));
  if (cs?.some((c) => !(c > 0))) throw new Error(`--cs: every c must be a positive number, got ${arg(argv, '--cs')}`);
  const latents = arg(argv, '--latents');
  const topN = arg(argv, '--top-n');
  const r = steeringInvestigation(dir, {
    ids, cs, seeds: list(arg(argv, '--seeds')),
    latents: latents === undefined ? undefined : Number(latents), topN: topN === undefined ? undefined : Number(topN),
    log: (s) => process.stderr.write(`${s}\n`),
  });
  const table = steeringTableLines(r);
  out(table.join('\n'));
  if (argv.includes('--diagnostics')) out(['', ...diagnosticTableLines(r)].join('\n'));
  const file = arg(argv, '--out');
  if (file) {
    const { dir: d, hook, meanNorm, cs: c, latents: L, topN: n, rows, diagnostics, diagnosticTable } = r;
    writeFileSync(file, JSON.stringify({ dir: d, hook, meanNorm, cs: c, latents: L, topN: n, rows, table, diagnostics, diagnosticTable: diagnosticTableLines({ diagnosticTable }) }, null, 1) + '\n');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
