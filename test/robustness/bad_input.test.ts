/**
 * Bad input, everywhere a user can give it: every `gsae` command is run through its real entry
 * point (cli/main.ts, see run_main.ts) with wrong or missing flags, bad numbers, missing or
 * corrupt files. Each must end with exactly one `gsae: ...` line naming the problem, a non-zero
 * exit code, no stack trace and no output written as if it had worked.
 *
 * GSAE_BAD_INPUT_TABLE=<file> writes the markdown table of every case and its message.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { buildStore } from '../../sae/store/build.js';
import { readManifest, writeManifest } from '../../sae/store/manifest.js';
import { runMain } from './run_main.js';

const tmp = mkdtempSync(join(tmpdir(), 'gsae-bad-'));
const P = (...p: string[]) => join(tmp, ...p);
const D = 16;
const table: { command: string; input: string; message: string }[] = [];

afterAll(() => {
  const out = process.env.GSAE_BAD_INPUT_TABLE;
  if (out) {
    const esc = (s: string) => s.replaceAll('|', '\\|').replaceAll(tmp, '$TMP');
    writeFileSync(out, ['| command | bad input | message |', '|---|---|---|', ...table.map((r) => `| \`${r.command}\` | ${esc(r.input)} | \`${esc(r.message)}\` |`)].join('\n') + '\n');
  }
  rmSync(tmp, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------
// Fixtures: a small synthetic store, safetensors files, model folders, corpora, an SAE.

/** A safetensors file from a raw header object and buffer (to write headers no writer would). */
function rawSafetensors(header: unknown, buffer: Uint8Array, headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(buffer, 8 + json.length);
  return out;
}

const ROWS = 256;
const rng = new E.Rng(9);
const xs = Float32Array.from({ length: ROWS * D }, () => rng.normal());
const gs = Float32Array.from({ length: ROWS * D }, () => rng.normal());
const xBytes = new Uint8Array(xs.buffer);

beforeAll(async () => {
  // the store: 512 rows × 16 with gradients, 4 shards
  const r = new E.Rng(3);
  buildStore({
    dir: P('store'), hook: 'blocks.0.hook_resid_pre', tokens: new Int32Array(512), source: 'synthetic', range: [0, 512], seqLen: 16, batchSeqs: 8,
    seqsPerShard: 8, withGrad: true, modelId: 'synthetic',
    capture: (t) => {
      const draw = () => E.tensor(Float32Array.from({ length: t.size * D }, () => r.normal()), [...t.shape, D]);
      return { acts: draw(), grads: draw() };
    },
  });
  const storeCopy = (name: string, edit: (dir: string) => void) => {
    cpSync(P('store'), P(name), { recursive: true });
    edit(P(name));
  };
  mkdirSync(P('not-a-store'));
  storeCopy('store-manifest-json', (d) => writeFileSync(join(d, 'manifest.json'), '{"format": "gsae-store", "shards": ['));
  storeCopy('store-manifest-format', (d) => writeFileSync(join(d, 'manifest.json'), JSON.stringify({ ...readManifest(d), format: 'other', version: 7 })));
  storeCopy('store-incomplete', (d) => writeManifest(d, { ...readManifest(d), complete: false }));
  storeCopy('store-shard-truncated', (d) => truncateSync(join(d, 'shard_00001.bin'), 1000));
  storeCopy('store-shard-magic', (d) => {
    const b = readFileSync(join(d, 'shard_00002.bin'));
    b.write('NOTASHRD', 0, 'latin1');
    writeFileSync(join(d, 'shard_00002.bin'), b);
  });
  storeCopy('store-shard-nan', (d) => {
    const b = readFileSync(join(d, 'shard_00000.bin'));
    b.writeFloatLE(NaN, 32 + 4 * 37);
    writeFileSync(join(d, 'shard_00000.bin'), b);
  });
  storeCopy('store-shard-missing', (d) => rmSync(join(d, 'shard_00003.bin')));
  storeCopy('store-shard-rows', (d) => {
    const m = readManifest(d);
    m.shards[1]!.rows = 100;
    writeManifest(d, m);
  });
  storeCopy('store-shard-path', (d) => {
    const m = readManifest(d);
    m.shards[0]!.file = '../store/shard_00000.bin';
    writeManifest(d, m);
  });
  storeCopy('store-no-shards', (d) => writeManifest(d, { ...readManifest(d), shards: [] }));
  storeCopy('store-manifest-shards', (d) => writeFileSync(join(d, 'manifest.json'), JSON.stringify({ ...readManifest(d), shards: 'all of them' })));

  // safetensors activations: valid, and every kind of corruption
  const x = { dtype: 'F32', shape: [ROWS, D], data_offsets: [0, xBytes.length] };
  const both = new Uint8Array(2 * xBytes.length);
  both.set(xBytes);
  both.set(new Uint8Array(gs.buffer), xBytes.length);
  E.writeSafetensors(P('acts.safetensors'), { x: { shape: [ROWS, D], data: xs }, g: { shape: [ROWS, D], data: gs } });
  E.writeSafetensors(P('x-only.safetensors'), { x: { shape: [ROWS, D], data: xs } });
  const st = (name: string, bytes: Uint8Array) => writeFileSync(P(`${name}.safetensors`), bytes);
  st('st-header-length', rawSafetensors({ x }, xBytes, 1 << 30));
  st('st-short', new Uint8Array([1, 2, 3]));
  st('st-json', (() => {
    const b = rawSafetensors({ x }, xBytes);
    b[8] = 0x78; // 'x' where the header's opening '{' was: no longer JSON
    return b;
  })());
  st('st-offsets-range', rawSafetensors({ x: { ...x, data_offsets: [0, xBytes.length + 64] } }, xBytes));
  st('st-offsets-overlap', rawSafetensors({ x, g: { ...x, data_offsets: [64, 64 + xBytes.length] } }, both));
  st('st-shape-bytes', rawSafetensors({ x: { ...x, shape: [ROWS, D + 1] } }, xBytes));
  st('st-dtype', rawSafetensors({ x: { ...x, dtype: 'F8_E4M3' } }, xBytes));
  st('st-negative-shape', rawSafetensors({ x: { ...x, shape: [-ROWS, D] } }, xBytes));
  st('st-truncated', rawSafetensors({ x }, xBytes.subarray(0, 1000)));
  st('st-offsets-beyond', rawSafetensors({ x: { ...x, data_offsets: [xBytes.length, 2 * xBytes.length] } }, xBytes));
  st('st-offsets-negative', rawSafetensors({ x: { ...x, data_offsets: [-8, xBytes.length - 8] } }, xBytes));
  st('st-1d', rawSafetensors({ x: { ...x, shape: [ROWS * D] } }, xBytes));
  st('st-noname', rawSafetensors({ layer3: x }, xBytes));
  st('st-int', rawSafetensors({ x: { ...x, dtype: 'I32' } }, xBytes));
  st('st-nan', (() => {
    const bad = Float32Array.from(xs);
    bad[100] = NaN;
    return E.serializeSafetensors({ x: { shape: [ROWS, D], data: bad } });
  })());
  st('st-empty-rows', E.serializeSafetensors({ x: { shape: [0, D], data: new Float32Array(0) } }));
  st('st-g-shape', E.serializeSafetensors({ x: { shape: [ROWS, D], data: xs }, g: { shape: [ROWS, D / 2], data: gs.subarray(0, (ROWS * D) / 2) } }));

  // model folders
  mkdirSync(P('model-bert'));
  writeFileSync(P('model-bert', 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: 768 }));
  mkdirSync(P('model-json'));
  writeFileSync(P('model-json', 'config.json'), '{"model_type": "gpt2", ');
  mkdirSync(P('model-nosf'));
  copyFileSync('data/tiny-model/config.json', P('model-nosf', 'config.json'));
  cpSync('data/tiny-model', P('model-truncated'), { recursive: true });
  truncateSync(P('model-truncated', 'model.safetensors'), 4000);
  cpSync('data/tiny-model', P('model-novocab'), { recursive: true });
  rmSync(P('model-novocab', 'gsae_vocab.json'));
  mkdirSync(P('model-empty'));
  cpSync('test/fixtures/gpt2-debug', P('model-nan'), { recursive: true });
  const mw = E.readSafetensors(P('model-nan', 'model.safetensors'));
  E.writeSafetensors(P('model-nan', 'model.safetensors'), Object.fromEntries([...mw.tensors.values()].map((t) => {
    const data = Float32Array.from(t.data);
    if (t.name.endsWith('ln_f.weight')) data[2] = NaN;
    return [t.name, { shape: t.shape, data }];
  })));

  // corpora
  writeFileSync(P('empty.txt'), '');
  writeFileSync(P('tiny.txt'), 'ab');
  writeFileSync(P('binary.txt'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37 + 11) % 256)));

  // an SAE (d_in 16) trained on the store, and broken copies of it and of its run folder
  const ok = await runMain(['sae', 'train', '--data', P('store'), '--out', P('run'), '--variant', 'topk', '--d-sae', '32', '--k', '4', '--steps', '3',
    '--batch-size', '32', '--init-samples', '64', '--progress', 'false']);
  expect(ok.code, ok.stderr).toBe(0);
  cpSync(P('run'), P('run-ck-truncated'), { recursive: true });
  truncateSync(P('run-ck-truncated', 'checkpoint.msgpack'), 200);
  cpSync(P('run', 'sae'), P('sae-weights-truncated'), { recursive: true });
  truncateSync(P('sae-weights-truncated', 'sae_weights.safetensors'), 500);
  cpSync(P('run', 'sae'), P('sae-cfg-json'), { recursive: true });
  const w = E.readSafetensors(P('run', 'sae', 'sae_weights.safetensors'));
  const weights = (edit: (name: string, data: Float32Array, shape: number[]) => [Float32Array, number[]]) =>
    Object.fromEntries([...w.tensors.values()].map((t) => {
      const [data, shape] = edit(t.name, Float32Array.from(t.data), [...t.shape]);
      return [t.name, { data, shape }];
    }));
  cpSync(P('run', 'sae'), P('sae-weights-shape'), { recursive: true });
  E.writeSafetensors(P('sae-weights-shape', 'sae_weights.safetensors'), weights((n, d, sh) => (n === 'W_dec' ? [d.subarray(0, 31 * 16), [31, 16]] : [d, sh])));
  cpSync(P('run', 'sae'), P('sae-weights-nan'), { recursive: true });
  E.writeSafetensors(P('sae-weights-nan', 'sae_weights.safetensors'), weights((n, d, sh) => {
    if (n === 'W_enc') d[7] = NaN;
    return [d, sh];
  }));
  cpSync(P('run', 'sae'), P('sae-weights-missing'), { recursive: true });
  E.writeSafetensors(P('sae-weights-missing', 'sae_weights.safetensors'), Object.fromEntries(Object.entries(weights((_n, d, sh) => [d, sh])).filter(([k]) => k !== 'b_enc')));
  writeFileSync(P('sae-cfg-json', 'cfg.json'), '{"d_in": 16,');
  // a store of another width (8) for resuming the d_in 16 run against
  const r8 = new E.Rng(4);
  buildStore({
    dir: P('store8'), hook: 'blocks.0.hook_resid_pre', tokens: new Int32Array(256), source: 'synthetic8', range: [0, 256], seqLen: 16, batchSeqs: 8,
    seqsPerShard: 8, withGrad: true, modelId: 'synthetic',
    capture: (t) => ({ acts: E.tensor(Float32Array.from({ length: t.size * 8 }, () => r8.normal()), [...t.shape, 8]), grads: E.zeros([...t.shape, 8]) }),
  });

  // an SAE of the default model (d_in 128), for eval and steer
  const c128 = await runMain(['cache', '--out', P('store128'), '--tokens', '256', '--seq-len', '16', '--batch-seqs', '8']);
  expect(c128.code, c128.stderr).toBe(0);
  const t128 = await runMain(['sae', 'train', '--data', P('store128'), '--out', P('run128'), '--variant', 'topk', '--d-sae', '32', '--k', '4', '--steps', '2',
    '--batch-size', '32', '--init-samples', '64', '--progress', 'false', '--hook-name', 'blocks.2.hook_resid_pre']);
  expect(t128.code, t128.stderr).toBe(0);

  // an SAE of width 16 that names the hook of store128 (d 128)
  const t16 = await runMain(['sae', 'train', '--data', P('store'), '--out', P('run16'), '--variant', 'topk', '--d-sae', '32', '--k', '4', '--steps', '2',
    '--batch-size', '32', '--init-samples', '64', '--progress', 'false', '--hook-name', 'blocks.2.hook_resid_pre']);
  expect(t16.code, t16.stderr).toBe(0);

  // output paths that are not folders of ours
  writeFileSync(P('a-file'), 'precious');
  mkdirSync(P('user-folder'));
  writeFileSync(P('user-folder', 'notes.txt'), 'precious');

  // configs and reports
  writeFileSync(P('cfg-json.json'), '{"dSae": 32,');
  writeFileSync(P('cfg-unknown.json'), JSON.stringify({ variant: 'topk', dSae: 32, learningRate: 1e-3 }));
  writeFileSync(P('cfg-array.json'), '[1, 2]');
  mkdirSync(P('report-json'));
  writeFileSync(P('report-json', 'results.json'), '{"meta": ');
  mkdirSync(P('report-shape'));
  writeFileSync(P('report-shape', 'results.json'), JSON.stringify({ rows: 3 }));
}, 120_000);

// ------------------------------------------------------------------------------------------
// The cases: [bad input, argv, what the one error line must say]

type Case = [input: string, argv: () => string[], message: RegExp];

/** `base` flags with `more` appended, a flag in `more` replacing the same flag of `base` (the CLI refuses repeats). */
function withFlags(base: string[], more: string[]): string[] {
  const out = [...base];
  for (let i = 0; i < more.length; i++) {
    const f = more[i]!;
    const at = f.startsWith('--') ? out.indexOf(f) : -1;
    const hasValue = i + 1 < more.length && !more[i + 1]!.startsWith('--');
    if (at >= 0) {
      if (hasValue) out[at + 1] = more[++i]!;
    } else {
      out.push(f);
      if (hasValue) out.push(more[++i]!);
    }
  }
  return out;
}
const saeTrain = (data: string, ...more: string[]) => withFlags(['sae', 'train', '--data', data, '--out', P('out', String(Math.random()).slice(2)), '--batch-size', '32',
  '--steps', '3', '--init-samples', '64', '--progress', 'false'], more);
const topk = (data = P('store'), ...more: string[]) => saeTrain(data, '--variant', 'topk', '--d-sae', '32', ...more);
const cache = (...more: string[]) => withFlags(['cache', '--out', P('cache-out', String(Math.random()).slice(2)), '--tokens', '64', '--seq-len', '16'], more);
const lmTrain = (...more: string[]) => withFlags(['lm', 'train', '--preset', 'nanogpt-char', '--out', P('lm', String(Math.random()).slice(2)), '--n-layer', '1', '--n-head', '2',
  '--n-embd', '16', '--block-size', '16', '--batch-size', '2', '--iters', '6', '--eval-iters', '1'], more);
const corpusOf = () => {
  const c = P('corpus.txt');
  if (!existsSync(c)) writeFileSync(c, readFileSync('data/tinyshakespeare/input.txt', 'utf8').slice(0, 20000));
  return c;
};

const CASES: Record<string, Case[]> = {
  'gsae (top level)': [
    ['a flag given twice', () => ['cache', '--out', P('twice'), '--seq-len', '16', '--seq-len', '1'], /^gsae: --seq-len is given more than once; give each flag once/],
    ['--flag and --no-flag', () => ['cache', '--out', P('twice'), '--grad', '--no-grad'], /^gsae: --grad is given more than once/],
    ['a flag given twice (camelCase and kebab)', () => ['cache', '--out', P('twice'), '--seq-len', '16', '--seqLen', '8'], /^gsae: --seqLen is given more than once/],
    ['no command', () => [], /^gsae: Name a command \(see --help\)\./],
    ['unknown command', () => ['trian'], /^gsae: Unknown argument: trian/],
    ['unknown flag', () => ['backends', '--bogus'], /^gsae: Unknown argument: bogus/],
  ],
  'gsae sae train': [
    ['missing --data', () => ['sae', 'train', '--out', P('o'), '--variant', 'topk', '--d-sae', '8'], /^gsae: Missing required argument: data/],
    ['missing --variant', () => saeTrain(P('store'), '--d-sae', '32'), /^gsae: --variant is required \(one of topk, gsae, gated, relu_l1, batchtopk, jumprelu\)/],
    ['unknown --variant', () => saeTrain(P('store'), '--variant', 'topkk', '--d-sae', '32'), /^gsae: Invalid values: Argument: variant, Given: "topkk", Choices: "topk"/],
    ['missing --d-sae', () => saeTrain(P('store'), '--variant', 'topk'), /^gsae: --d-sae is required/],
    ['--d-sae 0', () => saeTrain(P('store'), '--variant', 'topk', '--d-sae', '0'), /^gsae: config 'dSae': must be a positive integer, got 0 \(flag --d-sae\)$/],
    ['--k 0', () => topk(undefined, '--k', '0'), /^gsae: config 'k': must be a positive integer, got 0 \(flag --k\)$/],
    ['--k -3', () => topk(undefined, '--k', '-3'), /^gsae: config 'k': must be a positive integer, got -3 \(flag --k\)$/],
    ['--k 33 > --d-sae 32', () => topk(undefined, '--k', '33'), /^gsae: config 'k': 33 exceeds dSae = 32 \(flag --k\)$/],
    ['--k 2.5', () => topk(undefined, '--k', '2.5'), /^gsae: config 'k': must be a positive integer, got 2\.5 \(flag --k\)$/],
    ['--lr -1', () => topk(undefined, '--lr', '-1'), /^gsae: config 'lr': must be >= 0, got -1 \(flag --lr\)$/],
    ['--lr Infinity', () => topk(undefined, '--lr', 'Infinity'), /^gsae: config 'lr': must be a finite number, got Infinity \(flag --lr\)$/],
    ['--lr fast', () => topk(undefined, '--lr', 'fast'), /^gsae: --lr: expected a number$/],
    ['--lr 1e30 (diverges)', () => topk(undefined, '--lr', '1e30', '--checkpoint-every', '1'),
      /^gsae: step 2 produced NaN or Inf \(mse_loss NaN, overall_loss NaN; non-finite parameters: W_dec, W_enc, b_dec, b_enc; lr 1\.00e\+30\); the last good checkpoint \(step 1\) .*checkpoint\.msgpack is kept; lower --lr$/],
    ['--lr 1e30, relu_l1 (diverges)', () => saeTrain(P('store'), '--variant', 'relu_l1', '--d-sae', '32', '--lr', '1e30'), /^gsae: step \d produced NaN or Inf \(.*l1_loss .*non-finite parameters: .*; lr 1\.00e\+30\); no checkpoint of this run was written; lower --lr$/],
    ['--steps 0', () => topk(undefined, '--steps', '0'), /^gsae: config 'totalSteps': must be a positive integer, got 0 \(flag --steps\)$/],
    ['--adam-beta1 1', () => topk(undefined, '--adam-beta1', '1'), /^gsae: config 'adamBeta1': must be in \[0, 1\), got 1 \(flag --adam-beta1\)$/],
    ['--d-in 100 ≠ the data\'s 16', () => topk(undefined, '--d-in', '100'), /^gsae: --d-in 100 does not match the data's width 16 /],
    ['g-SAE on activations without gradients', () => saeTrain(P('x-only.safetensors'), '--variant', 'gsae', '--d-sae', '32'), /^gsae: data .*x-only\.safetensors.*: the g-SAE needs gradients g = ∂L\/∂x with the activations, and this source has none$/],
    ['--data does not exist', () => topk(P('nowhere')), /^gsae: --data: '.*nowhere' does not exist$/],
    ['--data folder without manifest', () => topk(P('not-a-store')), /^gsae: .*not-a-store is not an activation store \(no manifest\.json\); build one with 'gsae cache'$/],
    ['store: manifest not JSON', () => topk(P('store-manifest-json')), /^gsae: .*store-manifest-json\/manifest\.json: invalid JSON \(/],
    ['store: manifest of another format', () => topk(P('store-manifest-format')), /^gsae: .*manifest\.json: not a gsae store manifest \(format "other", version 7\)$/],
    ['store: manifest shards not a list', () => topk(P('store-manifest-shards')), /^gsae: .*manifest\.json: field 'shards' must be a list of shard entries, got "all of them"$/],
    ['store: shard file outside the store', () => topk(P('store-shard-path')), /^gsae: .*manifest\.json: shards\[0\]\.file must be a file name in the store folder, got "\.\.\/store\/shard_00000\.bin"$/],
    ['store: complete with no shards', () => topk(P('store-no-shards')), /^gsae: .*manifest\.json: the store is marked complete but lists no shards$/],
    ['store: incomplete build', () => topk(P('store-incomplete')), /^gsae: store .*store-incomplete is incomplete \(an interrupted build\); run 'gsae cache' again to finish it$/],
    ['store: truncated shard', () => topk(P('store-shard-truncated')), /^gsae: .*shard_00001\.bin: shard is 1000 bytes but its header \(128 rows × 16 with gradients\) needs 16416 \(truncated\)$/],
    ['store: shard with bad magic', () => topk(P('store-shard-magic')), /^gsae: .*shard_00002\.bin: not a gsae store shard \(magic "NOTASHRD", expected GSAESHD1\)$/],
    ['store: NaN in a shard', () => topk(P('store-shard-nan')), /^gsae: .*shard_00000\.bin: non-finite value at element 37 \(activations\)$/],
    ['store: shard file missing', () => topk(P('store-shard-missing')), /^gsae: .*shard_00003\.bin.*(no such file|does not exist|missing)/i],
    ['store: shard rows ≠ manifest', () => topk(P('store-shard-rows')), /^gsae: .*shard_00001\.bin: shard holds 128×16\+grad, manifest says 100×16\+grad$/],
    ['safetensors: header length past the end', () => topk(P('st-header-length.safetensors')), /^gsae: safetensors .*: header length 1073741824 goes beyond the end of the file/],
    ['safetensors: 3-byte file', () => topk(P('st-short.safetensors')), /^gsae: safetensors .*: file is 3 bytes, shorter than the 8-byte header length$/],
    ['safetensors: header not JSON', () => topk(P('st-json.safetensors')), /^gsae: safetensors .*: header is not valid UTF-8 JSON/],
    ['safetensors: offsets out of range', () => topk(P('st-offsets-range.safetensors')), /^gsae: safetensors .*: tensor 'x' F32 \[256, 16\] needs 16384 bytes but data_offsets \[0, 16448\] span 16448$/],
    ['safetensors: overlapping offsets', () => topk(P('st-offsets-overlap.safetensors')), /^gsae: safetensors .*: tensor '(x|g)' data_offsets \[\d+, \d+\] overlap the previous tensor, which ends at \d+$/],
    ['safetensors: offsets past the buffer', () => topk(P('st-offsets-beyond.safetensors')), /^gsae: safetensors .*: gap in the byte buffer: bytes \[0, 16384\) before tensor 'x' belong to no tensor$/],
    ['safetensors: negative offsets', () => topk(P('st-offsets-negative.safetensors')), /^gsae: safetensors .*: tensor 'x' has invalid "data_offsets" \[-8,16376\] \(expected \[begin, end\] of non-negative integers\)$/],
    ['safetensors: shape/bytes mismatch', () => topk(P('st-shape-bytes.safetensors')), /^gsae: safetensors .*: tensor 'x' F32 \[256, 17\] needs 17408 bytes but data_offsets \[0, 16384\] span 16384$/],
    ['safetensors: unknown dtype', () => topk(P('st-dtype.safetensors')), /^gsae: safetensors .*: tensor 'x' has unsupported dtype 'F8_E4M3' \(supported: F64, F32, F16, BF16, I64, I32\)$/],
    ['safetensors: negative shape', () => topk(P('st-negative-shape.safetensors')), /^gsae: safetensors .*: tensor 'x' has invalid "shape" \[-256,16\] \(expected an array of non-negative integers\)$/],
    ['safetensors: truncated buffer', () => topk(P('st-truncated.safetensors')), /^gsae: safetensors .*: file is truncated: the header needs a 16384-byte buffer but only 1000 bytes follow it$/],
    ['safetensors: 1-D activations', () => topk(P('st-1d.safetensors')), /^gsae: --data .*: tensor 'x' has shape \[4096\]; expected \[N, d\]/],
    ['safetensors: no activations tensor', () => topk(P('st-noname.safetensors')), /^gsae: --data .*: no activations tensor \(looked for 'x', 'acts', 'activations'; tensors: layer3\); name it with --x-key$/],
    ['safetensors: --x-key names no tensor', () => topk(P('acts.safetensors'), '--x-key', 'acts'), /^gsae: --data .*: no tensor named 'acts' for the activations \(tensors: g, x\)$/],
    ['safetensors: integer activations', () => topk(P('st-int.safetensors')), /^gsae: --data .*: tensor 'x' is I32; activations must be floating point$/],
    ['safetensors: NaN in the activations', () => topk(P('st-nan.safetensors')), /^gsae: --data .*st-nan\.safetensors: tensor 'x' holds a non-finite value \(NaN\) at row 6, column 4$/],
    ['safetensors: zero rows', () => topk(P('st-empty-rows.safetensors')), /^gsae: --data .*st-empty-rows\.safetensors: .*(no rows|0 rows|empty)/],
    ['safetensors: gradients of another shape', () => topk(P('st-g-shape.safetensors')), /^gsae: --data .*: gradients 'g' \[256, 8\] and activations 'x' \[256, 16\] differ in shape$/],
    ['--config missing', () => ['sae', 'train', '--data', P('store'), '--out', P('o2'), '--config', P('nope.json')], /^gsae: --config: file '.*nope\.json' does not exist$/],
    ['--config not JSON', () => ['sae', 'train', '--data', P('store'), '--out', P('o2'), '--config', P('cfg-json.json')], /^gsae: --config .*cfg-json\.json: not valid JSON \(/],
    ['--config unknown field', () => ['sae', 'train', '--data', P('store'), '--out', P('o2'), '--config', P('cfg-unknown.json')], /^gsae: --config .*: unknown field 'learningRate' \(known: /],
    ['--config an array', () => ['sae', 'train', '--data', P('store'), '--out', P('o2'), '--config', P('cfg-array.json')], /^gsae: --config .*: must hold a JSON object of config fields$/],
    ['--out is a file', () => withFlags(topk(), ['--out', P('a-file')]), /^gsae: --out .*a-file is a file; give a folder/],
    ['--resume without a checkpoint', () => ['sae', 'train', '--data', P('store'), '--out', P('no-run'), '--resume'], /^gsae: --resume: no checkpoint at .*no-run\/checkpoint\.msgpack$/],
    ['--resume with config flags', () => ['sae', 'train', '--data', P('store'), '--out', P('run'), '--resume', '--k', '3'], /^gsae: --resume continues with the checkpoint's config; drop --k$/],
    ['--resume: truncated checkpoint', () => ['sae', 'train', '--data', P('store'), '--out', P('run-ck-truncated'), '--resume'], /^gsae: checkpoint .*checkpoint\.msgpack cannot be decoded \(truncated or not a msgpack file\)/],
    ['--resume on a store of another width (d_in 8 ≠ 16)', () => ['sae', 'train', '--data', P('store8'), '--out', P('run'), '--resume'], /^gsae: resume .*checkpoint\.msgpack: the data differ from the checkpoint's \(.*d=16.*now .*d=8/],
  ],
  'gsae cache': [
    ['missing --out', () => ['cache'], /^gsae: Missing required argument: out/],
    ['unknown hook', () => cache('--hook', 'blocks.2.resid'), /^gsae: activationsAndGrads: unknown hook 'blocks\.2\.resid' for a \d+-layer model; valid names are /],
    ['hook of a layer the model lacks', () => cache('--hook', 'blocks.9.hook_resid_pre'), /^gsae: activationsAndGrads: unknown hook 'blocks\.9\.hook_resid_pre' for a \d+-layer model/],
    ['--tokens 0', () => cache('--tokens', '0'), /^gsae: --tokens must be a positive integer, got 0$/],
    ['--tokens abc', () => cache('--tokens', 'abc'), /^gsae: --tokens must be a positive integer, got NaN$/],
    ['--seq-len 1', () => cache('--seq-len', '1'), /^gsae: store: seqLen 1 must be at least 2/],
    ['--split test', () => cache('--split', 'test'), /^gsae: Invalid values: Argument: split, Given: "test", Choices: "train", "val"/],
    ['--model missing', () => cache('--model', P('no-model')), /^gsae: model directory .*no-model has no config\.json \(expected an HF GPT-2 directory\)$/],
    ['--model empty folder', () => cache('--model', P('model-empty')), /^gsae: model directory .*model-empty has no config\.json/],
    ['--model not GPT-2 (BERT config)', () => cache('--model', P('model-bert')), /^gsae: .*model-bert\/config\.json: model_type is "bert"; only 'gpt2' is supported$/],
    ['--model config.json not JSON', () => cache('--model', P('model-json')), /^gsae: .*model-json\/config\.json: not valid JSON/],
    ['--model without model.safetensors', () => cache('--model', P('model-nosf')), /^gsae: .*model-nosf: no model\.safetensors$/],
    ['--model truncated model.safetensors', () => cache('--model', P('model-truncated')), /^gsae: safetensors .*model\.safetensors: header length \d+ goes beyond the end of the file/],
    ['--model without its gsae_vocab.json', () => cache('--model', P('model-novocab')), /^gsae: model .*model-novocab: its tokenizer has 50257 tokens but config\.json has vocab_size 11707/],
    ['--data missing', () => cache('--data', P('nope.txt')), /^gsae: corpus file '.*nope\.txt' does not exist$/],
    ['--data empty', () => cache('--data', P('empty.txt')), /^gsae: corpus file '.*empty\.txt' is empty$/],
    ['--data 2 characters', () => cache('--data', P('tiny.txt')), /^gsae: store: range of \d+ tokens holds no sequence of 16/],
    ['--data binary', () => cache('--data', P('binary.txt')), /^gsae: .*not in this model's restricted vocabulary/],
    ['--out is a file', () => cache('--out', P('a-file')), /^gsae: --out .*a-file is a file; give a folder for the store$/],
    ['existing store built with other settings', () => ['cache', '--out', P('store'), '--tokens', '64', '--seq-len', '16'], /^gsae: store .*store was built with other settings \(hook: store has "blocks\.0\.hook_resid_pre", asked for "blocks\.2\.hook_resid_pre"\); use a new directory$/],
  ],
  'gsae lm train': [
    ['missing --out', () => ['lm', 'train'], /^gsae: Missing required argument: out/],
    ['--lr -1', () => lmTrain('--data', corpusOf(), '--lr', '-1'), /^gsae: schedule: lr must be a positive number, got -1/],
    ['--lr abc', () => lmTrain('--data', corpusOf(), '--lr', 'abc'), /^gsae: --lr expects a number$/],
    ['--lr 1e6, no clipping (diverges)', () => lmTrain('--data', corpusOf(), '--lr', '1e6', '--grad-clip', '0', '--warmup-iters', '0', '--checkpoint-interval', '1'),
      /^gsae: train: diverged at step \d+ \(loss .*; gradient norm .*; .*; lr .*\); the last good checkpoint \(step \d+\) in .* is kept\. Lower --lr or enable --grad-clip$/],
    ['--out is a file', () => lmTrain('--data', corpusOf(), '--out', P('a-file')), /^gsae: .*a-file is a file, not a checkpoint directory; choose another output directory$/],
    ['--out is a non-empty folder that is no checkpoint', () => lmTrain('--data', corpusOf(), '--out', P('user-folder')),
      /^gsae: .*user-folder is a non-empty directory that is not a training checkpoint \(saving replaces the whole directory\); choose a new or empty one$/],
    ['--iters -2', () => lmTrain('--data', corpusOf(), '--iters', '-2'), /^gsae: train: iters must be an integer >= 0, got -2$/],
    ['--n-embd 15 --n-head 2', () => lmTrain('--data', corpusOf(), '--n-embd', '15'), /^gsae: train: nEmbd \(15\) must be divisible by nHead \(2\)$/],
    ['--dropout 1', () => lmTrain('--data', corpusOf(), '--dropout', '1', '--rng', 'gsae'), /^gsae: train: dropout must be in \[0, 1\), got 1$/],
    ['--preset unknown', () => lmTrain('--preset', 'gpt5'), /^gsae: Invalid values: Argument: preset, Given: "gpt5"/],
    ['--data missing', () => lmTrain('--data', P('nope.txt')), /^gsae: --data: corpus file '.*nope\.txt' does not exist$/],
    ['--data empty', () => lmTrain('--data', P('empty.txt')), /^gsae: corpus file '.*empty\.txt' is empty$/],
    ['--data 2 characters', () => lmTrain('--data', P('tiny.txt')), /^gsae: train: the train split of .*tiny\.txt has 1 tokens, too few for block size 16$/],
  ],
  'gsae lm eval / sample': [
    ['--model not GPT-2', () => ['lm', 'eval', '--model', P('model-bert'), '--tokens', '1,2'], /^gsae: .*config\.json: model_type is "bert"; only 'gpt2' is supported$/],
    ['--model with NaN weights', () => ['lm', 'eval', '--model', P('model-nan'), '--tokens', '1,2'], /^gsae: .*model-nan\/model\.safetensors: tensors holding NaN or Inf: ln_f\.weight$/],
    ['--model truncated weights', () => ['lm', 'eval', '--model', P('model-truncated'), '--tokens', '1,2'], /^gsae: safetensors .*model\.safetensors: header length/],
    ['--tokens out of the vocabulary', () => ['lm', 'eval', '--model', 'test/fixtures/gpt2-debug', '--tokens', '1,2,512'], /^gsae: .*token id 512 at position 2 is out of the vocabulary \[0, 512\)/],
    ['--data empty', () => ['lm', 'eval', '--model', 'test/fixtures/gpt2-debug', '--data', P('empty.txt')], /^gsae: corpus file '.*empty\.txt' is empty$/],
    ['sample --max-new-tokens -1', () => ['lm', 'sample', '--model', 'test/fixtures/gpt2-debug', '--max-new-tokens', '-1'], /^gsae: --max-new-tokens must be an integer >= 0, got -1$/],
    ['sample --temperature -1', () => ['lm', 'sample', '--model', 'test/fixtures/gpt2-debug', '--temperature', '-1'], /^gsae: --temperature must be >= 0, got -1$/],
  ],
  'gsae sae eval / steer': [
    ['--sae missing', () => ['sae', 'eval', '--sae', P('no-sae')], /^gsae: SAE folder .*no-sae does not exist$/],
    ['--sae folder without cfg.json', () => ['sae', 'eval', '--sae', P('run')], /^gsae: SAE folder .*run has no cfg\.json$/],
    ['--sae cfg.json not JSON', () => ['sae', 'eval', '--sae', P('sae-cfg-json')], /^gsae: .*sae-cfg-json\/cfg\.json.*(JSON|json)/],
    ['--sae truncated weights', () => ['sae', 'eval', '--sae', P('sae-weights-truncated')], /^gsae: safetensors .*sae_weights\.safetensors: /],
    ['--sae W_dec of the wrong shape', () => ['sae', 'eval', '--sae', P('sae-weights-shape')], /^gsae: .*sae_weights\.safetensors: tensor 'W_dec' has shape \[31, 16\], expected \[32, 16\] for d_in = 16, d_sae = 32$/],
    ['--sae NaN in W_enc', () => ['sae', 'eval', '--sae', P('sae-weights-nan')], /^gsae: .*sae-weights-nan\/sae_weights\.safetensors: tensor 'W_enc' holds a non-finite value \(NaN\) at element 7$/],
    ['--sae without b_enc', () => ['sae', 'eval', '--sae', P('sae-weights-missing')], /^gsae: .*sae_weights\.safetensors: topk SAE needs tensor 'b_enc' \[32\]; found W_dec, W_enc, b_dec$/],
    ['SAE d_in 16 ≠ the model\'s 128', () => ['sae', 'eval', '--sae', P('run', 'sae')], /^gsae: SAE .*has d_in = 16 but the model's d_model is 128: they do not belong together$/],
    ['steer: latent out of range', () => ['steer', '--sae', P('run128', 'sae'), '--latents', '3', '99'], /^gsae: --latents: 99 is not a latent of .*run128\/sae \(d_sae = 32\)$/],
    ['steer: --hook the model lacks', () => ['steer', '--sae', P('run128', 'sae'), '--latents', '3', '--hook', 'blocks.7.hook_resid_pre'], /^gsae: .*unknown hook 'blocks\.7\.hook_resid_pre'/],
    ['eval: --tokens 0', () => ['sae', 'eval', '--sae', P('run128', 'sae'), '--tokens', '0'], /^gsae: --tokens must be an integer >= 2, got 0$/],
    ['eval: --seq-len abc', () => ['sae', 'eval', '--sae', P('run128', 'sae'), '--seq-len', 'abc'], /^gsae: --seq-len must be an integer >= 2, got NaN$/],
    ['steer: --top-n 0', () => ['steer', '--sae', P('run128', 'sae'), '--latents', '3', '--top-n', '0'], /^gsae: --top-n must be an integer >= 1, got 0$/],
    ['steer: --latents missing', () => ['steer', '--sae', P('run', 'sae')], /^gsae: Missing required argument: latents/],
  ],
  'gsae features / lm sample --steer': [
    ['features: --store missing', () => ['features', P('run128', 'sae'), '--store', P('nowhere')], /^gsae: --store .*nowhere: no such directory$/],
    ['features: SAE d_in 16 ≠ the store\'s 128', () => ['features', P('run16', 'sae'), '--store', P('store128'), '--progress', 'false'], /^gsae: SAE .*run16\/sae has d_in = 16 but store .*store128 holds rows of width 128: they do not belong together$/],
    ['lm sample --steer malformed', () => ['lm', 'sample', '--model', 'data/tiny-model', '--steer', 'bogus'], /^gsae: --steer "bogus": expected <sae-dir>:<latent>:<coef>/],
    ['lm sample --steer: SAE d_in 16 ≠ the model\'s 128', () => ['lm', 'sample', '--model', 'data/tiny-model', '--max-new-tokens', '2', '--steer', `${P('run16', 'sae')}:3:1`], /^gsae: --steer: SAE .*run16\/sae has d_in = 16 but the model's d_model is 128$/],
  ],
  'gsae report / experiment': [
    ['report: folder without results.json', () => ['report', P('not-a-store')], /^gsae: .*not-a-store has no results\.json \(run 'gsae experiment' first\)$/],
    ['report: results.json not JSON', () => ['report', P('report-json')], /^gsae: .*report-json\/results\.json: not valid JSON \(/],
    ['report: results.json without rows', () => ['report', P('report-shape')], /^gsae: .*report-shape\/results\.json: expected \{meta, rows\[\]\} as 'gsae experiment' writes it$/],
    ['experiment: unknown suite', () => ['experiment', 'nosuch'], /^gsae: Invalid values: Argument: suite, Given: "nosuch", Choices: "gsae-vs-topk", "pareto", "ablations"/],
    ['experiment: --seeds abc', () => ['experiment', 'pareto', '--seeds', 'abc', '--out', P('exp')], /^gsae: --seeds must be non-negative integers, got NaN$/],
    ['experiment: --seeds -1', () => ['experiment', 'pareto', '--seeds', '-1', '--out', P('exp')], /^gsae: --seeds must be non-negative integers, got -1$/],
    ['experiment: --model not GPT-2', () => ['experiment', 'pareto', '--model', P('model-bert'), '--out', P('exp')], /^gsae: .*model-bert\/config\.json: model_type is "bert"; only 'gpt2' is supported$/],
    ['experiment: --preset medium', () => ['experiment', 'pareto', '--preset', 'medium'], /^gsae: Invalid values: Argument: preset, Given: "medium"/],
  ],
};

for (const [command, cases] of Object.entries(CASES)) {
  describe(command, () => {
    for (const [input, argv, message] of cases) {
      it(input, async () => {
        const r = await runMain(argv());
        const errors = r.errLines.filter((l) => l.startsWith('gsae:'));
        table.push({ command, input, message: errors.join(' / ') || `(exit ${r.code}, no error line)` });
        expect(r.code, r.stderr).not.toBe(0);
        expect(errors, r.stderr).toHaveLength(1);
        expect(errors[0]).toMatch(message);
        expect(r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/); // no stack trace
      });
    }
  });
}

it('array flags may repeat: --latents 1 --latents 2 reaches the command (which then names the missing SAE)', async () => {
  const r = await runMain(['steer', '--sae', P('no-sae'), '--latents', '1', '--latents', '2']);
  expect(r.code).toBe(2);
  expect(r.errLines.filter((l) => l.startsWith('gsae:'))).toEqual([`gsae: SAE folder ${P('no-sae')} does not exist`]);
});

it("an output path the user owns is never replaced: the file and the folder's file are intact", () => {
  expect(readFileSync(P('a-file'), 'utf8')).toBe('precious');
  expect(readFileSync(P('user-folder', 'notes.txt'), 'utf8')).toBe('precious');
});
