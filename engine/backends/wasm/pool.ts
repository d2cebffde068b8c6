/**
 * Worker threads that run exported wasm kernels on the shared memory.
 *
 * Each worker instantiates the same compiled Module over the same shared Memory and then loops:
 * wait for a task on its control block (Atomics.wait), run `exports[fn](...args)`, signal done
 * (Atomics.notify). The main thread is thread 0: it posts tasks 1..n-1, runs task 0 itself, then
 * waits for the others. Workers are created from an inline script (`eval: true`) so the same code
 * works under vitest (TypeScript sources) and from `dist/` (compiled JS); they are `unref`ed so an
 * idle pool never keeps the process alive, and `shutdown()` terminates them.
 *
 * Control block of worker w (Int32 slots, at ctrl + w·CTRL_BYTES):
 *   [0] seq    (main increments to post)   [1] done (worker copies seq when finished)
 *   [2] fn     (-1: exit)                   [3] status (0 ok, 1 error)   [4] ready
 *   bytes 64..191: 16 float64 arguments; bytes 192..: UTF-8 error message (NUL-terminated)
 */
import { Worker } from 'node:worker_threads';
import { BackendError } from '../../errors.js';
import type { WasmMemory, WasmModule } from './wasm_api.js';

export const CTRL_BYTES = 1024;
const SEQ = 0, DONE = 1, FN = 2, STATUS = 3, READY = 4;
const ARGS_BYTE = 64, MAX_ARGS = 16, MSG_BYTE = 192;
/** Atomics.load polls before the main thread blocks in Atomics.wait for a worker to finish. */
const SPIN = 20000;
/**
 * How long an idle worker polls for its next task before it blocks in Atomics.wait. Waking a
 * blocked worker costs 70–90 µs on these VMs (measured: a [1024, 256] elementwise op took
 * 100–120 µs after a 0.1–3 ms pause and ~30 µs back to back). A training step launches ~40
 * parallel kernels with JavaScript and single-thread kernels between them; polling for 1 ms keeps
 * the worker awake across those gaps (TopK d256 step ~3% faster) and costs at most 1 ms of an
 * otherwise idle core after the last task.
 */
const IDLE_SPIN_MS = 1;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, names, spinMs } = workerData;
const I = new Int32Array(memory.buffer, ctrl, ${CTRL_BYTES / 4});
const F = new Float64Array(memory.buffer, ctrl + ${ARGS_BYTE}, ${MAX_ARGS});
const M = new Uint8Array(memory.buffer, ctrl + ${MSG_BYTE}, ${CTRL_BYTES - MSG_BYTE});
let fns;
try {
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  fns = names.map((n) => inst.exports[n]);
  Atomics.store(I, ${READY}, 1);
} catch (e) {
  const b = new TextEncoder().encode('worker could not instantiate the kernels: ' + (e && e.message) + '\\0');
  M.set(b.subarray(0, M.length - 1));
  Atomics.store(I, ${READY}, 2);
}
Atomics.notify(I, ${READY});
let last = 0;
while (Atomics.load(I, ${READY}) === 1) {
  let s = Atomics.load(I, ${SEQ});
  if (s === last) {
    const t0 = performance.now();
    do { for (let i = 0; s === last && i < 1024; i++) s = Atomics.load(I, ${SEQ}); } while (s === last && performance.now() - t0 < spinMs);
  }
  while (s === last) { Atomics.wait(I, ${SEQ}, last); s = Atomics.load(I, ${SEQ}); }
  last = s;
  const fn = I[${FN}];
  if (fn < 0) break;
  try {
    fns[fn](F[0], F[1], F[2], F[3], F[4], F[5], F[6], F[7], F[8], F[9], F[10], F[11], F[12], F[13], F[14], F[15]);
    I[${STATUS}] = 0;
  } catch (e) {
    const b = new TextEncoder().encode(String(e && e.message) + '\\0');
    M.set(b.subarray(0, M.length - 1));
    I[${STATUS}] = 1;
  }
  Atomics.store(I, ${DONE}, s);
  Atomics.notify(I, ${DONE});
}
`;

interface Slot {
  worker: Worker;
  I: Int32Array;
  F: Float64Array;
  M: Uint8Array;
  seq: number;
}

export class WorkerPool {
  private slots: Slot[] = [];
  private readyChecked = false;
  /** Why threads are off (startup failure), for diagnostics. */
  disabledReason: string | null = null;

  /**
   * @param threads total threads including the main one (1 = no workers)
   * @param ctrl byte offset of `threads - 1` control blocks in `memory`
   */
  constructor(
    private readonly memory: WasmMemory,
    private readonly module: WasmModule,
    private readonly names: readonly string[],
    private readonly fns: readonly ((...a: number[]) => unknown)[],
    ctrl: number,
    threads: number,
  ) {
    for (let w = 0; w < threads - 1; w++) {
      const base = ctrl + w * CTRL_BYTES;
      const I = new Int32Array(memory.buffer, base, CTRL_BYTES / 4);
      I.fill(0);
      let worker: Worker;
      try {
        worker = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { module, memory, ctrl: base, names, spinMs: IDLE_SPIN_MS },
          name: `gsae-wasm-${w + 1}`,
        });
      } catch (e) {
        this.disabledReason = `worker threads could not start: ${(e as Error).message}`;
        this.shutdown();
        return;
      }
      worker.unref();
      // an error or exit outside a task (e.g. out of memory) turns threading off rather than hanging
      worker.on('error', (e) => this.disable(`a worker failed: ${e.message}`));
      worker.on('exit', () => this.disable('a worker exited'));
      this.slots.push({
        worker,
        I,
        F: new Float64Array(memory.buffer, base + ARGS_BYTE, MAX_ARGS),
        M: new Uint8Array(memory.buffer, base + MSG_BYTE, CTRL_BYTES - MSG_BYTE),
        seq: 0,
      });
    }
  }

  /** Threads that `run` can use now (1 + live workers). */
  get threads(): number {
    return 1 + this.slots.length;
  }

  /**
   * Runs one task per entry of `tasks` (task 0 on this thread, task i on worker i-1) and returns
   * when all are done. Each task calls exported function `fn` with its arguments.
   */
  run(fn: number, tasks: readonly (readonly number[])[]): void {
    if (tasks.length === 0) return;
    if (tasks.length > this.threads) throw new BackendError(`wasm pool: ${tasks.length} tasks for ${this.threads} threads`);
    if (tasks.length > 1) this.awaitReady();
    if (tasks.length > this.threads) {
      // threads were disabled while waiting: run everything here
      for (const t of tasks) this.fns[fn]!(...t);
      return;
    }
    for (let i = 1; i < tasks.length; i++) {
      const s = this.slots[i - 1]!;
      const args = tasks[i]!;
      if (args.length > MAX_ARGS) throw new BackendError(`wasm pool: ${args.length} arguments (at most ${MAX_ARGS})`);
      for (let a = 0; a < args.length; a++) s.F[a] = args[a]!;
      s.I[FN] = fn;
      s.seq = (s.seq + 1) | 0;
      Atomics.store(s.I, SEQ, s.seq);
      Atomics.notify(s.I, SEQ);
    }
    let err: unknown = null;
    try {
      this.fns[fn]!(...tasks[0]!);
    } catch (e) {
      err = e;
    }
    for (let i = 1; i < tasks.length; i++) {
      const s = this.slots[i - 1]!;
      let d = Atomics.load(s.I, DONE);
      for (let k = 0; d !== s.seq && k < SPIN; k++) d = Atomics.load(s.I, DONE);
      while (d !== s.seq) {
        Atomics.wait(s.I, DONE, d, 1000);
        d = Atomics.load(s.I, DONE);
        if (d !== s.seq && this.disabledReason) throw new BackendError(`wasm pool: ${this.disabledReason}`);
      }
      if (s.I[STATUS] !== 0 && !err) err = new BackendError(`wasm kernel failed on worker ${i}: ${this.message(s)}`);
    }
    if (err) throw err;
  }

  /** Terminates the workers; later runs use the main thread only. */
  shutdown(): void {
    const slots = this.slots;
    this.slots = [];
    for (const s of slots) {
      s.I[FN] = -1;
      Atomics.store(s.I, SEQ, (s.seq + 1) | 0);
      Atomics.notify(s.I, SEQ);
      void s.worker.terminate();
    }
  }

  private disable(reason: string): void {
    if (this.slots.length === 0) return;
    this.disabledReason ??= reason;
    this.shutdown();
  }

  /** The first parallel run waits (once) for the workers to have instantiated the module. */
  private awaitReady(): void {
    if (this.readyChecked) return;
    this.readyChecked = true;
    for (const s of this.slots) {
      const deadline = Date.now() + 30_000;
      while (Atomics.load(s.I, READY) === 0 && Date.now() < deadline) Atomics.wait(s.I, READY, 0, 100);
      const state = Atomics.load(s.I, READY);
      if (state !== 1) {
        this.disable(state === 0 ? 'workers did not start within 30 s' : this.message(s));
        return;
      }
    }
  }

  private message(s: Slot): string {
    const end = s.M.indexOf(0);
    return new TextDecoder().decode(s.M.slice(0, end < 0 ? s.M.length : end));
  }
}
