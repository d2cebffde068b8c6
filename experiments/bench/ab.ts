/**
 * `node dist/experiments/bench/ab.js --a DIR --b DIR [--only REGEX] [--rounds R] [--steps N]`:
 * the same SAE step workloads (sae_step.ts) from two builds, alternated process by process
 * (A, B, A, B, …), each process timing N steps after 3 warm-up steps and reporting their median.
 * Prints, per workload, the medians of A and B and each round's B/A. DIR is a build's `dist`
 * folder (e.g. a `git worktree` of an older commit, built with `npx tsc -p tsconfig.build.json`).
 *
 * Why: this machine drifts by ±20% within minutes, so two builds timed one after the other
 * compare the machine's states as much as the builds; alternating them round by round and reading
 * the per-round ratios does not.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Args {
  a: string;
  b: string;
  only: RegExp;
  rounds: number;
  steps: number;
}

function parse(argv: readonly string[]): Args {
  const out: Partial<Args> = { only: /^sae\.(topk|gsae|batchtopk)\.step$/, rounds: 5, steps: 20 };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!, v = argv[i + 1];
    if (v === undefined) throw new Error(`ab: flag ${f} needs a value`);
    if (f === '--a' || f === '--b') {
      const dir = path.resolve(v);
      if (!existsSync(path.join(dir, 'experiments/bench/registry.js'))) throw new Error(`ab: ${f} ${v} is not a build's dist folder (no experiments/bench/registry.js in it)`);
      out[f === '--a' ? 'a' : 'b'] = dir;
    } else if (f === '--only') out.only = new RegExp(v);
    else if (f === '--rounds' || f === '--steps') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`ab: ${f} must be a positive integer, got ${v}`);
      out[f === '--rounds' ? 'rounds' : 'steps'] = n;
    } else throw new Error(`ab: unknown flag ${f} (known: --a DIR --b DIR --only REGEX --rounds R --steps N)`);
    i++;
  }
  if (!out.a || !out.b) throw new Error('ab: --a DIR and --b DIR (two builds\' dist folders) are required');
  return out as Args;
}

/** One process: the median ms of `steps` steps of workload `name` at width d, from build `dist`. */
async function child(dist: string, name: string, d: number, steps: number): Promise<void> {
  const E = await import(pathToFileURL(path.join(dist, 'engine/index.js')).href);
  const { allWorkloads } = await import(pathToFileURL(path.join(dist, 'experiments/bench/registry.js')).href);
  await import(pathToFileURL(path.join(dist, 'experiments/bench/sae_step.js')).href);
  E.setBackend('wasm');
  const w = (allWorkloads() as { name: string; shape: Record<string, number>; setup(): { step(): void; dispose(): void } }[]).find((x) => x.name === name && x.shape.d === d);
  if (!w) throw new Error(`ab: no workload ${name} with d = ${d} in ${dist}`);
  const { step, dispose } = w.setup();
  for (let i = 0; i < 3; i++) step();
  const t: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    t.push(performance.now() - t0);
  }
  dispose();
  process.stdout.write(`${t.sort((x, y) => x - y)[Math.floor(steps / 2)]}\n`);
}

const median = (x: readonly number[]): number => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;

export async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') return child(argv[1]!, argv[2]!, Number(argv[3]), Number(argv[4]));
  const args = parse(argv);
  const { allWorkloads } = await import(pathToFileURL(path.join(args.b, 'experiments/bench/registry.js')).href);
  await import(pathToFileURL(path.join(args.b, 'experiments/bench/sae_step.js')).href);
  const self = fileURLToPath(import.meta.url);
  for (const w of (allWorkloads() as { name: string; shape: Record<string, number> }[]).filter((x) => args.only.test(x.name))) {
    const d = w.shape.d!;
    // fewer steps at d768 (0.4 s each)
    const steps = d > 256 ? Math.max(3, Math.round(args.steps / 5)) : args.steps;
    const res: { a: number[]; b: number[] } = { a: [], b: [] };
    for (let r = 0; r < args.rounds; r++) {
      for (const which of ['a', 'b'] as const) {
        const out = execFileSync(process.execPath, [self, '--child', args[which], w.name, String(d), String(steps)]).toString();
        res[which].push(Number(out.trim()));
      }
    }
    console.log(
      `${w.name} d${d}: A ${median(res.a).toFixed(1)} ms, B ${median(res.b).toFixed(1)} ms per step; B/A per round ${res.b.map((v, i) => (v / res.a[i]!).toFixed(2)).join(' ')} (median ${median(res.b.map((v, i) => v / res.a[i]!)).toFixed(2)})`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
