/**
 * `node dist/experiments/bench/gpu/summarise.js WORK OUT`: the GPU check's figures in one file.
 * run_gpu_check.sh records each step in WORK/steps.jsonl ({name, rc, seconds, timeout}) with its
 * output in WORK/logs/<name>.txt; this writes OUT/gpu_check.json: the machine (GPU or "no GPU"),
 * every step's status and output tail, the Dawn probe's result, the equivalence suite's counts
 * (vitest's JSON report) and skipped modes, and the benchmark lines (ours and PyTorch's) with the
 * SAE-step ratios against each PyTorch peer.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface Step {
  name: string;
  rc: number;
  seconds: number;
  timeout: number;
}

const [work, out] = process.argv.slice(2);
if (!work || !out) {
  console.error('usage: summarise.js WORK OUT');
  process.exit(2);
}

const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
const jsonLines = (text: string): Record<string, unknown>[] =>
  text.split('\n').flatMap((l) => {
    const t = l.trim();
    if (!t.startsWith('{')) return [];
    try {
      return [JSON.parse(t) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

const steps = jsonLines(read(path.join(work, 'steps.jsonl'))) as unknown as Step[];
const log = (name: string) => read(path.join(work, 'logs', `${name}.txt`));
const tail = (s: string, n = 3000) => (s.length > n ? `…${s.slice(-n)}` : s);

const gpuText = log('gpu').trim();
const gpuStep = steps.find((s) => s.name === 'gpu');
const gpu = gpuStep && gpuStep.rc === 0 && gpuText ? gpuText.split('\n').filter(Boolean) : null;

const dawn = jsonLines(log('dawn')).at(-1) ?? null;

// vitest --reporter=json
interface VitestReport {
  numTotalTests?: number;
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  success?: boolean;
  testResults?: { assertionResults?: { ancestorTitles?: string[]; status?: string; fullName?: string }[] }[];
}
let equivalence: Record<string, unknown> | null = null;
const testedModes = new Map<string, { passed: number; failed: number }>();
const failedTests: string[] = [];
const eqFile = path.join(out, 'equivalence.json');
if (existsSync(eqFile)) {
  try {
    const r = JSON.parse(readFileSync(eqFile, 'utf8')) as VitestReport;
    equivalence = { total: r.numTotalTests, passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests, success: r.success };
    // each test sits under a "mode <name>" describe block
    for (const a of (r.testResults ?? []).flatMap((t) => t.assertionResults ?? [])) {
      const mode = (a.ancestorTitles ?? []).map((t) => /^mode (\S+)$/.exec(t)?.[1]).find(Boolean);
      if (!mode) continue;
      const e = testedModes.get(mode) ?? { passed: 0, failed: 0 };
      if (a.status === 'passed') e.passed++;
      else if (a.status === 'failed') {
        e.failed++;
        failedTests.push(a.fullName ?? '?');
      }
      testedModes.set(mode, e);
    }
  } catch (e) {
    equivalence = { error: `unreadable vitest report: ${(e as Error).message}` };
  }
}
const skippedModes = [...log('equivalence').matchAll(/\[gpujs equivalence\] mode skipped — (.*)/g)].map((m) => m[1]!.trim());

// bench lines: ours (gsae-*) and the peers'
const bench = jsonLines(read(path.join(out, 'bench.jsonl')));
const shapeKey = (l: Record<string, unknown>) => JSON.stringify(['d', 'm', 'k', 'batch'].map((k) => l[k]));
const ratios = bench
  .filter((l) => l.peer === 'gsae-wasm' && String(l.workload).startsWith('sae.'))
  .map((l) => {
    const peers = bench.filter((p) => String(p.peer).startsWith('torch') && p.workload === l.workload && shapeKey(p) === shapeKey(l));
    return {
      workload: l.workload, d: l.d, m: l.m, k: l.k, batch: l.batch, gsae_wasm_tokens_per_s: l.value, peak_bytes: l.peak_bytes,
      vs: Object.fromEntries(peers.map((p) => [String(p.peer), { tokens_per_s: p.value, ratio: Number(l.value) / Number(p.value) }])),
    };
  });

const summary = {
  gpu: gpu ?? 'no GPU',
  generated_at: new Date().toISOString(),
  pack: (() => {
    try {
      return JSON.parse(read(path.join(work, 'PACK.json'))) as unknown;
    } catch {
      return null;
    }
  })(),
  steps: steps.map((s) => ({ ...s, status: s.rc === 0 ? 'ok' : s.rc === 124 ? 'timed out' : `exit ${s.rc}`, output_tail: tail(log(s.name)) })),
  dawn,
  equivalence: { ...(equivalence ?? { report: 'none' }), tested_modes: Object.fromEntries(testedModes), failed_tests: failedTests.slice(0, 50), skipped_modes: skippedModes },
  bench: { lines: bench, sae_ratios: ratios },
};
writeFileSync(path.join(out, 'gpu_check.json'), `${JSON.stringify(summary, null, 1)}\n`);
console.log(`gpu check: ${gpu ? gpu.join('; ') : 'no GPU'}; Dawn: ${dawn ? (dawn.ok ? `ok (${JSON.stringify((dawn as { adapter?: unknown }).adapter)})` : `${String(dawn.stage)}: ${String(dawn.error)}`) : 'not run'}; ` +
  `equivalence: ${equivalence ? `${String(equivalence.passed ?? '?')}/${String(equivalence.total ?? '?')} passed on ${[...testedModes.keys()].join(', ') || 'no mode'}` : 'no report'}; ` +
  `bench: ${bench.length} lines, ${ratios.length} SAE ratios → ${path.join(out, 'gpu_check.json')}`);
