/** `gsae features` refuses bad input with one clear line each, before doing any work. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../cli_helpers.js';
import { featuresCommand } from '../../cli/commands/features.js';
import { CORPUS, TINY_MODEL } from '../../experiments/default_model.js';
import { randomSae, tinyStore, tmp } from './helpers.js';

const dir = tmp();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (argv: string[]) => runCli(featuresCommand, ['features', ...argv, '--model', TINY_MODEL, '--no-progress', '--steering-contexts', '0']);

/** The error the command fails with: asserted to be a single line. */
async function failure(argv: string[]): Promise<string> {
  try {
    await cli(argv);
  } catch (e) {
    const msg = (e as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    return msg;
  }
  throw new Error('the command did not fail');
}

describe('gsae features: bad input', () => {
  let store: string;
  let noGrad: string;
  let topk: string;
  beforeAll(() => {
    store = tinyStore(join(dir, 'store'), { seqs: 4, seqLen: 8 });
    noGrad = tinyStore(join(dir, 'nograd'), { seqs: 4, seqLen: 8, withGrad: false });
    topk = randomSae(join(dir, 'topk'), { kind: 'topk', dIn: 128, dSae: 8, k: 2, seed: 1 });
  });

  it('runs on good input (the baseline the failures differ from)', async () => {
    const out = await cli([topk, '--store', store]);
    expect(out.join('\n')).toMatch(/features of 8 latents over 32 held-out tokens/);
    expect(existsSync(join(topk, 'features', 'index.json'))).toBe(true);
  });

  it('an SAE and a store of different d_in', async () => {
    const narrow = randomSae(join(dir, 'narrow'), { kind: 'topk', dIn: 64, dSae: 8, k: 2, seed: 1 });
    expect(await failure([narrow, '--store', store])).toMatch(/has d_in = 64 but store .* holds rows of width 128/);
  });

  it('a store without gradients for a g-SAE', async () => {
    const g = randomSae(join(dir, 'gsae'), { kind: 'gsae', dIn: 128, dSae: 8, k: 2, seed: 1 });
    expect(await failure([g, '--store', noGrad])).toMatch(/is a g-SAE .* holds no gradients/);
  });

  it('a missing model directory', async () => {
    try {
      await runCli(featuresCommand, ['features', topk, '--store', store, '--model', join(dir, 'no-such-model'), '--no-progress']);
      throw new Error('did not fail');
    } catch (e) {
      expect((e as Error).message).toMatch(/model directory .*no-such-model has no config.json/);
    }
  });

  it('a missing store, and an empty one', async () => {
    expect(await failure([topk, '--store', join(dir, 'nothing')])).toMatch(/--store .*nothing: no such directory/);
    const notStore = join(dir, 'not-a-store');
    mkdirSync(notStore);
    expect(await failure([topk, '--store', notStore])).toMatch(/not an activation store \(no manifest.json\)/);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'manifest.json'), JSON.stringify({
      format: 'gsae-store', version: 1, hook: 'blocks.2.hook_resid_pre', d: 128, withGrad: true, gradReduction: 'sum', modelId: 'x',
      tokens: { source: 'data/tinyshakespeare/input.txt#val', start: 0, end: 0 }, seqLen: 8, seqsPerShard: 4, totalSeqs: 0, shards: [], complete: true,
    }));
    expect(await failure([topk, '--store', empty])).toMatch(/the store holds no sequences|marked complete but lists no shards/);
  });

  it("a store that overlaps the SAE's training tokens (recorded in cfg.json dataset_path)", async () => {
    const train = tinyStore(join(dir, 'train'), { seqs: 4, seqLen: 8, start: 16 });
    const trained = randomSae(join(dir, 'trained'), { kind: 'topk', dIn: 128, dSae: 8, k: 2, seed: 1, datasetPath: train });
    // the store covers val tokens [0, 32), the training store [16, 48)
    expect(await failure([trained, '--store', store])).toMatch(/is not held out: its tokens \[0, 32\) .* overlap the SAE's training tokens \[16, 48\)/);
    const later = tinyStore(join(dir, 'later'), { seqs: 2, seqLen: 8, start: 48 });
    const out = await cli([trained, '--store', later]);
    expect(out.join('\n')).toMatch(/features of 8 latents over 16 held-out tokens/);
  });

  it("an experiment's SAE: the training range comes from the suite's results.json (storeTrainTokens of the train split)", async () => {
    const suite = join(dir, 'suite');
    mkdirSync(join(suite, 'runs', 'topk-s0'), { recursive: true });
    writeFileSync(join(suite, 'results.json'), JSON.stringify({ meta: { config: { storeTrainTokens: 64 } }, rows: [] }));
    const sae = randomSae(join(suite, 'runs', 'topk-s0', 'sae'), { kind: 'topk', dIn: 128, dSae: 8, k: 2, seed: 1, datasetPath: CORPUS });
    const inTrain = tinyStore(join(dir, 'train-early'), { seqs: 2, seqLen: 8, start: 48, split: 'train' });
    expect(await failure([sae, '--store', inTrain])).toMatch(/is not held out: its tokens \[48, 64\) of .*#train overlap the SAE's training tokens \[0, 64\)/);
    const after = tinyStore(join(dir, 'train-after'), { seqs: 2, seqLen: 8, start: 64, split: 'train' });
    await cli([sae, '--store', after]);
    const ix = JSON.parse(readFileSync(join(sae, 'features', 'index.json'), 'utf8')) as { heldOut: { checked: boolean; note: string } };
    expect(ix.heldOut.checked).toBe(true);
    expect(ix.heldOut.note).toMatch(/storeTrainTokens 64/);
    // the validation split is held out from a train-split range
    await cli([sae, '--store', store]);
  });

  it('bad option values name the option', async () => {
    expect(await failure([topk, '--store', store, '--quantile-sections', '10'])).toMatch(/--quantile-sections must be a power of two/);
    expect(await failure([topk, '--store', store, '--block-size', '0'])).toMatch(/blockSize must be a positive integer/);
  });
});
