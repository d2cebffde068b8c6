/**
 * The store as a trainer BatchSource. The shuffled stream is a pure function of the seed, so the
 * cursor is just the number of batches served; restoring it regenerates the stream and skips
 * ahead (reading shards again, no extra state), which makes resumed runs exact.
 */
import type { BatchSource, HostBatch } from '../data.js';
import { StoreReader, type Batch } from './reader.js';
import { StoreError } from './shard.js';

export class StoreSource implements BatchSource {
  readonly reader: StoreReader;
  private it: Generator<Batch>;
  /** rows served in total (the cursor) */
  private served = 0;
  /** rows pulled from the stream but not yet served */
  private pending: Batch[] = [];
  private pendingOffset = 0;

  /** `chunkRows` is the granularity of the shuffled stream; any request size is served from it. */
  constructor(dir: string, readonly chunkRows: number, readonly seed: number, readonly bufferRows?: number) {
    this.reader = new StoreReader(dir);
    this.it = this.open();
  }

  get dIn(): number {
    return this.reader.d;
  }
  get hasGrad(): boolean {
    return this.reader.manifest.withGrad;
  }
  get rows(): number {
    return this.reader.rows;
  }

  private open(): Generator<Batch> {
    return this.reader.shuffled(this.chunkRows, this.seed, this.bufferRows ?? Math.max(4 * this.chunkRows, 8192));
  }

  private buf: { x: Float32Array; g: Float32Array | null } | null = null;

  next(rows: number): HostBatch {
    if (!Number.isInteger(rows) || rows < 1) throw new StoreError(`store source: cannot serve ${rows} rows`);
    const d = this.dIn;
    // one buffer pair reused from call to call (HostBatch: valid until the next call): a fresh
    // pair per batch costs more in page faults and collection than the copy
    if (!this.buf || this.buf.x.length !== rows * d) this.buf = { x: new Float32Array(rows * d), g: this.hasGrad ? new Float32Array(rows * d) : null };
    const { x, g } = this.buf;
    let filled = 0;
    while (filled < rows) {
      if (this.pending.length === 0) {
        this.pending.push(this.it.next().value as Batch);
        this.pendingOffset = 0;
      }
      const b = this.pending[0]!;
      const n = Math.min(rows - filled, b.rows - this.pendingOffset);
      x.set(b.x.subarray(this.pendingOffset * d, (this.pendingOffset + n) * d), filled * d);
      if (g && b.g) g.set(b.g.subarray(this.pendingOffset * d, (this.pendingOffset + n) * d), filled * d);
      filled += n;
      this.pendingOffset += n;
      if (this.pendingOffset === b.rows) this.pending.shift();
    }
    this.served += rows;
    return g ? { rows, x, g } : { rows, x };
  }

  getState(): unknown {
    return { served: this.served };
  }

  setState(state: unknown): void {
    const s = state as { served?: unknown };
    if (typeof s?.served !== 'number' || !Number.isInteger(s.served) || s.served < 0) throw new StoreError(`store source: bad cursor ${JSON.stringify(state)}`);
    this.it = this.open();
    this.pending = [];
    this.pendingOffset = 0;
    this.served = 0;
    // skip whole chunks, then the remainder
    let skip = s.served;
    while (skip >= this.chunkRows) {
      this.it.next();
      skip -= this.chunkRows;
    }
    if (skip > 0) this.next(skip);
    this.served = s.served;
  }

  describe(): string {
    const m = this.reader.manifest;
    return `store ${this.reader.dir} (${m.hook}, ${this.rows} rows × ${m.d}${m.withGrad ? ', with gradients' : ''})`;
  }
}
