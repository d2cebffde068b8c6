/**
 * Training checkpoints: everything a run needs to continue bit for bit (msgpackr, one file).
 *   cfg, step, tokens, input scale, parameters (unfolded, as trained), Adam moments, buffers
 *   (dead counters, BatchTopK threshold), RNG state, data-source cursor, resampling bookkeeping.
 * Tensors are stored as raw little-endian float32 bytes with their shapes. Writes are atomic
 * (temporary file, then rename), so an interrupted write leaves the previous checkpoint intact.
 * Reading validates the format tag, version and every tensor's byte length against its shape.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../engine/io/atomic.js';
import { pack, unpack } from 'msgpackr';
import type { SaeTrainConfig } from './config.js';
import type { HostParams, HostTensor } from './common.js';

export const CHECKPOINT_FORMAT = 'gsae-sae-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface TrainCheckpoint {
  cfg: SaeTrainConfig;
  step: number;
  tokens: number;
  /** Input normalisation factor c (x_train = c·x), 1 when off. */
  scale: number;
  params: HostParams;
  adamM: HostParams;
  adamV: HostParams;
  buffers: HostParams;
  rng: number[];
  source: unknown;
  sourceInfo: { dIn: number; hasGrad: boolean; rows?: number; describe: string };
  lastResample: number;
  anyDead: boolean;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

type Packed = { shape: number[]; bytes: Uint8Array };

function packTensors(p: HostParams): Record<string, Packed> {
  return Object.fromEntries(
    Object.entries(p).map(([k, t]) => [k, { shape: t.shape, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) }]),
  );
}

function unpackTensors(raw: unknown, what: string, path: string): HostParams {
  if (!raw || typeof raw !== 'object') throw new CheckpointError(`checkpoint ${path}: '${what}' is missing or not a map`);
  const out: HostParams = {};
  for (const [k, v] of Object.entries(raw as Record<string, Packed>)) {
    if (!v || !Array.isArray(v.shape) || !(v.bytes instanceof Uint8Array)) throw new CheckpointError(`checkpoint ${path}: tensor '${what}.${k}' is malformed`);
    const n = v.shape.reduce((a, b) => a * b, 1);
    if (v.bytes.byteLength !== n * 4) {
      throw new CheckpointError(`checkpoint ${path}: tensor '${what}.${k}' has ${v.bytes.byteLength} bytes but shape [${v.shape.join(', ')}] needs ${n * 4} (truncated or corrupt file)`);
    }
    // copy: the unpacked bytes may not be 4-byte aligned
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(v.bytes);
    out[k] = { shape: [...v.shape], data } satisfies HostTensor;
  }
  return out;
}

/** The first tensor holding NaN or ±Inf, as 'group.name', else null. */
export function firstNonFinite(groups: Record<string, HostParams>): string | null {
  for (const [g, p] of Object.entries(groups)) {
    for (const [k, t] of Object.entries(p)) if (!t.data.every(Number.isFinite)) return `${g}.${k}`;
  }
  return null;
}

/**
 * Writes atomically. A state holding NaN or ±Inf is refused (CheckpointError naming the tensor),
 * so a diverged run can never replace the last good checkpoint with one it cannot recover from.
 */
export function writeCheckpoint(path: string, ck: TrainCheckpoint): void {
  const bad = firstNonFinite({ params: ck.params, adamM: ck.adamM, adamV: ck.adamV });
  if (bad) throw new CheckpointError(`checkpoint ${path} not written: tensor '${bad}' holds NaN or Inf at step ${ck.step}`);
  const body = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...ck,
    params: packTensors(ck.params),
    adamM: packTensors(ck.adamM),
    adamV: packTensors(ck.adamV),
    buffers: packTensors(ck.buffers),
  };
  writeFileAtomic(path, pack(body));
}

export function readCheckpoint(path: string): TrainCheckpoint {
  if (!existsSync(path)) throw new CheckpointError(`checkpoint ${path} does not exist`);
  let body: Record<string, unknown>;
  try {
    body = unpack(readFileSync(path)) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(`checkpoint ${path} cannot be decoded (truncated or not a msgpack file): ${(e as Error).message}`);
  }
  if (!body || typeof body !== 'object' || body.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`checkpoint ${path} is not a gsae SAE training checkpoint (format tag ${JSON.stringify(body?.format)})`);
  }
  if (body.version !== CHECKPOINT_VERSION) throw new CheckpointError(`checkpoint ${path} has version ${String(body.version)}; this build reads version ${CHECKPOINT_VERSION}`);
  for (const f of ['cfg', 'step', 'tokens', 'scale', 'rng', 'sourceInfo', 'lastResample'] as const) {
    if (body[f] === undefined) throw new CheckpointError(`checkpoint ${path}: field '${f}' is missing`);
  }
  return {
    cfg: body.cfg as SaeTrainConfig,
    step: body.step as number,
    tokens: body.tokens as number,
    scale: body.scale as number,
    params: unpackTensors(body.params, 'params', path),
    adamM: unpackTensors(body.adamM, 'adamM', path),
    adamV: unpackTensors(body.adamV, 'adamV', path),
    buffers: unpackTensors(body.buffers, 'buffers', path),
    rng: body.rng as number[],
    source: body.source,
    sourceInfo: body.sourceInfo as TrainCheckpoint['sourceInfo'],
    lastResample: body.lastResample as number,
    anyDead: Boolean(body.anyDead),
  };
}
