/**
 * Where training batches come from. The trainer only sees `BatchSource`: rows of activations x
 * (and gradients g for the g-SAE) handed out in a reproducible order, with a cursor that a
 * checkpoint saves and a resumed run restores. `ArraySource` serves in-memory arrays (tests,
 * a `.safetensors` file); the activation-and-gradient store will implement the same interface.
 */
import { existsSync, statSync } from 'node:fs';
import * as E from '../engine/index.js';

export interface HostBatch {
  rows: number;
  /**
   * [rows, dIn] row-major. Read-only, and valid until the source's next `next()`: a source may
   * hand out a view of its own rows (ArraySource does for an in-order batch) or reuse one buffer
   * from call to call (ArraySource does for shuffled rows). Consumers copy what they keep.
   */
  x: Float32Array;
  /** [rows, dIn] row-major, when the source has gradients */
  g?: Float32Array;
}

export interface BatchSource {
  readonly dIn: number;
  readonly hasGrad: boolean;
  /** Total rows in one pass (for messages and sanity checks); undefined when unknown. */
  readonly rows?: number;
  /** The next `rows` rows; a finite source wraps into its next epoch (a new shuffle). */
  next(rows: number): HostBatch;
  /** JSON-serialisable cursor: setState(getState()) continues exactly where it was. */
  getState(): unknown;
  setState(state: unknown): void;
  /** One line for logs and errors (what is being read). */
  describe(): string;
}

export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

interface ArrayCursor {
  epoch: number;
  pos: number;
}

/**
 * Rows of in-memory arrays, shuffled per epoch with the permutation of `Rng(seed).fork('epoch:e')`
 * (or in order when shuffle is false). The cursor is {epoch, pos}; permutations are recomputed
 * from the seed, so the state stays two numbers.
 */
export class ArraySource implements BatchSource {
  readonly rows: number;
  readonly hasGrad: boolean;
  private cursor: ArrayCursor = { epoch: 0, pos: 0 };
  private perm: Int32Array | null = null;
  private buf: { x: Float32Array; g: Float32Array | undefined } | null = null;
  private permEpoch = -1;

  constructor(
    private readonly x: Float32Array,
    readonly dIn: number,
    private readonly g: Float32Array | null = null,
    private readonly opts: { seed?: number; shuffle?: boolean; name?: string } = {},
  ) {
    if (!Number.isInteger(dIn) || dIn <= 0) throw new DataError(`ArraySource: dIn must be a positive integer, got ${dIn}`);
    if (x.length === 0 || x.length % dIn !== 0) throw new DataError(`ArraySource: ${x.length} values are not a whole number (> 0) of rows of width ${dIn}`);
    if (g && g.length !== x.length) throw new DataError(`ArraySource: gradients hold ${g.length} values but activations ${x.length}; they must be the same shape`);
    this.rows = x.length / dIn;
    this.hasGrad = g !== null;
  }

  private order(epoch: number): Int32Array | null {
    if (this.opts.shuffle === false) return null;
    if (this.permEpoch !== epoch) {
      this.perm = new E.Rng(this.opts.seed ?? 0).fork(`epoch:${epoch}`).permutation(this.rows);
      this.permEpoch = epoch;
    }
    return this.perm;
  }

  next(rows: number): HostBatch {
    if (!Number.isInteger(rows) || rows <= 0) throw new DataError(`ArraySource.next: rows must be a positive integer, got ${rows}`);
    const d = this.dIn;
    if (this.cursor.pos >= this.rows) this.cursor = { epoch: this.cursor.epoch + 1, pos: 0 };
    if (!this.order(this.cursor.epoch) && this.cursor.pos + rows <= this.rows) {
      // in order and within the epoch: views, no copy (a fresh 1 MB array costs ~1–2 ms here in
      // page faults and zeroing, more than the step's whole data movement on the device)
      const s = this.cursor.pos * d;
      this.cursor.pos += rows;
      const x = this.x.subarray(s, s + rows * d);
      return this.g ? { rows, x, g: this.g.subarray(s, s + rows * d) } : { rows, x };
    }
    // one buffer pair reused from call to call: a fresh pair per batch costs more in page faults
    // and collection than the copy itself (HostBatch: valid until the next call)
    if (!this.buf || this.buf.x.length !== rows * d) this.buf = { x: new Float32Array(rows * d), g: this.g ? new Float32Array(rows * d) : undefined };
    const { x, g } = this.buf;
    for (let r = 0; r < rows; ) {
      if (this.cursor.pos >= this.rows) this.cursor = { epoch: this.cursor.epoch + 1, pos: 0 };
      const perm = this.order(this.cursor.epoch);
      // rows left in this epoch that land in this batch: one block copy when in order, else row by row
      const run = Math.min(rows - r, this.rows - this.cursor.pos);
      if (!perm) {
        const s = this.cursor.pos * d;
        x.set(this.x.subarray(s, s + run * d), r * d);
        if (g) g.set(this.g!.subarray(s, s + run * d), r * d);
      } else {
        // same-type set: a byte copy (NaN payloads kept)
        for (let i = 0; i < run; i++) {
          const s = perm[this.cursor.pos + i]! * d, o = (r + i) * d;
          x.set(this.x.subarray(s, s + d), o);
          if (g) g.set(this.g!.subarray(s, s + d), o);
        }
      }
      this.cursor.pos += run;
      r += run;
    }
    return g ? { rows, x, g } : { rows, x };
  }

  getState(): ArrayCursor {
    return { ...this.cursor };
  }

  setState(state: unknown): void {
    const s = state as ArrayCursor;
    if (!s || !Number.isInteger(s.epoch) || !Number.isInteger(s.pos) || s.epoch < 0 || s.pos < 0 || s.pos > this.rows) {
      throw new DataError(`ArraySource.setState: expected {epoch, pos} with 0 <= pos <= ${this.rows}, got ${JSON.stringify(state)}`);
    }
    this.cursor = { epoch: s.epoch, pos: s.pos };
  }

  describe(): string {
    return `${this.opts.name ?? 'in-memory array'} (${this.rows} rows × ${this.dIn}${this.hasGrad ? ', with gradients' : ''})`;
  }
}

/**
 * `n` rows read as whole batches of `batchRows` (some sources, like the store, only serve their
 * own batch size), concatenated and cut to n. Moves the cursor like any read.
 */
export function readRows(source: BatchSource, n: number, batchRows: number): HostBatch {
  const d = source.dIn;
  const x = new Float32Array(n * d);
  const g = source.hasGrad ? new Float32Array(n * d) : undefined;
  let got = 0;
  while (got < n) {
    const b = source.next(batchRows);
    const take = Math.min(b.rows, n - got);
    x.set(b.x.subarray(0, take * d), got * d);
    if (g && b.g) g.set(b.g.subarray(0, take * d), got * d);
    got += take;
  }
  return g ? { rows: n, x, g } : { rows: n, x };
}

const X_KEYS = ['x', 'acts', 'activations'];
const G_KEYS = ['g', 'grads', 'gradients'];

/**
 * A `.safetensors` file holding activations [N, d] (key `x`, `acts` or `activations`, or
 * `xKey`) and optionally gradients of the same shape (`g`, `grads`, `gradients`, or `gKey`).
 * Tensors with more than two axes are flattened to rows of their last axis.
 */
export function openSafetensorsSource(path: string, opts: { xKey?: string; gKey?: string; seed?: number; shuffle?: boolean } = {}): ArraySource {
  if (!existsSync(path)) throw new DataError(`--data: '${path}' does not exist`);
  if (statSync(path).isDirectory()) {
    throw new DataError(`--data: '${path}' is a directory, not a .safetensors file (open an activation store with StoreSource)`);
  }
  const file = E.readSafetensors(path);
  const names = [...file.tensors.keys()];
  const pick = (explicit: string | undefined, candidates: string[], what: string, required: boolean) => {
    if (explicit !== undefined) {
      const t = file.tensors.get(explicit);
      if (!t) throw new DataError(`--data ${path}: no tensor named '${explicit}' for the ${what} (tensors: ${names.join(', ')})`);
      return t;
    }
    const found = candidates.map((c) => file.tensors.get(c)).find((t) => t !== undefined);
    if (!found && required) throw new DataError(`--data ${path}: no ${what} tensor (looked for ${candidates.map((c) => `'${c}'`).join(', ')}; tensors: ${names.join(', ') || 'none'}); name it with --x-key`);
    return found;
  };
  const xt = pick(opts.xKey, X_KEYS, 'activations', true)!;
  const gt = pick(opts.gKey, G_KEYS, 'gradients', false);
  const rowsOf = (t: E.StoredTensor) => {
    if (t.shape.length < 2) throw new DataError(`--data ${path}: tensor '${t.name}' has shape ${E.fmtShape(t.shape)}; expected [N, d] (rows of activations)`);
    if (t.dtype === 'I32' || t.dtype === 'I64') throw new DataError(`--data ${path}: tensor '${t.name}' is ${t.dtype}; activations must be floating point`);
    const width = t.shape[t.shape.length - 1]!;
    if (t.data.length === 0) throw new DataError(`--data ${path}: tensor '${t.name}' ${E.fmtShape(t.shape)} holds no rows`);
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    // NaN/Inf (or an F64 value beyond float32) would poison the init sample and every step after it
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new DataError(`--data ${path}: tensor '${t.name}' holds a non-finite value (${data[bad]}) at row ${Math.floor(bad / width)}, column ${bad % width}`);
    return data;
  };
  const d = xt.shape[xt.shape.length - 1]!;
  const x = rowsOf(xt);
  let g: Float32Array | null = null;
  if (gt) {
    if (gt.shape.length !== xt.shape.length || gt.shape.some((v, i) => v !== xt.shape[i])) {
      throw new DataError(`--data ${path}: gradients '${gt.name}' ${E.fmtShape(gt.shape)} and activations '${xt.name}' ${E.fmtShape(xt.shape)} differ in shape`);
    }
    g = rowsOf(gt);
  }
  return new ArraySource(x, d, g, { seed: opts.seed, shuffle: opts.shuffle, name: path });
}
