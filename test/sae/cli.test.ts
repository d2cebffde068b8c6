/** `gsae sae train`: flags and --config reach the trainer, bad input gets errors naming the flag. */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli_helpers.js';
import * as E from '../../engine/index.js';
import { CONFIG_FLAGS, configFromArgs, runSaeTrain, saeCommand } from '../../cli/commands/sae.js';
import { SaeTrainer } from '../../sae/trainer.js';
import { StoreSource } from '../../sae/store/source.js';
import { makeSynthetic } from './synthetic.js';
import { buildStore } from '../../sae/store/build.js';

const tmp = mkdtempSync(join(tmpdir(), 'gsae-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const syn = makeSynthetic({ n: 256, d: 6, mTrue: 10, kTrue: 2, seed: 9 });
const dataPath = join(tmp, 'acts.safetensors');
E.writeSafetensors(dataPath, { x: { shape: [256, 6], data: syn.x }, g: { shape: [256, 6], data: syn.g } });
const xOnly = join(tmp, 'xonly.safetensors');
E.writeSafetensors(xOnly, { acts: { shape: [256, 6], data: syn.x } });

const cli = async (argv: string[]): Promise<void> => void (await runCli(saeCommand, argv));

describe('gsae sae train', () => {
  it('trains from flags and writes the SAELens export, the log and a checkpoint; --resume continues it', async () => {
    const out = join(tmp, 'run');
    await cli(['sae', 'train', '--data', dataPath, '--out', out, '--variant', 'gsae', '--d-sae', '12', '--k', '2', '--beta', '0.5', '--grad-norm', 'rms', '--steps', '4', '--batch-size', '16', '--init-samples', '64', '--log-every', '2', '--hook-name', 'blocks.3.hook_resid_post', '--no-progress']);
    const cfg = JSON.parse(readFileSync(join(out, 'sae', 'cfg.json'), 'utf8')) as Record<string, any>;
    expect(cfg).toMatchObject({ architecture: 'topk', d_in: 6, d_sae: 12, hook_name: 'blocks.3.hook_resid_post', hook_layer: 3, activation_fn_kwargs: { k: 2 } });
    expect(cfg.gsae).toMatchObject({ beta: 0.5, gradNorm: 'rms', valueSource: 'z' });
    expect(cfg.gsae.train).toMatchObject({ totalSteps: 4, batchSize: 16, datasetPath: dataPath });
    expect(readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(existsSync(join(out, 'checkpoint.msgpack'))).toBe(true);
    // resuming a finished run is a no-op that keeps the weights; resume with config flags is refused
    const before = readFileSync(join(out, 'sae', 'sae_weights.safetensors'));
    const t = runSaeTrain({ data: dataPath, out, resume: true, progress: false }, () => {});
    expect(t.step).toBe(4);
    t.dispose();
    expect(readFileSync(join(out, 'sae', 'sae_weights.safetensors')).equals(before)).toBe(true);
    expect(() => runSaeTrain({ data: dataPath, out, resume: true, 'd-sae': 8 }, () => {})).toThrow(/--resume continues with the checkpoint's config; drop --d-sae/);
  });

  it('reads an activation store folder, and resumes on it exactly', () => {
    // a tiny store whose "model" maps each token to a fixed random vector (and gradient)
    const table = makeSynthetic({ n: 50, d: 6, mTrue: 10, kTrue: 2, seed: 3 });
    const capture = (tokens: E.Tensor) => {
      const ids = E.reshape(tokens, [-1]);
      const pick = (t: Float32Array) => E.reshape(E.gather(E.tensor(t, [50, 6]), ids, 0), [tokens.shape[0]!, tokens.shape[1]!, 6]);
      return { acts: pick(table.x), grads: pick(table.g) };
    };
    const ids = Int32Array.from({ length: 4096 }, (_, i) => (i * 7919) % 50);
    const store = join(tmp, 'store');
    buildStore({ dir: store, hook: 'blocks.0.hook_resid_pre', tokens: ids, source: 'synthetic', range: [0, 4096], seqLen: 16, batchSeqs: 8, seqsPerShard: 32, withGrad: true, modelId: 'table', capture });
    const run = (out: string, steps: number, resume = false) =>
      runSaeTrain(resume ? { data: store, out, resume: true, progress: false } : { data: store, out, variant: 'gsae', 'd-sae': 12, k: 2, steps, 'batch-size': 32, 'init-samples': 64, progress: false }, () => {});
    const a = run(join(tmp, 'store-a'), 12);
    expect(a.source.describe()).toMatch(/^store /);
    const full = a.state().params;
    a.dispose();
    // the same run interrupted after step 5, then resumed through the CLI
    const b = SaeTrainer.create({ ...a.cfg }, new StoreSource(store, 32, a.cfg.seed), { outDir: join(tmp, 'store-b'), stopAfterStep: 5 });
    b.run();
    b.dispose();
    const c = run(join(tmp, 'store-b'), 0, true);
    expect(c.step).toBe(12);
    for (const k of Object.keys(full)) expect(Array.from(c.state().params[k]!.data)).toEqual(Array.from(full[k]!.data));
    c.dispose();
  });

  it('takes a --config file, with flags overriding it', () => {
    const cfgPath = join(tmp, 'cfg.json');
    writeFileSync(cfgPath, JSON.stringify({ variant: 'relu_l1', dSae: 10, l1Coefficient: 2, totalSteps: 3 }));
    expect(configFromArgs({ data: dataPath, out: tmp, config: cfgPath, 'l1-coefficient': 0.5 })).toMatchObject({ variant: 'relu_l1', dSae: 10, l1Coefficient: 0.5, totalSteps: 3 });
    const t = runSaeTrain({ data: xOnly, out: join(tmp, 'cfgrun'), config: cfgPath, 'batch-size': 8, 'init-samples': 32, progress: false }, () => {});
    expect(t.cfg).toMatchObject({ variant: 'relu_l1', dSae: 10, l1Coefficient: 2, batchSize: 8, dIn: 6 });
    t.dispose();
  });

  it('maps every config field to a kebab-case flag', () => {
    expect(CONFIG_FLAGS).toMatchObject({ dSae: 'd-sae', l1Coefficient: 'l1-coefficient', totalSteps: 'steps', adamBeta1: 'adam-beta1', kAux: 'k-aux', valueSource: 'value-source' });
  });

  it('rejects bad input with errors that name the flag or file', async () => {
    const out = join(tmp, 'bad');
    const base = ['sae', 'train', '--data', dataPath, '--out', out, '--no-progress'];
    await expect(cli([...base, '--variant', 'topk', '--d-sea', '8'])).rejects.toThrow(/Unknown arguments?: d-sea/);
    await expect(cli([...base, '--variant', 'nope', '--d-sae', '8'])).rejects.toThrow(/Invalid values:[\s\S]*variant/);
    await expect(cli([...base, '--variant', 'topk', '--d-sae', '8', '--k', '9'])).rejects.toThrow(/'k': 9 exceeds dSae = 8 \(flag --k\)/);
    await expect(cli([...base, '--variant', 'topk', '--d-sae', 'many'])).rejects.toThrow(/--d-sae: expected a number/);
    await expect(cli([...base, '--variant', 'topk'])).rejects.toThrow(/--d-sae is required/);
    await expect(cli([...base, '--d-sae', '8'])).rejects.toThrow(/--variant is required/);
    await expect(cli([...base, '--variant', 'topk', '--d-sae', '8', '--batch-size', '0'])).rejects.toThrow(/'batchSize': must be a positive integer, got 0 \(flag --batch-size\)/);
    await expect(cli(['sae', 'train', '--data', join(tmp, 'missing.safetensors'), '--out', out, '--variant', 'topk', '--d-sae', '8'])).rejects.toThrow(/--data: '.*missing.safetensors' does not exist/);
    await expect(cli(['sae', 'train', '--data', xOnly, '--out', out, '--variant', 'gsae', '--d-sae', '8', '--no-progress'])).rejects.toThrow(/the g-SAE needs gradients/);
    await expect(cli(['sae', 'train', '--data', xOnly, '--out', out, '--variant', 'topk', '--d-sae', '8', '--x-key', 'x'])).rejects.toThrow(/no tensor named 'x' for the activations \(tensors: acts\)/);
    await expect(cli([...base, '--variant', 'topk', '--d-sae', '8', '--d-in', '5'])).rejects.toThrow(/--d-in 5 does not match the data's width 6/);
    const badCfg = join(tmp, 'bad.json');
    writeFileSync(badCfg, '{"variant": "topk", "dSea": 3}');
    await expect(cli([...base, '--config', badCfg])).rejects.toThrow(/unknown field 'dSea'/);
    writeFileSync(badCfg, '[1, 2]');
    await expect(cli([...base, '--config', badCfg])).rejects.toThrow(/must hold a JSON object/);
    await expect(cli([...base, '--variant', 'topk', '--d-sae', '8', '--resume'])).rejects.toThrow(/--resume continues with the checkpoint's config/);
    await expect(cli(['sae', 'train', '--data', dataPath, '--out', join(tmp, 'fresh'), '--resume'])).rejects.toThrow(/--resume: no checkpoint at/);
  });
});
