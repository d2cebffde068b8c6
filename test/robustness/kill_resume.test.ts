/**
 * Kill at any moment: `gsae sae train`, `gsae cache` and `gsae lm train` run as real processes
 * and are sent SIGKILL or SIGINT at seeded random moments (checkpoints are written every step or
 * two, so many kills land while one is being written). Re-running the command (with --resume
 * where the command has it) must finish with files byte-identical to an uninterrupted run of the
 * same seed, leave no temporary files behind, and a SIGINT must end the process with exit code
 * 130 and one `gsae:` line.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { buildStore } from '../../sae/store/build.js';
import { bundleCli, errorLines, runCliProcess, seededRandom, startCli } from './cli_process.js';

/**
 * Per command, one trial per entry, each a list of (signal, when) sent in turn to the run and its
 * re-runs. 'any': a moment anywhere in the reference's wall time (start-up included); 'writing':
 * a moment after the first checkpoint appeared, while checkpoints are being written every step
 * or two.
 */
type When = 'any' | 'writing';
const SIGNALS: ['SIGKILL' | 'SIGINT', When][][] = [[['SIGKILL', 'any']], [['SIGINT', 'writing']], [['SIGKILL', 'writing'], ['SIGINT', 'writing']]];
let tmp: string;
let cli: { file: string; dispose(): void };
let corpus: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'gsae-kill-'));
  cli = await bundleCli();
  corpus = join(tmp, 'corpus.txt');
  writeFileSync(corpus, readFileSync('data/tinyshakespeare/input.txt', 'utf8').slice(0, 20_000));
});
afterAll(() => {
  cli?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** sha256 of each named file (relative to dir), or of every file in it when `files` is omitted. */
function digests(dir: string, files?: string[]): Record<string, string> {
  const names = files ?? readdirSync(dir).sort();
  return Object.fromEntries(names.map((n) => [n, createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')]));
}

/** Every `*.tmp-<pid>` / `*.old-<pid>` left under `dir`, and next to it (lm checkpoints are replaced as whole folders). */
function leftovers(dir: string): string[] {
  const found = readdirSync(dirname(dir)).filter((n) => n.startsWith(`${basename(dir)}.`)).map((n) => join(dirname(dir), n));
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (/\.(tmp|old)-\d+$/.test(e.name)) found.push(join(d, e.name));
      else if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(dir);
  return found;
}

interface KillCase {
  /** the command line of a fresh run into `out` */
  args(out: string): string[];
  /** the command line that continues it (given whether the killed run left a checkpoint) */
  resumeArgs(out: string): string[];
  /** the files whose bytes must match the uninterrupted run */
  result(out: string): Record<string, string>;
  /** a file that first appears with the first checkpoint */
  firstCheckpoint(out: string): string;
}

/** Calls `fn` once `file` exists (polled every 2 ms), then stops polling. */
function whenExists(file: string, fn: () => void): () => void {
  const timer = setInterval(() => {
    if (existsSync(file)) {
      clearInterval(timer);
      fn();
    }
  }, 2);
  return () => clearInterval(timer);
}

interface Trial {
  signal: 'SIGKILL' | 'SIGINT';
  when: When;
  atMs: number;
  code: number | null;
  gotSignal: NodeJS.Signals | null;
  tmpAfterKill: number;
}

/**
 * The uninterrupted reference, then one trial per SIGNALS entry: the run is sent each signal in
 * turn at a random moment ('any': in (5%, 80%) of the reference's wall time; 'writing': that
 * long after the first checkpoint appears, in (0%, 80%) of the reference's time from its first
 * checkpoint to its end), re-run after each, and finally re-run to the end.
 */
async function killAndResume(name: string, c: KillCase, seed: number): Promise<Trial[]> {
  const refOut = join(tmp, `${name}-ref`);
  const refRun = startCli(cli.file, c.args(refOut));
  let firstMs = 0;
  const t0 = performance.now();
  whenExists(c.firstCheckpoint(refOut), () => (firstMs = performance.now() - t0));
  const ref = await refRun.done;
  expect(ref.code, ref.stderr).toBe(0);
  expect(firstMs).toBeGreaterThan(0);
  const want = c.result(refOut);
  const rand = seededRandom(seed);
  const trials: Trial[] = [];
  for (const [i, signals] of SIGNALS.entries()) {
    const out = join(tmp, `${name}-${i}`);
    let args = c.args(out);
    for (const [signal, when] of signals) {
      // a loaded machine makes the wall times vary, so aim at the first 80%
      const atMs = when === 'any' ? (0.05 + 0.75 * rand()) * ref.ms : 0.8 * rand() * (ref.ms - firstMs);
      const run = startCli(cli.file, args);
      let timer: NodeJS.Timeout | undefined;
      const fire = () => (timer = setTimeout(() => run.child.kill(signal), atMs));
      const stopPolling = when === 'any' ? (fire(), () => {}) : whenExists(c.firstCheckpoint(out), fire);
      const r = await run.done;
      stopPolling();
      clearTimeout(timer);
      const trial: Trial = { signal, when, atMs: Math.round(atMs), code: r.code, gotSignal: r.signal, tmpAfterKill: leftovers(out).length };
      trials.push(trial);
      if (r.code === 0) break; // finished before the signal
      if (signal === 'SIGKILL') expect(r.signal, r.stderr).toBe('SIGKILL');
      else if (r.signal === null) {
        // the handler ran: a clean stop with exit 130 and one error line naming the interruption
        expect(r.code, r.stderr).toBe(130);
        const lines = errorLines(r.stderr);
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(/^gsae: interrupted/);
      } else expect(r.signal).toBe('SIGINT'); // before the handler was installed (process start-up)
      args = c.resumeArgs(out);
    }
    const fin = await runCliProcess(cli.file, c.resumeArgs(out));
    expect(fin.code, fin.stderr).toBe(0);
    expect(c.result(out), `${name} trial ${i}: ${JSON.stringify(trials.slice(-2))}`).toEqual(want);
    expect(leftovers(out)).toEqual([]);
  }
  return trials;
}

describe('kill at any moment, then resume: byte-identical results', () => {
  it('gsae sae train (g-SAE on a store, checkpoint every 2 steps)', async () => {
    // a synthetic store (d 16, 1024 rows with gradients): no model needed
    const store = join(tmp, 'store');
    const rng = new E.Rng(5);
    buildStore({
      dir: store, hook: 'blocks.0.hook_resid_pre', tokens: new Int32Array(1024), source: 'zeros', range: [0, 1024], seqLen: 16, batchSeqs: 8,
      seqsPerShard: 16, withGrad: true, modelId: 'synthetic',
      capture: (toks) => {
        const draw = () => E.tensor(Float32Array.from({ length: toks.size * 16 }, () => rng.normal()), [...toks.shape, 16]);
        return { acts: draw(), grads: draw() };
      },
    });
    const fresh = (out: string) => ['sae', 'train', '--data', store, '--out', out, '--variant', 'gsae', '--d-sae', '32', '--k', '4', '--steps', '80',
      '--batch-size', '32', '--init-samples', '64', '--checkpoint-every', '2', '--log-every', '5', '--seed', '3', '--progress', 'false'];
    const trials = await killAndResume('sae', {
      args: fresh,
      // a run killed before its first checkpoint starts over; otherwise it resumes
      resumeArgs: (out) => (existsSync(join(out, 'checkpoint.msgpack')) ? ['sae', 'train', '--data', store, '--out', out, '--resume', '--progress', 'false'] : fresh(out)),
      result: (out) => ({ ...digests(join(out, 'sae'), ['sae_weights.safetensors', 'cfg.json']), ...digests(out, ['checkpoint.msgpack']) }),
      firstCheckpoint: (out) => join(out, 'checkpoint.msgpack'),
    }, 101);
    console.log('sae train kills', JSON.stringify(trials));
  });

  it('gsae cache (default model, one shard per 2 sequences)', async () => {
    const trials = await killAndResume('cache', {
      args: (out) => ['cache', '--out', out, '--data', corpus, '--tokens', '640', '--seq-len', '32', '--batch-seqs', '2', '--seqs-per-shard', '2'],
      resumeArgs: (out) => ['cache', '--out', out, '--data', corpus, '--tokens', '640', '--seq-len', '32', '--batch-seqs', '2', '--seqs-per-shard', '2'],
      result: (out) => digests(out),
      firstCheckpoint: (out) => join(out, 'manifest.json'),
    }, 202);
    console.log('cache kills', JSON.stringify(trials));
  });

  it('gsae lm train (tiny char model, checkpoint every step)', async () => {
    const args = (out: string) => ['lm', 'train', '--preset', 'nanogpt-char', '--data', corpus, '--out', out, '--n-layer', '1', '--n-head', '2', '--n-embd', '16',
      '--block-size', '16', '--batch-size', '2', '--iters', '40', '--warmup-iters', '2', '--eval-interval', '10', '--eval-iters', '1', '--checkpoint-interval', '1'];
    const trials = await killAndResume('lm', {
      args,
      resumeArgs: (out) => [...args(out), '--resume'],
      result: (out) => digests(out, ['model.safetensors', 'optimizer.safetensors', 'config.json']),
      firstCheckpoint: (out) => join(out, 'trainer_state.msgpack'),
    }, 303);
    console.log('lm train kills', JSON.stringify(trials));
  });
});

