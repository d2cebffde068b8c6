/**
 * Training checkpoints: one directory holding
 *   config.json, model.safetensors   the HF-format model (loadable by anything that reads GPT-2)
 *   gsae_vocab.json                  the tokenizer (see tokenizer.ts)
 *   optimizer.safetensors            AdamW moments, `m.<param>` and `v.<param>`
 *   trainer_state.msgpack            step, RNG state, training config, loss history (msgpackr)
 *
 * Writes are atomic at the directory level: everything goes to `<dir>.tmp-<pid>`, then the old
 * directory is moved aside, the new one renamed into place and the old one removed. A crash
 * leaves either the old or the new checkpoint (if it struck between the two renames, the old
 * one survives as `<dir>.old-<pid>`, which `findCheckpoint` falls back to).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import * as E from '../../engine/index.js';
import type { Gpt2Config } from './config.js';
import { CheckpointError, loadHfDir, paramShapes, saveHfDir, type Gpt2Params } from './params.js';
import { saveTokenizer, type Tokenizer } from './tokenizer.js';
import type { AdamWMoments } from '../optim/adamw.js';

export const STATE_FILE = 'trainer_state.msgpack';
export const OPTIM_FILE = 'optimizer.safetensors';
export const STATE_VERSION = 1;

/** Everything besides tensors that a resumed run needs to continue exactly. */
export interface TrainerState {
  version: number;
  /** Number of optimizer steps taken. */
  step: number;
  /** The training-batch RNG's state (engine Rng.getState()). */
  dataRng: number[];
  /** The training configuration the run was started with (compared on resume). */
  trainConfig: Record<string, unknown>;
  history: { step: number; trainLoss: number; valLoss: number; lr: number }[];
  /** Wall-clock seconds and tokens processed so far (for throughput across resumes). */
  elapsedS: number;
  tokensSeen: number;
}

export interface Checkpoint {
  cfg: Gpt2Config;
  params: Gpt2Params;
  moments: AdamWMoments;
  state: TrainerState;
}

function tensorsToHost(prefix: string, ts: Record<string, E.Tensor>): E.SafetensorsInput {
  const out: E.SafetensorsInput = {};
  for (const [k, t] of Object.entries(ts)) out[`${prefix}${k}`] = { shape: [...t.shape], data: t.toArray() as Float32Array };
  return out;
}

/** Writes a complete checkpoint atomically (see the file comment). */
export function saveCheckpoint(dir: string, ck: Checkpoint, tokenizer: Tokenizer): void {
  // A diverged state is refused, so the last good checkpoint is never replaced by one that cannot recover.
  for (const [group, ts] of [['params', ck.params], ['m', ck.moments.m], ['v', ck.moments.v]] as const) {
    for (const [name, t] of Object.entries(ts)) {
      if (!(t.toArray() as Float32Array).every(Number.isFinite)) {
        throw new CheckpointError(`checkpoint ${dir} not written: ${group === 'params' ? 'parameter' : `AdamW moment ${group} of`} '${name}' holds NaN or Inf at step ${ck.state.step}`);
      }
    }
  }
  assertReplaceable(dir);
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    saveHfDir(tmp, ck.cfg, ck.params);
    saveTokenizer(tmp, tokenizer);
    E.writeSafetensors(join(tmp, OPTIM_FILE), { ...tensorsToHost('m.', ck.moments.m), ...tensorsToHost('v.', ck.moments.v) });
    // Inside the temporary directory plain writes suffice: the directory rename publishes them.
    writeFileSync(join(tmp, STATE_FILE), pack(ck.state));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new CheckpointError(`cannot write checkpoint ${dir}: ${(e as Error).message}`);
  }
  const old = join(parent, `${basename(dir)}.old-${process.pid}`);
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
  // Left-overs of runs killed mid-write (their pid's .tmp-/.old- siblings) are obsolete now.
  for (const n of readdirSync(parent)) {
    if (n.startsWith(`${basename(dir)}.tmp-`) || n.startsWith(`${basename(dir)}.old-`)) rmSync(join(parent, n), { recursive: true, force: true });
  }
}

/**
 * Saving replaces `dir` as a whole, so it must be absent, empty, or a checkpoint already: a
 * user's file or folder given as the output is refused, never moved aside and deleted.
 */
export function assertReplaceable(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new CheckpointError(`${dir} is a file, not a checkpoint directory; choose another output directory`);
  if (existsSync(join(dir, STATE_FILE))) return;
  if (readdirSync(dir).length > 0) throw new CheckpointError(`${dir} is a non-empty directory that is not a training checkpoint (saving replaces the whole directory); choose a new or empty one`);
}

/** The checkpoint directory to resume from: `dir`, or a left-over `<dir>.old-*` if `dir` is gone. */
export function findCheckpoint(dir: string): string | null {
  if (existsSync(join(dir, STATE_FILE))) return dir;
  const parent = dirname(dir);
  if (!existsSync(parent)) return null;
  const prefix = `${basename(dir)}.old-`;
  const olds = readdirSync(parent).filter((n) => n.startsWith(prefix) && existsSync(join(parent, n, STATE_FILE)));
  return olds.length ? join(parent, olds.sort().at(-1)!) : null;
}

/** Loads a checkpoint written by saveCheckpoint. */
export function loadCheckpoint(dir: string): Checkpoint {
  const statePath = join(dir, STATE_FILE);
  if (!existsSync(statePath)) throw new CheckpointError(`${dir}: no ${STATE_FILE} (not a training checkpoint; model-only directories cannot be resumed)`);
  let state: TrainerState;
  try {
    state = unpack(readFileSync(statePath)) as TrainerState;
  } catch (e) {
    throw new CheckpointError(`${statePath}: cannot decode (${(e as Error).message})`);
  }
  if (!state || state.version !== STATE_VERSION) throw new CheckpointError(`${statePath}: unsupported trainer state version ${JSON.stringify(state?.version)} (expected ${STATE_VERSION})`);
  const { cfg, params } = loadHfDir(dir);
  const optPath = join(dir, OPTIM_FILE);
  if (!existsSync(optPath)) throw new CheckpointError(`${dir}: no ${OPTIM_FILE}`);
  const opt = E.readSafetensors(optPath);
  const m: Record<string, E.Tensor> = {};
  const v: Record<string, E.Tensor> = {};
  for (const [name, shape] of paramShapes(cfg)) {
    for (const [key, into] of [['m', m], ['v', v]] as const) {
      const t = opt.tensors.get(`${key}.${name}`);
      if (!t) throw new CheckpointError(`${optPath}: missing '${key}.${name}'`);
      if (t.shape.join(',') !== shape.join(',')) throw new CheckpointError(`${optPath}: '${key}.${name}' is ${E.fmtShape(t.shape)}, expected ${E.fmtShape(shape)}`);
      into[name] = E.storedToTensor(t, 'float32');
    }
  }
  return { cfg, params, moments: { m, v }, state };
}
