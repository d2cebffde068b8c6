/**
 * `gsae lm train | eval | sample`: train a GPT-2 on a text corpus, evaluate any HF GPT-2
 * directory, and sample from one.
 */
import { existsSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import * as E from '../../engine/index.js';
import { loadHfDir } from '../../models/gpt2/params.js';
import { lmLoss, forward, tokensTensor, checkTokenValues } from '../../models/gpt2/model.js';
import { loadTokenizer } from '../../models/gpt2/tokenizer.js';
import { generate } from '../../models/gpt2/sample.js';
import type { Gpt2Config } from '../../models/gpt2/config.js';
import type { Gpt2Params } from '../../models/gpt2/params.js';
import type { Tokenizer } from '../../models/gpt2/tokenizer.js';
import { parseSteerFlag, resolveSteers, steeredSample } from '../../experiments/features/steer_sample.js';
import { sequentialBatches, tokenizeCorpus } from '../../models/gpt2/data.js';
import { train } from '../../models/gpt2/train.js';
import { PRESETS, PRESET_CORPUS } from '../../models/gpt2/presets.js';
import type { TrainOptions } from '../../models/gpt2/train_options.js';
import { InterruptedError, watchInterrupt } from '../interrupt.js';
import { Progress, formatDuration } from '../../engine/io/progress.js';

const DEFAULT_CORPUS = 'data/tinyshakespeare/input.txt';

function useBackend(name: string | undefined): void {
  if (name) E.setBackend(name);
}

/** Rejects NaN from yargs' number parsing, naming the flag. */
function requireNumbers(args: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) {
    const v = args[k];
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw new Error(`--${k} expects a number`);
  }
}

function requireIntFlag(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
}

// ---------------------------------------------------------------- train

const TRAIN_FLAGS: Record<string, { key: keyof TrainOptions; describe: string; type: 'number' | 'string' | 'boolean' }> = {
  tokenizer: { key: 'tokenizer', describe: 'char | gpt2 | gpt2-restricted (GPT-2 BPE renumbered to the corpus tokens)', type: 'string' },
  'train-frac': { key: 'trainFrac', describe: 'fraction of the characters used for training (the rest validates)', type: 'number' },
  'n-layer': { key: 'nLayer', describe: 'transformer blocks', type: 'number' },
  'n-head': { key: 'nHead', describe: 'attention heads', type: 'number' },
  'n-embd': { key: 'nEmbd', describe: 'embedding width', type: 'number' },
  bias: { key: 'bias', describe: 'biases in Linear and LayerNorm layers (--no-bias: nanoGPT\'s bias=False)', type: 'boolean' },
  dropout: { key: 'dropout', describe: 'dropout probability at every site (HF resid/embd/attn_pdrop; nanoGPT\'s --dropout); evaluation runs without', type: 'number' },
  activation: { key: 'activation', describe: "MLP activation: gelu_new (tanh GELU, GPT-2) or gelu (exact erf GELU, nanoGPT)", type: 'string' },
  'block-size': { key: 'blockSize', describe: 'context length (n_positions)', type: 'number' },
  'batch-size': { key: 'batchSize', describe: 'sequences per step', type: 'number' },
  iters: { key: 'iters', describe: 'optimizer steps in total', type: 'number' },
  lr: { key: 'lr', describe: 'peak learning rate', type: 'number' },
  'min-lr': { key: 'minLr', describe: 'learning rate at the end of the cosine', type: 'number' },
  'warmup-iters': { key: 'warmupIters', describe: 'linear warm-up steps', type: 'number' },
  'decay-iters': { key: 'decayIters', describe: 'step where the cosine reaches min-lr (default: iters)', type: 'number' },
  decay: { key: 'decay', describe: 'cosine | constant', type: 'string' },
  beta1: { key: 'beta1', describe: 'AdamW beta1', type: 'number' },
  beta2: { key: 'beta2', describe: 'AdamW beta2', type: 'number' },
  eps: { key: 'eps', describe: 'AdamW epsilon', type: 'number' },
  'weight-decay': { key: 'weightDecay', describe: 'AdamW decoupled weight decay (2+-D tensors only)', type: 'number' },
  'grad-clip': { key: 'gradClip', describe: 'global-norm gradient clipping (0: off)', type: 'number' },
  'eval-interval': { key: 'evalInterval', describe: 'estimate train/val loss every N steps', type: 'number' },
  'eval-iters': { key: 'evalIters', describe: 'batches per loss estimate', type: 'number' },
  seed: { key: 'seed', describe: 'seed of every random choice', type: 'number' },
  rng: { key: 'rng', describe: "random streams: gsae (the project's generator) or torch (torch.manual_seed(seed) in nanoGPT's order: its initial weights and batches)", type: 'string' },
  'checkpoint-interval': { key: 'checkpointInterval', describe: 'write a checkpoint every N steps (0: only at the end)', type: 'number' },
};

interface TrainArgs {
  preset: string;
  data?: string;
  out: string;
  resume: boolean;
  backend?: string;
  json: boolean;
  [k: string]: unknown;
}

const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a GPT-2 on a text corpus (checkpoints are HF directories; resumable)',
  builder: (y: Argv) => {
    let b = y
      .option('preset', { type: 'string', default: 'default', choices: Object.keys(PRESETS), describe: 'starting configuration; flags override it' })
      .option('data', { type: 'string', describe: `UTF-8 text corpus (.gz read as gzip; a+b mixes corpora, each split on its own); default: the preset's (mix: ${PRESET_CORPUS.mix}), else ${DEFAULT_CORPUS}` })
      .option('out', { type: 'string', demandOption: true, describe: 'output (checkpoint) directory' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from the checkpoint in --out' })
      .option('backend', { type: 'string', describe: 'compute backend (see `gsae backends`)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the final summary as JSON on stdout' });
    for (const [flag, f] of Object.entries(TRAIN_FLAGS)) b = b.option(flag, { type: f.type, describe: f.describe });
    return b.example('$0 lm train --preset nanogpt-char --out runs/char', 'nanoGPT\'s char-level anchor') as unknown as Argv<TrainArgs>;
  },
  handler: async (args) => {
    requireNumbers(args, Object.entries(TRAIN_FLAGS).filter(([, f]) => f.type === 'number').map(([k]) => k));
    useBackend(args.backend);
    const preset = PRESETS[args.preset];
    if (!preset) throw new Error(`--preset must be one of ${Object.keys(PRESETS).join(', ')}`);
    const data = args.data ?? PRESET_CORPUS[args.preset] ?? DEFAULT_CORPUS;
    for (const part of data.split('+')) if (!existsSync(part)) throw new Error(`--data: corpus file '${part}' does not exist`);
    const o: TrainOptions = { ...preset, data, out: args.out };
    const rec = o as unknown as Record<string, unknown>;
    for (const [flag, f] of Object.entries(TRAIN_FLAGS)) if (args[flag] !== undefined) rec[f.key] = args[flag];
    // Like nanoGPT's lr_decay_iters = max_iters: the cosine spans the run unless told otherwise.
    if (args.iters !== undefined && args['decay-iters'] === undefined) o.decayIters = o.iters;
    if (!['char', 'gpt2', 'gpt2-restricted'].includes(o.tokenizer)) throw new Error(`--tokenizer must be char, gpt2 or gpt2-restricted, got '${o.tokenizer}'`);
    if (o.activation !== 'gelu_new' && o.activation !== 'gelu') throw new Error(`--activation must be gelu_new or gelu, got '${o.activation}'`);
    if (o.decay !== 'cosine' && o.decay !== 'constant') throw new Error(`--decay must be cosine or constant, got '${o.decay}'`);
    if (o.rng !== 'gsae' && o.rng !== 'torch') throw new Error(`--rng must be gsae or torch, got '${o.rng}'`);
    if (o.rng === 'torch' && o.seed < 0) throw new Error(`--seed must be >= 0 with --rng torch (it is torch.manual_seed's), got ${o.seed}`);

    let bar: Progress | null = null;
    const say = (m: string) => (bar ? bar.log(m) : process.stderr.write(`${m}\n`));
    const interrupt = watchInterrupt(say, 'finishing this step and writing a checkpoint');
    try {
      const res = await train(
        o,
        {
          log: say,
          onStart: (i) => {
            say(
              `${i.resumedFrom ? `resumed from ${i.resumedFrom} at step ${i.step}` : 'new model'}: ${i.params.toLocaleString('en-US')} parameters, ` +
                `${i.cfg.n_layer}L/${i.cfg.n_head}H/${i.cfg.n_embd}, vocab ${i.vocab}, context ${i.cfg.n_positions}; ` +
                `${i.trainTokens.toLocaleString('en-US')} train / ${i.valTokens.toLocaleString('en-US')} val tokens; backend ${E.backend().name}`,
            );
            bar = new Progress({ total: i.iters, label: 'train', start: i.step });
          },
          onStep: (s) => bar?.update({ done: s.step, loss: s.loss, tokensPerItem: s.tokensPerStep, extra: `lr ${s.lr.toExponential(2)}` }),
          onEval: (e) => say(`step ${e.step}: train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}`),
          onCheckpoint: (dir, step) => say(`checkpoint: ${dir} (step ${step})`),
          shouldStop: interrupt.requested,
        },
        { resume: args.resume },
      );
      const b = bar as Progress | null;
      if (!res.completed && interrupt.requested()) {
        throw new InterruptedError(`interrupted at step ${res.step} of ${o.iters}; checkpoint in ${res.out}: run the same command with --resume to continue`);
      }
      const summary = `${res.completed ? 'finished' : 'stopped'} at step ${res.step}` + (res.completed && res.valLoss !== null ? `, val loss ${res.valLoss.toFixed(4)}` : '') + `, ${res.tokensPerSecond.toFixed(0)} tok/s in training steps`;
      if (b) b.finish(summary);
      else say(summary);
      if (args.json) {
        console.log(JSON.stringify({ out: res.out, step: res.step, completed: res.completed, val_loss: res.valLoss, train_loss: res.trainLoss, tokens_per_second: res.tokensPerSecond, wall_seconds: res.wallSeconds, backend: E.backend().name }));
      } else if (!res.completed) {
        say(`resume with the same flags plus --resume (wall ${formatDuration(res.wallSeconds)})`);
      }
    } finally {
      interrupt.dispose();
    }
  },
};

// ---------------------------------------------------------------- eval

interface EvalArgs {
  model: string;
  tokens?: string;
  text?: string;
  data?: string;
  split: string;
  'train-frac': number;
  'batch-size': number;
  'block-size'?: number;
  json: boolean;
  backend?: string;
}

function parseTokenList(s: string): number[] {
  const parts = s.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new Error(`--tokens must be comma-separated integer ids, got '${s}'`);
  return parts.map((p) => {
    if (!/^-?\d+$/.test(p)) throw new Error(`--tokens: '${p}' is not an integer token id`);
    return Number(p);
  });
}

const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: 'Mean next-token loss of a GPT-2 directory on token ids, a text, or a corpus split',
  builder: (y: Argv) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'HF GPT-2 directory (config.json + model.safetensors)' })
      .option('tokens', { type: 'string', describe: 'comma-separated token ids, e.g. 464,3290,318' })
      .option('text', { type: 'string', describe: 'text, encoded with the model\'s tokenizer' })
      .option('data', { type: 'string', describe: 'corpus file: loss over every block of a split' })
      .option('split', { type: 'string', default: 'val', choices: ['train', 'val'], describe: 'with --data: which split' })
      .option('train-frac', { type: 'number', default: 0.9, describe: 'with --data: training fraction of the characters' })
      .option('batch-size', { type: 'number', default: 8, describe: 'with --data: sequences per forward pass' })
      .option('block-size', { type: 'number', describe: 'with --data: sequence length (default: n_positions)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout' })
      .option('backend', { type: 'string', describe: 'compute backend (see `gsae backends`)' })
      .check((a) => {
        const n = [a.tokens, a.text, a.data].filter((v) => v !== undefined).length;
        if (n !== 1) throw new Error('give exactly one of --tokens, --text or --data');
        return true;
      })
      .example('$0 lm eval --model runs/m --tokens 1,2,3 --json', 'loss and last-position logits as JSON') as unknown as Argv<EvalArgs>,
  handler: async (args) => {
    requireNumbers(args as unknown as Record<string, unknown>, ['train-frac', 'batch-size', 'block-size']);
    useBackend(args.backend);
    const { cfg, params } = loadHfDir(args.model);
    if (args.data !== undefined) {
      requireIntFlag('batch-size', args['batch-size'], 1);
      const T = args['block-size'] ?? cfg.n_positions;
      requireIntFlag('block-size', T, 2);
      if (T > cfg.n_positions) throw new Error(`--block-size ${T} exceeds the model's n_positions ${cfg.n_positions}`);
      const tok = loadTokenizer(args.model);
      const corpus = tokenizeCorpus(args.data, tok.kind, args['train-frac'], tok);
      const ids = args.split === 'train' ? corpus.train : corpus.val;
      let total = 0;
      let count = 0;
      const bar = args.json ? null : new Progress({ total: Math.ceil(Math.floor((ids.length - 1) / T) / args['batch-size']), label: 'eval' });
      let k = 0;
      for (const b of sequentialBatches(ids, args['batch-size'], T)) {
        total += E.tidy(() => {
          const x = E.tensor(b.x, b.shape, 'int32');
          const y = E.tensor(b.y, b.shape, 'int32');
          return lmLoss(forward(params, cfg, x, { checkTokens: false }), x, y, 'sum').item();
        });
        count += b.x.length;
        bar?.update({ done: ++k, loss: total / count, tokensPerItem: b.x.length });
      }
      if (count === 0) throw new Error(`--data: the ${args.split} split has too few tokens for block size ${T}`);
      bar?.finish();
      const loss = total / count;
      if (args.json) console.log(JSON.stringify({ loss, tokens: count, split: args.split }));
      else console.log(`${args.split} loss ${loss.toFixed(4)} over ${count} tokens`);
      return;
    }
    let ids: number[];
    if (args.tokens !== undefined) ids = parseTokenList(args.tokens);
    else ids = loadTokenizer(args.model).encode(args.text!);
    checkTokenValues(ids, cfg.vocab_size, '--tokens');
    if (ids.length > cfg.n_positions) throw new Error(`${ids.length} tokens exceed the model's context n_positions = ${cfg.n_positions}`);
    const { loss, logits } = E.tidy(() => {
      const x = tokensTensor(cfg, ids);
      const lg = forward(params, cfg, x);
      const last = Array.from(lg.toArray().slice((ids.length - 1) * cfg.vocab_size));
      const l = ids.length >= 2 ? lmLoss(lg, x, undefined, 'mean').item() : null;
      return { loss: l, logits: last };
    });
    if (args.json) {
      console.log(JSON.stringify({ loss, logits }));
      return;
    }
    console.log(loss === null ? 'loss: n/a (a single token has no next-token target)' : `mean next-token loss ${loss.toFixed(6)} over ${ids.length - 1} predictions`);
    const top = logits.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
    let decode: ((i: number) => string) | null = null;
    try {
      const tok = loadTokenizer(args.model);
      if (tok.vocabSize === cfg.vocab_size) decode = (i) => JSON.stringify(tok.decode([i]));
    } catch {
      decode = null;
    }
    console.log(`top next tokens: ${top.map(([v, i]) => `${i}${decode ? ` ${decode(i)}` : ''} (${v.toFixed(3)})`).join(', ')}`);
  },
};

// ---------------------------------------------------------------- sample

interface SampleArgs {
  model: string;
  prompt?: string;
  tokens?: string;
  'max-new-tokens': number;
  temperature: number;
  'top-k'?: number;
  seed: number;
  json: boolean;
  backend?: string;
  steer?: string[];
}

const sampleCommand: CommandModule<object, SampleArgs> = {
  command: 'sample',
  describe: 'Continue a prompt with temperature / top-k sampling',
  builder: (y: Argv) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'HF GPT-2 directory' })
      .option('prompt', { type: 'string', describe: 'prompt text (default: end-of-text, or a newline for char models)' })
      .option('tokens', { type: 'string', describe: 'prompt as comma-separated token ids instead of text' })
      .option('max-new-tokens', { type: 'number', default: 200, describe: 'tokens to generate' })
      .option('temperature', { type: 'number', default: 0.8, describe: '> 0 scales the logits; 0 is greedy' })
      .option('top-k', { type: 'number', default: 200, describe: 'sample among the k most likely tokens' })
      .option('seed', { type: 'number', default: 1337, describe: 'seed of the sampling RNG' })
      .option('json', { type: 'boolean', default: false, describe: 'print {prompt_ids, ids, text} as JSON' })
      .option('backend', { type: 'string', describe: 'compute backend' })
      .option('steer', { type: 'string', array: true, describe: "<sae-dir>:<latent>:<coef> (repeatable): add coef·E||x||·d_i at the SAE's hook; prints plain and steered continuations (same seed) and the next-token top-10 change" })
      .conflicts('prompt', 'tokens') as unknown as Argv<SampleArgs>,
  handler: async (args) => {
    requireNumbers(args as unknown as Record<string, unknown>, ['max-new-tokens', 'temperature', 'top-k', 'seed']);
    requireIntFlag('max-new-tokens', args['max-new-tokens'], 0);
    if (args['top-k'] !== undefined) requireIntFlag('top-k', args['top-k'], 1);
    if (!Number.isSafeInteger(args.seed)) throw new Error(`--seed must be an integer, got ${args.seed}`);
    if (!(args.temperature >= 0)) throw new Error(`--temperature must be >= 0, got ${args.temperature}`);
    useBackend(args.backend);
    const { cfg, params } = loadHfDir(args.model);
    const tok = loadTokenizer(args.model);
    const canDecode = tok.vocabSize === cfg.vocab_size;
    let prompt: number[];
    if (args.tokens !== undefined) prompt = parseTokenList(args.tokens);
    else if (args.prompt !== undefined && args.prompt !== '') prompt = tok.encode(args.prompt);
    else if (tok.eot !== null) prompt = [tok.eot];
    else if (tok.kind === 'char') prompt = tok.encode('\n');
    else throw new Error('this model has no end-of-text token: give --prompt or --tokens');
    checkTokenValues(prompt, cfg.vocab_size, 'prompt');
    if (args.steer && args.steer.length > 0) {
      const topK = args['top-k'] !== undefined ? Math.min(args['top-k'], cfg.vocab_size) : undefined;
      return printSteeredSample(params, cfg, tok, prompt, args.steer, { maxNewTokens: args['max-new-tokens'], temperature: args.temperature, topK, seed: args.seed, json: args.json });
    }
    const stream = !args.json && canDecode;
    if (stream && args.prompt) process.stdout.write(args.prompt);
    // Stream text as it completes: a BPE token may end inside a multi-byte character, so the
    // whole continuation is decoded each time and only a suffix without a dangling U+FFFD printed.
    const sofar: number[] = [];
    let printed = 0;
    const onToken = (id: number) => {
      sofar.push(id);
      const text = tok.decode(sofar);
      if (text.endsWith('\uFFFD')) return;
      process.stdout.write(text.slice(printed));
      printed = text.length;
    };
    const ids = generate(params, cfg, prompt, {
      maxNewTokens: args['max-new-tokens'],
      temperature: args.temperature,
      topK: args['top-k'] !== undefined ? Math.min(args['top-k'], cfg.vocab_size) : undefined,
      rng: new E.Rng(args.seed),
      onToken: stream ? onToken : undefined,
    });
    if (stream) process.stdout.write(tok.decode(ids).slice(printed));
    if (args.json) console.log(JSON.stringify({ prompt_ids: prompt, ids, text: canDecode ? tok.decode(ids) : null }));
    else if (stream) process.stdout.write('\n');
    else console.log(ids.join(','));
  },
};

/** `lm sample --steer`: plain and steered continuations from the same seed (experiments/features/steer_sample.ts). */
function printSteeredSample(params: Gpt2Params, cfg: Gpt2Config, tok: Tokenizer, prompt: number[], flags: string[], o: { maxNewTokens: number; temperature: number; topK?: number; seed: number; json: boolean }): void {
  const { steers, dispose } = resolveSteers(flags.map(parseSteerFlag), params, cfg, prompt);
  try {
    const r = steeredSample(params, cfg, prompt, steers, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, topK: o.topK, seed: o.seed });
    const canDecode = tok.vocabSize === cfg.vocab_size;
    const text = (ids: number[]) => (canDecode ? tok.decode(ids) : ids.join(','));
    const steerInfo = steers.map((s) => ({ sae: s.saeDir, hook: s.hook, latent: s.latent, coef: s.coef, meanNorm: s.meanNorm, meanNormFrom: s.normSource, alpha: s.coef * s.meanNorm }));
    if (o.json) {
      console.log(JSON.stringify({ prompt_ids: prompt, steers: steerInfo, plain: { ids: r.plain, text: canDecode ? tok.decode(r.plain) : null }, steered: { ids: r.steered, text: canDecode ? tok.decode(r.steered) : null }, next_token: r.change }));
      return;
    }
    for (const s of steerInfo) console.log(`steer ${s.sae} latent ${s.latent} at ${s.hook}: c = ${s.coef}, α = c·E||x|| = ${s.alpha.toPrecision(4)} (E||x|| ${s.meanNorm.toPrecision(4)} from the ${s.meanNormFrom})`);
    const promptText = canDecode ? tok.decode(prompt) : prompt.join(',');
    console.log(`--- plain (seed ${o.seed})\n${promptText}${text(r.plain)}`);
    console.log(`--- steered (seed ${o.seed})\n${promptText}${text(r.steered)}`);
    const show = (id: number) => (canDecode ? JSON.stringify(tok.decode([id])) : String(id));
    const table = (rows: { id: number; clean: number; steered: number }[]) => rows.map((t) => `  ${show(t.id).padEnd(16)} ${t.clean.toFixed(4)} → ${t.steered.toFixed(4)} (${t.steered >= t.clean ? '+' : ''}${(t.steered - t.clean).toFixed(4)})`).join('\n');
    console.log(`--- next token after the prompt, top ${r.change.clean.length} clean: p clean → p steered\n${table(r.change.clean)}`);
    console.log(`--- top ${r.change.steered.length} steered\n${table(r.change.steered)}`);
  } finally {
    dispose();
  }
}

// ---------------------------------------------------------------- lm

export const lmCommand: CommandModule = {
  command: 'lm',
  describe: 'GPT-2 language models: train, eval, sample',
  builder: (y: Argv) =>
    y
      .command(trainCommand as unknown as CommandModule)
      .command(evalCommand as unknown as CommandModule)
      .command(sampleCommand as unknown as CommandModule)
      .demandCommand(1, 'Name an lm command: train, eval or sample'),
  handler: () => {},
};
