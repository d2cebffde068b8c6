/**
 * Short pilot runs for choosing the default model's size by validation loss per CPU time
 * (issue 12). Each candidate (layers × width, heads of 64) trains on the mixed corpus with the
 * same batch, a constant LR after warm-up (so a run cut at any point is a fair sample of its
 * curve) and is stopped once its training steps have used `--budget` CPU-seconds (this process'
 * user + system time, worker threads included, evaluation excluded: CPU time, unlike wall time,
 * barely depends on what else runs on a shared machine). The held-out loss is estimated every
 * `--eval-every` steps; the table gives, per candidate, CPU-s per step, steps and tokens done and
 * the validation loss at the budget.
 *
 *   npm run build
 *   node dist/experiments/scripts/lm_pilots.js [--budget 240] [--eval-every 10] [--batch 8] \
 *     [--out .cache/lm-pilots] 4x128 4x256 6x256
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { train } from '../../models/gpt2/train.js';
import { MIXED_CORPUS, MIX_MODEL_PRESET } from '../../models/gpt2/presets.js';

export interface PilotPoint { step: number; tokens: number; cpuSeconds: number; valLoss: number; trainLoss: number }
export interface PilotResult { name: string; nLayer: number; nEmbd: number; params: number; cpuPerStep: number; points: PilotPoint[] }

/** "6x256" → 6 layers, width 256 (heads of 64, at least one). */
export function parseCandidate(s: string): { nLayer: number; nEmbd: number } {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`pilot candidate '${s}': expected LAYERSxWIDTH, e.g. 6x256`);
  return { nLayer: Number(m[1]), nEmbd: Number(m[2]) };
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function pilot(name: string, budget: number, evalEvery: number, batch: number, outRoot: string): Promise<PilotResult> {
  const { nLayer, nEmbd } = parseCandidate(name);
  const out = join(outRoot, name);
  rmSync(out, { recursive: true, force: true });
  let cpu0 = 0;
  let evalCpu = 0;
  let lastStepCpu = 0;
  let params = 0;
  let steps = 0;
  const points: PilotPoint[] = [];
  const trainCpu = () => lastStepCpu - cpu0 - evalCpu;
  await train(
    {
      ...MIX_MODEL_PRESET, data: MIXED_CORPUS, out, nLayer, nEmbd, nHead: Math.max(1, nEmbd / 64), batchSize: batch,
      lr: 1e-3, minLr: 1e-3, decay: 'constant', warmupIters: 20, iters: 1_000_000, decayIters: 1_000_000,
      evalInterval: evalEvery, evalIters: 8, checkpointInterval: 0,
    },
    {
      onStart: (i) => { params = i.params; cpu0 = cpuNow(); lastStepCpu = cpu0; },
      onStep: (s) => { lastStepCpu = cpuNow(); steps = s.step; },
      // evaluation runs before the step it is numbered with, after the previous onStep
      onEval: (e) => {
        evalCpu += cpuNow() - lastStepCpu;
        lastStepCpu = cpuNow();
        points.push({ step: e.step, tokens: e.step * batch * MIX_MODEL_PRESET.blockSize, cpuSeconds: trainCpu(), valLoss: e.valLoss, trainLoss: e.trainLoss });
        process.stderr.write(`${name} step ${e.step}: val ${e.valLoss.toFixed(4)} after ${trainCpu().toFixed(0)} CPU-s\n`);
      },
      shouldStop: () => steps % evalEvery === 0 && trainCpu() >= budget,
    },
  );
  const last = points[points.length - 1]!;
  return { name, nLayer, nEmbd, params, cpuPerStep: last.cpuSeconds / Math.max(1, last.step), points };
}

async function main(argv: string[]): Promise<void> {
  const opt = (flag: string, d: number) => {
    const i = argv.indexOf(flag);
    if (i < 0) return d;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} expects a positive number, got '${argv[i + 1]}'`);
    argv.splice(i, 2);
    return v;
  };
  const budget = opt('--budget', 240);
  const evalEvery = opt('--eval-every', 10);
  const batch = opt('--batch', 8);
  const oi = argv.indexOf('--out');
  const outRoot = oi >= 0 ? argv.splice(oi, 2)[1]! : '.cache/lm-pilots';
  const names = argv.length ? argv : ['4x128', '4x256', '6x256'];
  names.forEach(parseCandidate);
  mkdirSync(outRoot, { recursive: true });
  const results: PilotResult[] = [];
  for (const n of names) {
    results.push(await pilot(n, budget, evalEvery, batch, outRoot));
    writeFileSync(join(outRoot, 'pilots.json'), JSON.stringify({ budget, evalEvery, batch, corpus: MIXED_CORPUS, results }, null, 1));
  }
  console.log(`| candidate | params | CPU-s/step | steps | tokens | CPU-s | val loss |\n|---|---|---|---|---|---|---|`);
  for (const r of results) {
    const p = r.points[r.points.length - 1]!;
    console.log(`| ${r.name} | ${r.params.toLocaleString('en-US')} | ${r.cpuPerStep.toFixed(2)} | ${p.step} | ${p.tokens.toLocaleString('en-US')} | ${p.cpuSeconds.toFixed(0)} | ${p.valLoss.toFixed(4)} |`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
