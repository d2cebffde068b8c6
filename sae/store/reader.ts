/**
 * Reads a store as shuffled training batches. Shards are visited in a seeded random order each
 * epoch and their rows pass through a mixing buffer (as SAELens does): when the buffer holds
 * `bufferRows` rows it is shuffled and its first half is served in batches. The stream is a pure
 * function of (store, seed, batch size, buffer size), so a resumed trainer skips the batches it
 * has seen and continues exactly. Memory bound: bufferRows + one shard's rows, × d × 4 bytes
 * × (2 with gradients).
 */
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { readManifest, type StoreManifest } from './manifest.js';
import { readShard, StoreError } from './shard.js';

export interface Batch {
  rows: number;
  x: Float32Array;
  g: Float32Array | null;
}

export class StoreReader {
  readonly manifest: StoreManifest;

  constructor(readonly dir: string) {
    this.manifest = readManifest(dir);
    if (!this.manifest.complete) throw new StoreError(`store ${dir} is incomplete (an interrupted build); run 'gsae cache' again to finish it`);
  }

  get d(): number {
    return this.manifest.d;
  }
  get rows(): number {
    return this.manifest.shards.reduce((s, sh) => s + sh.rows, 0);
  }

  /** Every row in order, no shuffling (for evaluation). */
  *sequential(batchRows: number): Generator<Batch> {
    for (const sh of this.manifest.shards) {
      const s = this.load(sh.file, sh.rows);
      for (let r = 0; r < s.rows; r += batchRows) {
        const n = Math.min(batchRows, s.rows - r);
        yield { rows: n, x: s.x.slice(r * s.d, (r + n) * s.d), g: s.g ? s.g.slice(r * s.d, (r + n) * s.d) : null };
      }
    }
  }

  /** An endless shuffled stream of full batches (epochs repeat with fresh orders). */
  *shuffled(batchRows: number, seed: number, bufferRows = Math.max(4 * batchRows, 8192)): Generator<Batch> {
    const { d, withGrad } = this.manifest;
    if (bufferRows < 2 * batchRows) throw new StoreError(`store: bufferRows ${bufferRows} must be at least twice the batch (${batchRows})`);
    const rng = new E.Rng(seed);
    const bx = new Float32Array(bufferRows * d + this.maxShardRows() * d);
    const bg = withGrad ? new Float32Array(bx.length) : null;
    let filled = 0;
    const tmp = new Float32Array(d);
    const swap = (a: Float32Array, i: number, j: number) => {
      tmp.set(a.subarray(i * d, (i + 1) * d));
      a.copyWithin(i * d, j * d, (j + 1) * d);
      a.set(tmp, j * d);
    };
    for (;;) {
      const order = rng.permutation(this.manifest.shards.length);
      for (const si of order) {
        const sh = this.manifest.shards[si]!;
        const s = this.load(sh.file, sh.rows);
        bx.set(s.x, filled * d);
        if (bg && s.g) bg.set(s.g, filled * d);
        filled += s.rows;
        while (filled >= bufferRows) {
          for (let i = filled - 1; i > 0; i--) {
            const j = rng.int(i + 1);
            swap(bx, i, j);
            if (bg) swap(bg, i, j);
          }
          const serve = Math.floor(filled / 2 / batchRows) * batchRows;
          for (let r = 0; r < serve; r += batchRows) {
            yield { rows: batchRows, x: bx.slice(r * d, (r + batchRows) * d), g: bg ? bg.slice(r * d, (r + batchRows) * d) : null };
          }
          bx.copyWithin(0, serve * d, filled * d);
          if (bg) bg.copyWithin(0, serve * d, filled * d);
          filled -= serve;
        }
      }
    }
  }

  private maxShardRows(): number {
    return Math.max(...this.manifest.shards.map((s) => s.rows));
  }

  private load(file: string, rows: number) {
    const s = readShard(join(this.dir, file));
    if (s.rows !== rows || s.d !== this.manifest.d || (s.g !== null) !== this.manifest.withGrad) {
      throw new StoreError(`${join(this.dir, file)}: shard holds ${s.rows}×${s.d}${s.g ? '+grad' : ''}, manifest says ${rows}×${this.manifest.d}${this.manifest.withGrad ? '+grad' : ''}`);
    }
    return s;
  }
}
