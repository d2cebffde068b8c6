/**
 * `gsae lm` (parsed by yargs in-process, output captured) and the progress bar.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli_helpers.js';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { lmCommand } from '../../cli/commands/lm.js';
import { Progress, formatDuration } from '../../engine/io/progress.js';
import { forward, lmLoss, tokensTensor } from '../../models/gpt2/model.js';
import { loadHfDir } from '../../models/gpt2/params.js';

const tmp = mkdtempSync(join(tmpdir(), 'gsae-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (argv: string[]) => runCli(lmCommand, argv);

describe('gsae lm eval', () => {
  it('--json prints the mean next-token loss and the last logits', async () => {
    const dir = 'test/fixtures/gpt2-debug';
    const lines = await run(['lm', 'eval', '--model', dir, '--tokens', '5, 17,400,3', '--json']);
    expect(lines.length).toBe(1);
    const j = JSON.parse(lines[0]!);
    const { cfg, params } = loadHfDir(dir);
    E.tidy(() => {
      const x = tokensTensor(cfg, [5, 17, 400, 3]);
      const lg = forward(params, cfg, x);
      expect(j.loss).toBe(lmLoss(lg, x, undefined, 'mean').item());
      expect(j.logits).toEqual(Array.from(lg.toArray().slice(3 * 512)));
    });
    E.dispose(params);
  });

  it('gives clear errors', async () => {
    const dir = 'test/fixtures/gpt2-debug';
    await expect(run(['lm', 'eval', '--model', dir, '--tokens', '1,2,512'])).rejects.toThrow(/token id 512 at position 2 is out of the vocabulary \[0, 512\)/);
    await expect(run(['lm', 'eval', '--model', dir, '--tokens', '1,two'])).rejects.toThrow(/'two' is not an integer token id/);
    await expect(run(['lm', 'eval', '--model', dir])).rejects.toThrow(/exactly one of --tokens, --text or --data/);
    await expect(run(['lm', 'eval', '--model', join(tmp, 'missing'), '--tokens', '1'])).rejects.toThrow(/does not exist/);
    await expect(run(['lm', 'eval', '--model', dir, '--tokens', '1', '--bogus'])).rejects.toThrow(/Unknown argument: bogus/);
    await expect(run(['lm'])).rejects.toThrow(/Name an lm command/);
    await expect(run(['lm', 'train', '--out', join(tmp, 'x'), '--lr', 'fast'])).rejects.toThrow(/--lr expects a number/);
    await expect(run(['lm', 'train', '--out', join(tmp, 'x'), '--tokenizer', 'words'])).rejects.toThrow(/--tokenizer must be char, gpt2 or gpt2-restricted/);
    await expect(run(['lm', 'train', '--out', join(tmp, 'x'), '--rng', 'numpy'])).rejects.toThrow(/--rng must be gsae or torch/);
    await expect(run(['lm', 'train', '--out', join(tmp, 'x'), '--rng', 'torch', '--seed', '-3'])).rejects.toThrow(/--seed must be >= 0 with --rng torch/);
    await expect(run(['lm', 'sample', '--model', dir, '--top-k', '0'])).rejects.toThrow(/--top-k must be an integer >= 1/);
  });
});

describe('gsae lm train / sample / eval --data', () => {
  it('trains a tiny char model, samples from it and evaluates a split', async () => {
    const corpus = join(tmp, 'c.txt');
    writeFileSync(corpus, readFileSync('data/tinyshakespeare/input.txt', 'utf8').slice(0, 20000));
    const out = join(tmp, 'm');
    const args = ['lm', 'train', '--preset', 'nanogpt-char', '--data', corpus, '--out', out, '--n-layer', '1', '--n-head', '2', '--n-embd', '16',
      '--block-size', '16', '--batch-size', '2', '--iters', '6', '--warmup-iters', '1', '--eval-interval', '3', '--eval-iters', '1', '--json'];
    const lines = await run(args);
    const res = JSON.parse(lines.at(-1)!);
    expect(res.completed).toBe(true);
    expect(res.step).toBe(6);
    const summary = JSON.parse(readFileSync(join(out, 'train_summary.json'), 'utf8'));
    expect(summary.options.decayIters).toBe(6); // --iters sets the cosine length too
    expect(summary.options.nEmbd).toBe(16);

    const s1 = JSON.parse((await run(['lm', 'sample', '--model', out, '--prompt', 'ROMEO:', '--max-new-tokens', '12', '--seed', '4', '--json']))[0]!);
    const s2 = JSON.parse((await run(['lm', 'sample', '--model', out, '--prompt', 'ROMEO:', '--max-new-tokens', '12', '--seed', '4', '--json']))[0]!);
    expect(s1).toEqual(s2);
    expect(s1.ids.length).toBe(12);
    expect(typeof s1.text).toBe('string');
    expect(s1.text.length).toBe(12); // char model: one character per token
    await expect(run(['lm', 'sample', '--model', out, '--prompt', 'é'])).rejects.toThrow(/character "é" is not in this model's/);

    const ev = JSON.parse((await run(['lm', 'eval', '--model', out, '--data', corpus, '--json']))[0]!);
    expect(ev.split).toBe('val');
    expect(ev.tokens).toBe(Math.floor((2000 - 1) / 16) * 16); // 2,000 validation characters, 16-token blocks
    expect(ev.loss).toBeGreaterThan(1);
    expect(ev.loss).toBeLessThan(Math.log(64) + 0.5);
  });
});

describe('progress bar', () => {
  it('shows position, tokens/s, loss, elapsed and ETA, then a summary', () => {
    let t = 0;
    const out: string[] = [];
    const p = new Progress({ total: 100, label: 'train', stream: { write: (s: string) => (out.push(s), true) }, tty: false, plainEverySeconds: 0, now: () => t });
    t = 10_000;
    p.update({ done: 25, loss: 2.5, tokensPerItem: 768 });
    // 25 items in 10 s: 2.5 it/s × 768 = 1920 tok/s; 75 left → 30 s.
    expect(out[0]).toBe('train 25/100 | 1920 tok/s | loss 2.5000 | 00:10<00:30\n');
    p.log('a message');
    expect(out[1]).toBe('a message\n');
    t = 40_000;
    p.update({ done: 100, loss: 1.25 });
    p.finish('val loss 1.3');
    expect(out.at(-1)).toBe('train done 100 in 00:40 (2.50 it/s, 1920 tok/s) — val loss 1.3\n');
    expect(formatDuration(3725)).toBe('1:02:05');
  });

  it('redraws in place on a terminal and counts only this session when resumed', () => {
    let t = 0;
    const out: string[] = [];
    const p = new Progress({ total: 10, start: 5, stream: { write: (s: string) => (out.push(s), true), columns: 80 }, tty: true, now: () => t });
    t = 1000;
    p.update({ done: 6 });
    expect(out[0]!.startsWith('\r\x1b[2K')).toBe(true);
    expect(out[0]).toContain('6/10 | 1.00 it/s');
    expect(out[0]).toContain('00:01<00:04');
  });
});
