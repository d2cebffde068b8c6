/**
 * One shard of the activation-and-gradient store: a small binary header and raw little-endian
 * float32 rows. Layout:
 *   bytes 0..7   magic "GSAESHD1"
 *   bytes 8..11  uint32 rows
 *   bytes 12..15 uint32 d
 *   bytes 16..19 uint32 flags (bit 0: gradients present)
 *   bytes 20..31 reserved (zero)
 *   then rows·d float32 activations, then (if flagged) rows·d float32 gradients.
 * Raw float32 keeps shards memory-mappable by numpy (`np.fromfile(f, '<f4', offset=32)`).
 */
import { readFileSync } from 'node:fs';
import { GsaeError } from '../../engine/index.js';

export class StoreError extends GsaeError {}

const MAGIC = 'GSAESHD1';
export const SHARD_HEADER_BYTES = 32;

export interface Shard {
  rows: number;
  d: number;
  x: Float32Array;
  g: Float32Array | null;
}

export function encodeShard(s: Shard): Uint8Array {
  const n = s.rows * s.d;
  if (s.x.length !== n || (s.g && s.g.length !== n)) throw new StoreError(`shard: arrays do not hold ${s.rows}×${s.d} values`);
  const bytes = new Uint8Array(SHARD_HEADER_BYTES + n * 4 * (s.g ? 2 : 1));
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < MAGIC.length; i++) bytes[i] = MAGIC.charCodeAt(i);
  dv.setUint32(8, s.rows, true);
  dv.setUint32(12, s.d, true);
  dv.setUint32(16, s.g ? 1 : 0, true);
  const body = new Float32Array(bytes.buffer, SHARD_HEADER_BYTES, n * (s.g ? 2 : 1));
  body.set(s.x, 0);
  if (s.g) body.set(s.g, n);
  return bytes;
}

export function decodeShard(bytes: Uint8Array, source: string): Shard {
  if (bytes.length < SHARD_HEADER_BYTES) throw new StoreError(`${source}: ${bytes.length} bytes is too short for a store shard (header is ${SHARD_HEADER_BYTES})`);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== MAGIC) throw new StoreError(`${source}: not a gsae store shard (magic ${JSON.stringify(magic)}, expected ${MAGIC})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows = dv.getUint32(8, true);
  const d = dv.getUint32(12, true);
  const flags = dv.getUint32(16, true);
  if (flags > 1) throw new StoreError(`${source}: unknown shard flags ${flags}`);
  const hasG = flags === 1;
  const n = rows * d;
  const want = SHARD_HEADER_BYTES + n * 4 * (hasG ? 2 : 1);
  if (bytes.length !== want) {
    throw new StoreError(`${source}: shard is ${bytes.length} bytes but its header (${rows} rows × ${d}${hasG ? ' with gradients' : ''}) needs ${want}${bytes.length < want ? ' (truncated)' : ''}`);
  }
  // copy into a fresh aligned buffer (a Node Buffer may sit at any offset of a shared pool)
  const copy = new Uint8Array(bytes.length - SHARD_HEADER_BYTES);
  copy.set(bytes.subarray(SHARD_HEADER_BYTES));
  const body = new Float32Array(copy.buffer);
  const x = body.subarray(0, n);
  const g = hasG ? body.subarray(n, 2 * n) : null;
  for (let i = 0; i < body.length; i++) {
    if (!Number.isFinite(body[i]!)) throw new StoreError(`${source}: non-finite value at element ${i} (${i < n ? 'activations' : 'gradients'})`);
  }
  return { rows, d, x, g };
}

// Shards and manifests are written atomically, so a killed build never leaves half a file.
export { writeFileAtomic } from '../../engine/io/atomic.js';

export function readShard(path: string): Shard {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new StoreError(`cannot read store shard ${path}: ${(e as Error).message}`);
  }
  return decodeShard(bytes, path);
}
