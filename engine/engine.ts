/**
 * Engine state: the active backend, tidy scopes, autodiff traces and the jit recorder.
 * Every op goes through `dispatch`, the single place where shapes are inferred, kernels run,
 * tensors are registered for deterministic freeing, and autodiff/jit recording happens.
 */
import type { Attrs, Backend, BufferHandle, MemoryInfo } from './backend.js';
import { allocArray, bytesPerElement, type DType, type TypedArray } from './dtype.js';
import { AutodiffError, BackendError, DTypeError, JitError, fmtShape } from './errors.js';
import { getOp, type OpDef, type VjpRule } from './ops/registry.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import { Tensor } from './tensor.js';
import { tensorLeaves } from './tree.js';

// ---------------------------------------------------------------- backends

export interface BackendEntry {
  name: string;
  /** Higher wins when the engine picks a default. */
  priority: number;
  /** Returns the backend, or throws a BackendError that says why it cannot start. */
  create(): Backend;
}

const backendEntries = new Map<string, BackendEntry>();
const backendInstances = new Map<string, Backend>();
const backendFailures = new Map<string, string>();
let current: Backend | null = null;

export function registerBackend(entry: BackendEntry): void {
  backendEntries.set(entry.name, entry);
}

export function backendNames(): string[] {
  return [...backendEntries.values()].sort((a, b) => b.priority - a.priority).map((e) => e.name);
}

/** Starts (once) and returns the named backend; throws with the reason if it cannot start. */
export function getBackend(name: string): Backend {
  const inst = backendInstances.get(name);
  if (inst) return inst;
  const entry = backendEntries.get(name);
  if (!entry) throw new BackendError(`unknown backend '${name}' (known: ${backendNames().join(', ')})`);
  const failed = backendFailures.get(name);
  if (failed) throw new BackendError(`backend '${name}' is unavailable: ${failed}`);
  try {
    const b = entry.create();
    backendInstances.set(name, b);
    return b;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    backendFailures.set(name, why);
    throw new BackendError(`backend '${name}' is unavailable: ${why}`);
  }
}

/** Status of every registered backend: available, or why not. */
export function backendStatus(): { name: string; priority: number; available: boolean; reason?: string }[] {
  return [...backendEntries.values()]
    .sort((a, b) => b.priority - a.priority)
    .map((e) => {
      try {
        getBackend(e.name);
        return { name: e.name, priority: e.priority, available: true };
      } catch (err) {
        return { name: e.name, priority: e.priority, available: false, reason: (err as Error).message };
      }
    });
}

export function setBackend(name: string): Backend {
  current = getBackend(name);
  return current;
}

/** The active backend; on first use, the highest-priority backend that starts. */
export function backend(): Backend {
  if (current) return current;
  const reasons: string[] = [];
  for (const name of backendNames()) {
    try {
      return setBackend(name);
    } catch (e) {
      reasons.push((e as Error).message);
    }
  }
  throw new BackendError(`no backend could start:\n  ${reasons.join('\n  ')}`);
}

// ---------------------------------------------------------------- memory and scopes

let liveTensors = 0;
let liveBytes = 0;
const scopes: Set<Tensor>[] = [];
const scopeOf = new WeakMap<Tensor, Set<Tensor>>();

/** Live tensors and bytes as seen by the engine, plus what the active backend holds. */
export function memory(): { tensors: number; bytes: number; backend: MemoryInfo } {
  return { tensors: liveTensors, bytes: liveBytes, backend: backend().memory() };
}

/** Wraps a freshly filled buffer into a tensor registered in the current scope. */
function adopt(t: Tensor): Tensor {
  if (!t.abstract) {
    liveTensors++;
    liveBytes += t.size * bytesPerElement(t.dtype);
  }
  const s = scopes[scopes.length - 1];
  if (s) {
    s.add(t);
    scopeOf.set(t, s);
  }
  return t;
}

export function releaseTensor(t: Tensor): void {
  if (t.disposed) return;
  if (t.tapeRefs > 0) {
    t.disposeRequested = true;
    return;
  }
  t.disposed = true;
  if (t.abstract) {
    scopeOf.get(t)?.delete(t);
    return; // never allocated, never counted
  }
  liveTensors--;
  liveBytes -= t.size * bytesPerElement(t.dtype);
  scopeOf.get(t)?.delete(t);
  t.backend.free(t.rawBuffer());
}

/**
 * Runs `fn` and disposes every tensor it created except those reachable from its result
 * (and those passed to `keep`). Like tf.tidy; on an exception everything created is freed.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  let ok = false;
  try {
    result = fn();
    ok = true;
  } finally {
    scopes.pop();
    const keepSet = new Set(ok ? tensorLeaves(result!) : []);
    const parent = scopes[scopes.length - 1];
    for (const t of [...scope]) {
      if (keepSet.has(t) || t.kept) {
        if (parent && !t.kept) {
          parent.add(t);
          scopeOf.set(t, parent);
        } else scopeOf.delete(t);
      } else t.dispose();
    }
  }
  return result!;
}

/** Marks tensors to survive every enclosing tidy (they must then be disposed by hand). */
export function keep<T>(tree: T): T {
  for (const t of tensorLeaves(tree)) {
    t.kept = true;
    scopeOf.get(t)?.delete(t);
    scopeOf.delete(t);
  }
  return tree;
}

/** Disposes every tensor in a tree. */
export function dispose(tree: unknown): void {
  for (const t of tensorLeaves(tree)) t.dispose();
}

// ---------------------------------------------------------------- autodiff traces

export interface TapeNode {
  readonly op: string;
  readonly vjp: VjpRule;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly attrs: Attrs;
}

/** One active gradient computation: which tensors depend on its variables, and the tape. */
export class Trace {
  readonly tracked = new Set<number>();
  readonly tape: TapeNode[] = [];
  released = false;

  track(t: Tensor): void {
    this.tracked.add(t.id);
  }

  /** Drops the tape's hold on saved tensors, freeing those disposed meanwhile. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const n of this.tape) {
      for (const t of [...n.inputs, ...n.outputs]) {
        t.tapeRefs--;
        if (t.tapeRefs === 0 && t.disposeRequested) t.dispose();
      }
    }
    this.tape.length = 0;
  }
}

const traces: Trace[] = [];
let tracingPaused = 0;
let backwardDepth = 0;

export function pushTrace(t: Trace): void {
  traces.push(t);
}
export function popTrace(t: Trace): void {
  const top = traces.pop();
  if (top !== t) throw new Error('internal: trace stack out of order');
}
/** Runs fn with autodiff recording off (custom-VJP forwards run this way). */
export function withTracingPaused<T>(fn: () => T): T {
  tracingPaused++;
  try {
    return fn();
  } finally {
    tracingPaused--;
  }
}
export function inBackward<T>(fn: () => T): T {
  backwardDepth++;
  try {
    return fn();
  } finally {
    backwardDepth--;
  }
}

/** Records an op application on every active trace that tracks one of its inputs. */
export function recordOnTapes(op: string, vjp: VjpRule | undefined, inputs: readonly Tensor[], outputs: readonly Tensor[], attrs: Attrs): void {
  if (tracingPaused > 0) return;
  for (const tr of traces) {
    if (!inputs.some((t) => tr.tracked.has(t.id))) continue;
    if (backwardDepth > 0) {
      throw new AutodiffError(
        `${op}: higher-order gradients are not supported (a gradient computation used a tensor that an enclosing grad/valueAndGrad is differentiating); ` +
          'wrap the inner result in stopGradient if it should be treated as a constant',
      );
    }
    if (!vjp) continue; // not differentiable: outputs are constants
    for (const t of [...inputs, ...outputs]) t.tapeRefs++;
    for (const t of outputs) tr.track(t);
    tr.tape.push({ op, vjp, inputs, outputs, attrs });
  }
}

// ---------------------------------------------------------------- jit recorder hook

/** Implemented by jit: sees every kernel launch and host upload while tracing. */
export interface Recorder {
  onOp(op: string, inputs: readonly Tensor[], outputs: readonly Tensor[], attrs: Attrs): void;
  onUpload(t: Tensor): void;
}
let recorder: Recorder | null = null;

/**
 * While > 0, ops produce abstract tensors (shape and dtype, no buffer) and run no kernel: jit
 * records a step's plan this way, so tracing costs neither compute nor the memory of every
 * intermediate held at once (an eager trace keeps them all until its tidy ends).
 */
let abstractDepth = 0;
export function withAbstractOps<T>(fn: () => T): T {
  abstractDepth++;
  try {
    return fn();
  } finally {
    abstractDepth--;
  }
}

export function setRecorder(r: Recorder | null): Recorder | null {
  const prev = recorder;
  recorder = r;
  return prev;
}

// ---------------------------------------------------------------- tensors from host data, reads

export function fromArray(data: TypedArray, shape: Shape, dtype: DType): Tensor {
  checkShape('tensor', shape);
  if (data.length !== sizeOf(shape)) {
    throw new DTypeError(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)} (${sizeOf(shape)} elements)`);
  }
  const b = backend();
  if (!b.dtypes.includes(dtype)) throw new DTypeError(`tensor: backend '${b.name}' does not support ${dtype}`);
  const buf = b.alloc(dtype, data.length);
  try {
    b.upload(buf, data);
  } catch (e) {
    b.free(buf); // a refused upload (e.g. values a backend cannot hold exactly) must not leak
    throw e;
  }
  const t = adopt(new Tensor([...shape], dtype, buf, b));
  recorder?.onUpload(t);
  return t;
}

/** Reads a tensor to the host. Forbidden while jit traces (values would be baked into the plan). */
export function readTensor(t: Tensor): TypedArray {
  if (recorder) {
    throw new JitError(
      `jit: the traced function read the values of tensor ${fmtShape(t.shape)} (toArray/item/tolist); ` +
        'a compiled step must not depend on data read back to JavaScript',
    );
  }
  return readTensorUnchecked(t);
}
export function readTensorUnchecked(t: Tensor): TypedArray {
  const buf = t.buf; // throws if disposed or abstract (a jit tracer), even for an empty tensor
  if (t.size === 0) return allocArray(t.dtype, 0);
  return t.backend.download(buf, t.dtype, t.size);
}

// ---------------------------------------------------------------- dispatch

/** Applies a registered op: infer shapes, run the kernel, register and record the outputs. */
export function dispatch(opName: string, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor[] {
  const def: OpDef = getOp(opName);
  const b = backend();
  for (const t of inputs) {
    if (!(t instanceof Tensor)) throw new DTypeError(`${opName}: expected a Tensor input, got ${typeof t}`);
    if (t.disposed) throw new AutodiffError(`${opName}: input tensor ${fmtShape(t.shape)} was used after dispose()`);
    if (t.backend !== b) {
      throw new BackendError(`${opName}: input lives on backend '${t.backend.name}' but the engine runs '${b.name}'; move it with toBackend()`);
    }
  }
  const metas = def.infer(inputs, attrs);
  for (const m of metas) {
    if (!b.dtypes.includes(m.dtype)) throw new DTypeError(`${opName}: backend '${b.name}' does not support ${m.dtype}`);
  }
  if (!b.has(opName)) throw new BackendError(`${opName}: backend '${b.name}' has no kernel for this op`);
  // While jit traces abstractly, outputs are shape-only tensors and no kernel runs.
  const abstract = abstractDepth > 0;
  const outputs = metas.map((m) => {
    const t = new Tensor(m.shape, m.dtype, abstract ? (null as unknown as BufferHandle) : b.alloc(m.dtype, sizeOf(m.shape)), b);
    t.abstract = abstract;
    return t;
  });
  if (!abstract) {
    try {
      b.run(opName, inputs, outputs, attrs);
    } catch (e) {
      for (const o of outputs) b.free(o.rawBuffer());
      throw e;
    }
  }
  for (const o of outputs) adopt(o);
  recorder?.onOp(opName, inputs, outputs, attrs);
  recordOnTapes(opName, def.vjp, inputs, outputs, attrs);
  return outputs;
}

/** A new tensor of the active backend with uninitialised contents (for compiled plans). */
export function allocTensor(shape: Shape, dtype: DType): Tensor {
  const b = backend();
  return adopt(new Tensor(shape, dtype, b.alloc(dtype, sizeOf(shape)), b));
}

/** True when some gradient transform in progress is differentiating with respect to `t`. */
export function isTracked(t: Tensor): boolean {
  return tracingPaused === 0 && traces.some((tr) => tr.tracked.has(t.id));
}

/** Moves (copies) a tensor to another backend. */
export function toBackend(t: Tensor, name: string): Tensor {
  const target = getBackend(name);
  if (t.backend === target) return t;
  const data = readTensor(t);
  const buf = target.alloc(t.dtype, t.size);
  target.upload(buf, data);
  return adopt(new Tensor(t.shape, t.dtype, buf, target));
}
