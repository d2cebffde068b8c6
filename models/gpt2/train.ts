/**
 * Language-model training for GPT-2 (nanoGPT's loop): random [B, T] windows of a tokenised
 * corpus, mean next-token cross-entropy, global-norm clipping, AdamW (decay on 2+-D tensors),
 * warm-up + cosine learning rate, periodic train/val loss estimates, atomic checkpoints with exact
 * resume. The whole update (forward, backward, clipping, AdamW) is one `E.jit`-compiled step.
 *
 * Reproducibility: one seed fixes everything. With `rng: 'gsae'` (default) three independent
 * streams of the project's generator come from it: `init` (parameters), `data` (training batches;
 * saved in checkpoints) and `eval` (forked per evaluation step, so evaluating never shifts the
 * training stream). With `rng: 'torch'` the seed is `torch.manual_seed`'s and initialisation and
 * batches replay nanoGPT's draws from PyTorch's generator exactly (init_torch.ts, batches.ts).
 * A run interrupted and resumed from its checkpoint produces bit-identical parameters to an
 * uninterrupted one.
 *
 * Dropout (`dropout`, nanoGPT's single probability, written to the config as HF's resid/embd/attn
 * pdrop) uses masks drawn per step from the stream `dropout` (dropout.ts); evaluation runs without.
 *
 * The options and their validation are in train_options.ts, the named configurations in presets.ts.
 */
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { hasDropout, makeConfig, type Gpt2Config } from './config.js';
import { makeDropoutMasks, type DropoutMasks } from './dropout.js';
import { assertReplaceable, findCheckpoint, loadCheckpoint, saveCheckpoint, STATE_VERSION, type TrainerState } from './checkpoint.js';
import { GsaeSampler, TorchSampler, type BatchSampler } from './batches.js';
import { tokenizeCorpus, type HostBatch } from './data.js';
import { initParamsTorch } from './init_torch.js';
import { lossFn } from './model.js';
import { countParams, initParams, writeFileAtomic, type Gpt2Params } from './params.js';
import { loadTokenizer } from './tokenizer.js';
import { adamwInit, adamwScalars, adamwUpdate, type AdamWConfig, type AdamWMoments } from '../optim/adamw.js';
import { clipByGlobalNorm, globalNorm, learningRate } from '../optim/schedule.js';
import { adamwOf, optionsRecord, resumeDiffs, scheduleOf, validateTrainOptions, type TrainOptions } from './train_options.js';

export interface StepInfo {
  step: number;
  iters: number;
  loss: number;
  gradNorm: number;
  lr: number;
  tokensPerStep: number;
}
export interface EvalInfo {
  step: number;
  trainLoss: number;
  valLoss: number;
  lr: number;
}

export interface TrainCallbacks {
  onStart?(info: { step: number; iters: number; params: number; cfg: Gpt2Config; resumedFrom: string | null; trainTokens: number; valTokens: number; vocab: number }): void;
  onStep?(info: StepInfo): void;
  onEval?(info: EvalInfo): void;
  onCheckpoint?(dir: string, step: number): void;
  log?(msg: string): void;
  /** Polled after every step; true stops the run after writing a checkpoint (e.g. on Ctrl-C). */
  shouldStop?(): boolean;
}

export interface TrainControl {
  /** Continue from the checkpoint in `out` if there is one (error if the options differ). */
  resume?: boolean;
  /** Stop (with a checkpoint) once this many steps are done in total: simulates an interruption. */
  stopAfter?: number;
}

export interface TrainResult {
  out: string;
  step: number;
  completed: boolean;
  valLoss: number | null;
  trainLoss: number | null;
  history: TrainerState['history'];
  /** Seconds spent in this process's training steps, and the throughput over them. */
  trainSeconds: number;
  tokensPerSecond: number;
  wallSeconds: number;
  params: Gpt2Params;
  cfg: Gpt2Config;
}

type StepFn = ((
  params: Gpt2Params,
  m: Record<string, E.Tensor>,
  v: Record<string, E.Tensor>,
  x: E.Tensor,
  y: E.Tensor,
  decay: E.Tensor,
  stepSize: E.Tensor,
  bc2Sqrt: E.Tensor,
  dropout: DropoutMasks,
) => { loss: E.Tensor; norm: E.Tensor; params: Gpt2Params; m: Record<string, E.Tensor>; v: Record<string, E.Tensor> }) &
  { cacheSize(): number; dispose(): void };

/**
 * The compiled update: loss and gradients, clipping, AdamW. With `donate` (the default) the step
 * consumes params, m and v (they are disposed by the call): each old tensor is freed once its new
 * value exists, so the step never holds two copies of the model and its moments (GPT-2 small's
 * 124M parameters would otherwise not fit the 4 GiB WebAssembly heap).
 */
export function makeTrainStep(cfg: Gpt2Config, opt: AdamWConfig, gradClip: number, donate = true): StepFn {
  return E.jit((params: Gpt2Params, m: Record<string, E.Tensor>, v: Record<string, E.Tensor>, x: E.Tensor, y: E.Tensor, decay: E.Tensor, stepSize: E.Tensor, bc2Sqrt: E.Tensor, dropout: DropoutMasks) => {
    const [loss, grads] = E.valueAndGrad((p: Gpt2Params) => lossFn(p, cfg, x, y, { checkTokens: false, dropout }))(params) as [E.Tensor, Gpt2Params];
    const clipped = gradClip > 0 ? clipByGlobalNorm(grads, gradClip) : { grads, norm: globalNorm(grads) };
    const upd = adamwUpdate(params, clipped.grads, { m, v }, { decay, stepSize, bc2Sqrt }, opt);
    return { loss, norm: clipped.norm, params: upd.params, m: upd.m, v: upd.v };
  }, { donateArgnums: donate ? [0, 1, 2] : [] }) as unknown as StepFn;
}

/** The error that stops a diverged run: the step, what is non-finite, and which checkpoint survives. */
function divergence(step: number, loss: number, gradNorm: number, lr: number, params: Gpt2Params, out: string, lastCheckpoint: number | null): Error {
  const bad = Object.entries(params).filter(([, t]) => !(t.toArray() as Float32Array).every(Number.isFinite)).map(([k]) => k);
  const what = [`loss ${loss}`, `gradient norm ${gradNorm}`, bad.length ? `non-finite parameters after the update: ${bad.slice(0, 4).join(', ')}${bad.length > 4 ? ` and ${bad.length - 4} more` : ''}` : 'parameters still finite'];
  const kept = lastCheckpoint === null ? 'no checkpoint was written' : `the last good checkpoint (step ${lastCheckpoint}) in ${out} is kept`;
  return new Error(`train: diverged at step ${step} (${what.join('; ')}; lr ${lr.toPrecision(3)}); ${kept}. Lower --lr or enable --grad-clip`);
}

/** Mean loss over `n` batches from `next` (forward only). */
function estimateLoss(
  evalFn: (p: Gpt2Params, x: E.Tensor, y: E.Tensor) => E.Tensor,
  params: Gpt2Params,
  n: number,
  next: () => HostBatch,
): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const b = next();
    total += E.tidy(() => evalFn(params, ...batchTensors(b)).item());
  }
  return total / n;
}

function batchTensors(b: HostBatch): [E.Tensor, E.Tensor] {
  return [E.tensor(b.x, b.shape, 'int32'), E.tensor(b.y, b.shape, 'int32')];
}


/**
 * Trains (or resumes) according to `o`; writes checkpoints and `train_summary.json` to `o.out`.
 * Async only to yield to the event loop between steps (so Ctrl-C handlers and output run).
 */
export async function train(o: TrainOptions, cb: TrainCallbacks = {}, control: TrainControl = {}): Promise<TrainResult> {
  validateTrainOptions(o);
  const wall0 = performance.now();
  const log = cb.log ?? (() => {});
  const root = new E.Rng(o.seed);
  const opt = adamwOf(o);
  const sched = scheduleOf(o);

  // ---- state: fresh or from the checkpoint
  let cfg: Gpt2Config;
  let params: Gpt2Params;
  let moments: AdamWMoments;
  let state: TrainerState;
  // rng 'torch': one PyTorch generator, first for the initial weights, then for every batch.
  const torchGen: E.TorchGenerator | null = o.rng === 'torch' ? new E.TorchGenerator(o.seed) : null;
  const existing = findCheckpoint(o.out);
  if (!existing) assertReplaceable(o.out); // before any work: the first checkpoint would replace it
  if (existing && !control.resume) {
    throw new Error(`train: ${existing} already holds a training checkpoint; resume it (--resume) or choose another output directory`);
  }
  const from = control.resume ? existing : null;
  if (control.resume && !from) log(`no checkpoint in ${o.out}: starting a new run`);
  let corpus;
  if (from) {
    const ck = loadCheckpoint(from);
    const diffs = resumeDiffs(ck.state.trainConfig, o);
    if (diffs.length) {
      E.dispose([ck.params, ck.moments]);
      throw new Error(`train: cannot resume ${from}: these options differ from the checkpoint's: ${diffs.join(', ')}`);
    }
    ({ cfg, params, moments, state } = ck);
    corpus = tokenizeCorpus(o.data, o.tokenizer, o.trainFrac, loadTokenizer(from));
    log(`resuming from ${from} at step ${state.step}`);
  } else {
    corpus = tokenizeCorpus(o.data, o.tokenizer, o.trainFrac);
    cfg = makeConfig({
      vocab_size: corpus.tokenizer.vocabSize,
      n_positions: o.blockSize,
      n_embd: o.nEmbd,
      n_layer: o.nLayer,
      n_head: o.nHead,
      bias: o.bias,
      activation_function: o.activation,
      resid_pdrop: o.dropout,
      embd_pdrop: o.dropout,
      attn_pdrop: o.dropout,
      bos_token_id: corpus.tokenizer.eot,
      eos_token_id: corpus.tokenizer.eot,
    });
    params = torchGen ? initParamsTorch(cfg, torchGen) : initParams(cfg, root.fork('init'));
    moments = adamwInit(params);
    state = { version: STATE_VERSION, step: 0, dataRng: [], trainConfig: optionsRecord(o), history: [], elapsedS: 0, tokensSeen: 0 };
  }
  // The checkpoint's config decides (a resumed run keeps its dropout); a fresh one has o.dropout.
  const dropoutRng = hasDropout(cfg) ? root.fork('dropout') : null;
  if (cfg.n_positions < o.blockSize) throw new Error(`train: block size ${o.blockSize} exceeds the model's n_positions ${cfg.n_positions}`);
  for (const [name, d] of [['train', corpus.train], ['validation', corpus.val]] as const) {
    if (d.length <= o.blockSize) throw new Error(`train: the ${name} split of ${o.data} has ${d.length} tokens, too few for block size ${o.blockSize}`);
  }
  const B = o.batchSize;
  const T = o.blockSize;
  const sampler: BatchSampler = torchGen ? new TorchSampler(torchGen, corpus, B, T) : new GsaeSampler(root, corpus, B, T);
  if (from) sampler.setState(state.dataRng);
  cb.onStart?.({
    step: state.step, iters: o.iters, params: countParams(cfg), cfg, resumedFrom: from,
    trainTokens: corpus.train.length, valTokens: corpus.val.length, vocab: corpus.tokenizer.vocabSize,
  });

  const step = makeTrainStep(cfg, opt, o.gradClip);
  const evalFn = E.jit((p: Gpt2Params, x: E.Tensor, y: E.Tensor) => lossFn(p, cfg, x, y, { checkTokens: false }));
  let trainSeconds = 0;
  let lastVal: number | null = null;
  let lastTrain: number | null = null;

  const evaluate = (at: number) => {
    const trainLoss = estimateLoss(evalFn, params, o.evalIters, () => sampler.evalBatch('train', at));
    const valLoss = estimateLoss(evalFn, params, o.evalIters, () => sampler.evalBatch('val', at));
    const lr = learningRate(sched, Math.min(at, Math.max(o.iters - 1, 0)));
    state.history = state.history.filter((h) => h.step !== at);
    state.history.push({ step: at, trainLoss, valLoss, lr });
    lastVal = valLoss;
    lastTrain = trainLoss;
    cb.onEval?.({ step: at, trainLoss, valLoss, lr });
  };
  let lastCheckpoint: number | null = from ? state.step : null;
  const checkpoint = () => {
    state.dataRng = sampler.getState();
    saveCheckpoint(o.out, { cfg, params, moments, state }, corpus.tokenizer);
    lastCheckpoint = state.step;
    cb.onCheckpoint?.(o.out, state.step);
  };

  let stopped = false;
  try {
    while (state.step < o.iters) {
      const it = state.step;
      if (it % o.evalInterval === 0) evaluate(it);
      const lr = learningRate(sched, it);
      const batch = sampler.train();
      const t0 = performance.now();
      const sc = adamwScalars(it + 1, lr, opt);
      const [x, y] = batchTensors(batch);
      const masks = dropoutRng ? makeDropoutMasks(cfg, B, T, dropoutRng.fork(it)) : {};
      const out = E.tidy(() => step(params, moments.m, moments.v, x, y, sc.decay, sc.stepSize, sc.bc2Sqrt, masks));
      const loss = out.loss.item();
      const gradNorm = out.norm.item();
      E.dispose([x, y, sc, masks, out.loss, out.norm]); // params and moments were donated to the step
      params = out.params;
      moments = { m: out.m, v: out.v };
      const dt = (performance.now() - t0) / 1000;
      trainSeconds += dt;
      state.elapsedS += dt;
      state.tokensSeen += B * T;
      state.step = it + 1;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) throw divergence(state.step, loss, gradNorm, lr, params, o.out, lastCheckpoint);
      cb.onStep?.({ step: state.step, iters: o.iters, loss, gradNorm, lr, tokensPerStep: B * T });
      const interrupted = (control.stopAfter !== undefined && state.step >= control.stopAfter) || (cb.shouldStop?.() ?? false);
      if (interrupted && state.step < o.iters) {
        checkpoint();
        stopped = true;
        break;
      }
      if (o.checkpointInterval > 0 && state.step % o.checkpointInterval === 0 && state.step < o.iters) checkpoint();
      await new Promise((r) => setImmediate(r));
    }
    if (!stopped) {
      evaluate(state.step);
      checkpoint();
    }
  } finally {
    step.dispose();
    evalFn.dispose();
    // The moments live in the checkpoint; only the parameters are handed back.
    E.dispose(moments);
  }
  const wallSeconds = (performance.now() - wall0) / 1000;
  const result: TrainResult = {
    out: o.out,
    step: state.step,
    completed: !stopped,
    valLoss: lastVal,
    trainLoss: lastTrain,
    history: state.history,
    trainSeconds,
    tokensPerSecond: state.elapsedS > 0 ? state.tokensSeen / state.elapsedS : 0,
    wallSeconds,
    params,
    cfg,
  };
  if (!stopped) {
    const summary = {
      val_loss: lastVal,
      train_loss: lastTrain,
      steps: state.step,
      tokens_seen: state.tokensSeen,
      train_seconds_total: state.elapsedS,
      tokens_per_second: result.tokensPerSecond,
      backend: E.backend().name,
      params: countParams(cfg),
      options: optionsRecord(o),
      history: state.history,
    };
    writeFileAtomic(join(o.out, 'train_summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }
  return result;
}
