/**
 * The SAE trainer: any variant, batches from any `BatchSource`, one compiled step (E.jit) per
 * signature, Adam with warm-up/decay, SAELens-named logs (JSONL), a progress bar, atomic
 * checkpoints and exact resume.
 *
 * This file holds the run: its state on the device, the loop (plain or interruptible), log
 * records, divergence errors, checkpoints. The pieces it drives live beside it: the jitted step
 * (train_step.ts), the JSONL log (train_log.ts), the SAELens export (export.ts) and neuron
 * resampling (resampling.ts). The only per-step read-backs are the non-finite check and the dead
 * count (to decide whether the next step runs AuxK); metrics are read at log steps.
 *
 * Exact resume: the checkpoint holds the unfolded parameters, Adam moments, buffers, RNG state,
 * the source cursor and the AuxK flag; a resumed run replays the same kernels on the same
 * values, so it ends with bitwise the same weights as an uninterrupted run (tested).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { isTopkFamily, resolveConfig, type SaeTrainConfig } from './config.js';
import { host, initBDec, normalisationScale, toDevice, toHost, type HostParams, type Params } from './common.js';
import { adamScalars, type AdamState } from './adam.js';
import { lambdaAt, lrAt } from './schedule.js';
import { getVariant } from './variants.js';
import type { Variant } from './variant.js';
import { readRows, type BatchSource } from './data.js';
import { readCheckpoint, writeCheckpoint, type TrainCheckpoint } from './checkpoint.js';
import { writeSaelens } from './saelens.js';
import { makeSae, type SaeModel } from './model.js';
import { removeStaleTemps } from '../engine/io/atomic.js';
import { Progress } from '../engine/io/progress.js';
import { disposeReplaced, makeStepFn, scalar32, SINCE, type StepFn, type StepScalars } from './train_step.js';
import { appendLog, LOG_FILE, truncateLog, type LogRecord } from './train_log.js';
import { exportSaeOf, type ExportedSae } from './export.js';
import { resampleDeadLatents } from './resampling.js';

export interface RunResult {
  step: number;
  finished: boolean;
  lastLog: LogRecord | null;
}

/** A training step that failed or diverged; the message names the step. */
export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingError';
  }
}

export interface TrainerOptions {
  /** Folder for train_log.jsonl, checkpoint.msgpack and the SAELens export `sae/`. */
  outDir?: string;
  /** Show a progress bar on stderr. */
  progress?: boolean;
  /** Called with every log record (also written to the JSONL log when outDir is set). */
  onLog?: (rec: LogRecord) => void;
  /** Stop after this step (a checkpoint is written when outDir is set): time limits, tests. */
  stopAfterStep?: number;
}

export const CHECKPOINT_FILE = 'checkpoint.msgpack';
export const SAE_DIR = 'sae';

export class SaeTrainer {
  readonly variant: Variant;
  step = 0;
  tokens = 0;
  lastLog: LogRecord | null = null;
  /** Latents re-initialised by the last neuron resampling. */
  lastResampled: number[] = [];
  private params: Params;
  private opt: AdamState;
  private buffers: Params;
  private anyDead: boolean;
  private lastResample: number;
  private readonly rng: E.Rng;
  private readonly stepFn: StepFn;
  private progress: Progress | null = null;
  /** Step of the last checkpoint this run wrote or resumed from. */
  private checkpointStep: number | null = null;
  private readonly t0 = Date.now();

  private constructor(
    readonly cfg: SaeTrainConfig,
    readonly source: BatchSource,
    readonly scale: number,
    state: Pick<TrainCheckpoint, 'params' | 'adamM' | 'adamV' | 'buffers' | 'rng' | 'step' | 'tokens' | 'lastResample' | 'anyDead'>,
    private readonly opts: TrainerOptions,
  ) {
    this.variant = getVariant(cfg.variant);
    checkSource(cfg, this.variant, source);
    this.params = E.keep(toDevice(state.params));
    this.opt = E.keep({ m: toDevice(state.adamM), v: toDevice(state.adamV) });
    this.buffers = E.keep(toDevice(state.buffers));
    this.rng = new E.Rng(cfg.seed);
    this.rng.setState(state.rng);
    this.step = state.step;
    this.tokens = state.tokens;
    this.lastResample = state.lastResample;
    this.anyDead = state.anyDead;
    this.stepFn = makeStepFn(cfg, this.variant, scale);
    if (opts.outDir) mkdirSync(opts.outDir, { recursive: true });
  }

  /** A fresh run: b_dec and the normalisation factor from the first `initSamples` rows. */
  static create(partial: Partial<SaeTrainConfig> & Record<string, unknown>, source: BatchSource, opts: TrainerOptions = {}): SaeTrainer {
    const cfg = resolveConfig(partial);
    const variant = getVariant(cfg.variant);
    checkSource(cfg, variant, source);
    // Read the init sample without moving the cursor: those rows are trained on as usual.
    const cursor = source.getState();
    const sample = readRows(source, Math.min(cfg.initSamples, source.rows ?? cfg.initSamples), cfg.batchSize);
    source.setState(cursor);
    const scale = cfg.normalizeActivations === 'expected_average_only_in' ? normalisationScale(sample.x, sample.rows, cfg.dIn) : 1;
    const xs = scale === 1 ? sample.x : sample.x.map((v) => v * scale);
    const rng = new E.Rng(cfg.seed);
    const params = variant.init(cfg, rng.fork('init'), initBDec(cfg, xs, sample.rows));
    const zeros = (p: HostParams): HostParams => Object.fromEntries(Object.entries(p).map(([k, t]) => [k, host(t.shape)]));
    const buffers = { ...variant.initBuffers(cfg), [SINCE]: host([cfg.dSae]) };
    if (opts.outDir && existsSync(join(opts.outDir, LOG_FILE))) writeFileSync(join(opts.outDir, LOG_FILE), '');
    return new SaeTrainer(cfg, source, scale, {
      params,
      adamM: zeros(params),
      adamV: zeros(params),
      buffers,
      rng: rng.getState(),
      step: 0,
      tokens: 0,
      lastResample: 0,
      anyDead: false,
    }, opts);
  }

  /** Continues a run from its checkpoint; `source` must be the same data (its cursor is restored). */
  static resume(checkpointPath: string, source: BatchSource, opts: TrainerOptions = {}): SaeTrainer {
    const ck = readCheckpoint(checkpointPath);
    const cfg = resolveConfig(ck.cfg as SaeTrainConfig & Record<string, unknown>);
    if (ck.sourceInfo.dIn !== source.dIn || ck.sourceInfo.hasGrad !== source.hasGrad || ck.sourceInfo.rows !== source.rows) {
      throw new Error(
        `resume ${checkpointPath}: the data differ from the checkpoint's (${ck.sourceInfo.describe}: d=${ck.sourceInfo.dIn}, rows=${ck.sourceInfo.rows}, grads=${ck.sourceInfo.hasGrad}; ` +
          `now ${source.describe()}: d=${source.dIn}, rows=${source.rows}, grads=${source.hasGrad})`,
      );
    }
    source.setState(ck.source);
    if (opts.outDir) truncateLog(join(opts.outDir, LOG_FILE), ck.step);
    const t = new SaeTrainer(cfg, source, ck.scale, ck, opts);
    t.checkpointStep = ck.step;
    return t;
  }

  /** The config stored in a checkpoint (to rebuild its data source before resuming). */
  static peekConfig(checkpointPath: string): SaeTrainConfig {
    return readCheckpoint(checkpointPath).cfg;
  }

  /** Runs one optimisation step; returns the log record when this step logs, else null. */
  trainStep(): LogRecord | null {
    const { cfg } = this;
    const t = this.step + 1;
    const lr = lrAt(cfg, t, this.lastResample);
    const lambda = lambdaAt(cfg, t);
    const a = adamScalars(lr, t, cfg);
    const batch = this.source.next(cfg.batchSize);
    const B = batch.rows;
    const useG = this.variant.needsGrad;
    if (useG && !batch.g) throw new Error(`${this.source.describe()}: batch without gradients, but the g-SAE needs them`);
    const aux = isTopkFamily(cfg.variant) && cfg.auxkCoefficient > 0 && this.anyDead;
    const out = E.tidy(() => {
      const x = E.tensor(batch.x, [B, cfg.dIn]);
      const g = useG ? E.tensor(batch.g!, [B, cfg.dIn]) : null;
      const sc: StepScalars = {
        stepSize: scalar32(a.stepSize),
        sqrtBc2: scalar32(a.sqrtBc2),
        decay: scalar32(a.decay),
        coeff: scalar32(lambda),
        tau: scalar32(t === 1 ? 1 : cfg.thresholdLr),
      };
      try {
        return this.stepFn(this.params, this.opt, this.buffers, x, g, sc, aux);
      } catch (e) {
        throw new TrainingError(`step ${t}: ${(e as Error).message}${this.lastGood()}`);
      }
    });
    disposeReplaced({ p: this.params, o: this.opt, b: this.buffers }, out);
    this.params = E.keep(out.params);
    this.opt = E.keep(out.opt);
    this.buffers = E.keep(out.buffers);
    this.step = t;
    this.tokens += B;
    if (!Number.isFinite(out.nonFinite.item())) this.diverged(out.metrics, lr);
    out.nonFinite.dispose();
    const nDeadT = out.metrics['sparsity/dead_features']!;
    const logNow = t % cfg.logEvery === 0 || t === cfg.totalSteps;
    let rec: LogRecord | null = null;
    if (isTopkFamily(cfg.variant) || logNow) this.anyDead = nDeadT.item() > 0;
    if (logNow) {
      rec = { step: t, 'details/n_training_tokens': this.tokens };
      for (const [k, v] of Object.entries(out.metrics)) rec[k] = v.item();
      rec['details/current_learning_rate'] = lr;
      if (!isTopkFamily(cfg.variant)) rec['details/current_l1_coefficient'] = lambda;
      if (this.buffers.threshold) rec['details/topk_threshold'] = this.buffers.threshold.item(); // on z, which folding leaves unchanged
      rec['details/elapsed_seconds'] = (Date.now() - this.t0) / 1000;
      this.lastLog = rec;
      if (this.opts.outDir) appendLog(this.opts.outDir, rec);
      this.opts.onLog?.(rec);
    }
    E.dispose(out.metrics);
    if (cfg.resampleSteps.includes(t)) this.resample(t);
    if (this.progress) {
      const l = this.lastLog;
      this.progress.update({
        done: t,
        tokensPerItem: B,
        ...(l ? { loss: l['losses/overall_loss']!, extra: `mse ${l['losses/mse_loss']!.toPrecision(4)} L0 ${l['metrics/l0']!.toPrecision(4)} dead ${l['sparsity/dead_features']}` } : {}),
      });
    }
    return rec;
  }

  /** Trains to `totalSteps` (or `stopAfterStep`), checkpointing every `checkpointEvery` steps. */
  run(): RunResult {
    const it = this.steps();
    for (let r = it.next(); ; r = it.next()) if (r.done) return r.value;
  }

  /**
   * run(), yielding to the event loop after every step so that a signal handler can set
   * `stopRequested`; a requested stop ends the run after the current step with a checkpoint
   * (when outDir is set), and the result says `interrupted`.
   */
  async runInterruptible(stopRequested: () => boolean): Promise<RunResult & { interrupted: boolean }> {
    const it = this.steps();
    for (let r = it.next(); ; r = it.next()) {
      if (r.done) return { ...r.value, interrupted: false };
      await new Promise((res) => setImmediate(res));
      if (stopRequested() && this.step < this.cfg.totalSteps) {
        if (this.opts.outDir) this.saveCheckpoint();
        this.progress = null;
        return { step: this.step, finished: false, lastLog: this.lastLog, interrupted: true };
      }
    }
  }

  /** The training loop, one yield after each step (run() and runInterruptible() drive it). */
  private *steps(): Generator<void, RunResult, unknown> {
    const stop = Math.min(this.cfg.totalSteps, this.opts.stopAfterStep ?? Infinity);
    if (this.opts.progress) this.progress = new Progress({ total: this.cfg.totalSteps, label: `sae ${this.cfg.variant}`, start: this.step });
    while (this.step < stop) {
      this.trainStep();
      const ce = this.cfg.checkpointEvery;
      if (this.opts.outDir && ce > 0 && this.step % ce === 0 && this.step < stop) this.saveCheckpoint();
      yield;
    }
    if (this.opts.outDir) this.saveCheckpoint();
    const l = this.lastLog;
    this.progress?.finish(l ? `explained variance ${l['metrics/explained_variance']!.toPrecision(4)}, L0 ${l['metrics/l0']!.toPrecision(4)}` : undefined);
    this.progress = null;
    return { step: this.step, finished: this.step >= this.cfg.totalSteps, lastLog: this.lastLog };
  }

  /** Stops a run whose step produced NaN/Inf: names the step, the loss terms and the parameters. */
  private diverged(metrics: Record<string, E.Tensor>, lr: number): never {
    const losses = Object.entries(metrics).filter(([k]) => k.startsWith('losses/')).map(([k, v]) => `${k.slice(7)} ${v.item()}`);
    const bad = Object.entries(toHost(this.params)).filter(([, t]) => !t.data.every(Number.isFinite)).map(([k]) => k);
    throw new TrainingError(
      `step ${this.step} produced NaN or Inf (${losses.join(', ')}; ${bad.length ? `non-finite parameters: ${bad.join(', ')}` : 'parameters finite'}; lr ${lr.toPrecision(3)})` +
        `${this.lastGood()}; lower --lr`,
    );
  }

  /** Which checkpoint survives a failed step (for error messages). */
  private lastGood(): string {
    if (!this.opts.outDir) return '';
    const ck = join(this.opts.outDir, CHECKPOINT_FILE);
    return this.checkpointStep === null ? '; no checkpoint of this run was written' : `; the last good checkpoint (step ${this.checkpointStep}) ${ck} is kept`;
  }

  /** Everything needed to continue exactly (see checkpoint.ts). */
  state(): TrainCheckpoint {
    return {
      cfg: this.cfg,
      step: this.step,
      tokens: this.tokens,
      scale: this.scale,
      params: toHost(this.params),
      adamM: toHost(this.opt.m),
      adamV: toHost(this.opt.v),
      buffers: toHost(this.buffers),
      rng: this.rng.getState(),
      source: this.source.getState(),
      sourceInfo: { dIn: this.source.dIn, hasGrad: this.source.hasGrad, rows: this.source.rows, describe: this.source.describe() },
      lastResample: this.lastResample,
      anyDead: this.anyDead,
    };
  }

  /** Writes outDir/checkpoint.msgpack and the folded SAELens export outDir/sae/. */
  saveCheckpoint(): void {
    const dir = this.opts.outDir;
    if (!dir) throw new Error('saveCheckpoint: the trainer has no outDir');
    writeCheckpoint(join(dir, CHECKPOINT_FILE), this.state());
    this.checkpointStep = this.step;
    this.exportSae(join(dir, SAE_DIR));
    // what a run killed mid-write left behind (the files themselves were replaced atomically)
    removeStaleTemps(dir);
    removeStaleTemps(join(dir, SAE_DIR));
  }

  /** The SAE in SAELens form on raw activations (normalisation folded in; see export.ts). */
  exported(): ExportedSae {
    const buffers = toHost(this.buffers);
    delete buffers[SINCE];
    const { cfg, variant, scale, step, tokens } = this;
    return exportSaeOf({ cfg, variant, params: toHost(this.params), buffers, scale, step, tokens });
  }

  exportSae(dir: string): void {
    const { spec, params, extra } = this.exported();
    writeSaelens(dir, spec, params, this.cfg, extra);
  }

  /** The current SAE as an inference model on raw activations (dispose with disposeSae). */
  model(): SaeModel {
    const { spec, params } = this.exported();
    return makeSae(spec, params);
  }

  /** Parameters as trained (normalised space), host copies. */
  hostParams(): HostParams {
    return toHost(this.params);
  }

  /** Neuron resampling (relu_l1) of latents dead at step t; see resampling.ts. */
  private resample(t: number): void {
    const { cfg, source, scale, params, opt, rng } = this;
    const r = resampleDeadLatents({ cfg, source, scale, params, opt, since: this.buffers[SINCE]!, rng, t });
    this.lastResampled = r.dead;
    if (!r.state) return;
    E.dispose([this.params, this.opt, this.buffers[SINCE]]);
    this.params = E.keep(toDevice(r.state.params));
    this.opt = E.keep({ m: toDevice(r.state.m), v: toDevice(r.state.v) });
    this.buffers = { ...this.buffers, [SINCE]: E.keep(E.tensor(r.state.since, [cfg.dSae])) };
    this.lastResample = t;
  }

  dispose(): void {
    E.dispose([this.params, this.opt, this.buffers]);
    this.stepFn.dispose();
  }
}

function checkSource(cfg: SaeTrainConfig, variant: Variant, source: BatchSource): void {
  if (source.dIn !== cfg.dIn) throw new Error(`data ${source.describe()}: rows have width ${source.dIn} but the config says dIn = ${cfg.dIn}`);
  if (variant.needsGrad && !source.hasGrad) {
    throw new Error(`data ${source.describe()}: the g-SAE needs gradients g = ∂L/∂x with the activations, and this source has none`);
  }
}
