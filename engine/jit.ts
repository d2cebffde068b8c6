/**
 * jit: trace a step function once per input signature, then replay the recorded kernel launches.
 *
 * Tracing runs the function eagerly (so the first call returns real results) while a recorder
 * notes every kernel launch, including those of the backward pass of any valueAndGrad inside.
 * Replay skips shape inference, tape building and scope bookkeeping: it allocates, launches and
 * frees each intermediate right after its last use. Like JAX:
 *  - non-tensor arguments (numbers, strings) are static: each distinct value is its own plan;
 *  - tensors the function closes over, and tensors it creates from host data, are captured as
 *    constants at trace time (pass anything that changes between calls as an argument);
 *  - reading tensor values inside the function (toArray/item) is an error while tracing.
 * Differentiating *through* a compiled function is refused; put valueAndGrad inside it.
 */
import type { Attrs } from './backend.js';
import type { DType } from './dtype.js';
import { JitError, fmtShape } from './errors.js';
import { allocTensor, backend, fromArray, isTracked, keep, readTensorUnchecked, setRecorder, tidy, type Recorder } from './engine.js';
import { stopGradient } from './ops/create.js';
import type { Shape } from './shape.js';
import { Tensor } from './tensor.js';
import { flatten } from './tree.js';

interface Step {
  op: string;
  ins: number[];
  outs: number[];
  outMeta: { shape: Shape; dtype: DType }[];
  attrs: Attrs;
}

type OutRef = { kind: 'slot'; slot: number } | { kind: 'static'; value: unknown };

interface Plan {
  nInputs: number;
  steps: Step[];
  consts: Map<number, Tensor>;
  outputs: OutRef[];
  rebuild: (leaves: readonly unknown[]) => unknown;
  /** per step: slots whose last use is this step (freed after it) */
  frees: number[][];
}

class PlanRecorder implements Recorder {
  readonly slots = new Map<number, number>();
  readonly steps: Step[] = [];
  readonly consts = new Map<number, Tensor>();
  private next = 0;

  constructor(inputs: readonly Tensor[]) {
    inputs.forEach((t, i) => {
      if (!this.slots.has(t.id)) this.slots.set(t.id, i);
    });
    this.next = inputs.length;
  }

  private capture(t: Tensor): number {
    const slot = this.next++;
    const prev = setRecorder(null);
    try {
      const copy = fromArray(readTensorUnchecked(t), t.shape, t.dtype);
      this.consts.set(slot, keep(copy));
    } finally {
      setRecorder(prev);
    }
    this.slots.set(t.id, slot);
    return slot;
  }

  slotOf(t: Tensor): number {
    return this.slots.get(t.id) ?? this.capture(t);
  }

  onUpload(t: Tensor): void {
    this.capture(t);
  }

  onOp(op: string, inputs: readonly Tensor[], outputs: readonly Tensor[], attrs: Attrs): void {
    const ins = inputs.map((t) => this.slotOf(t));
    const outs = outputs.map((t) => {
      const s = this.next++;
      this.slots.set(t.id, s);
      return s;
    });
    this.steps.push({ op, ins, outs, outMeta: outputs.map((t) => ({ shape: t.shape, dtype: t.dtype })), attrs });
  }
}

/** Shapes, dtypes, static values, and which tensor arguments are the same object (aliasing). */
function signature(leaves: readonly unknown[], structure: string, backendName: string): string {
  const parts = leaves.map((l, i) =>
    l instanceof Tensor ? `T${l.dtype}${fmtShape(l.shape)}@${leaves.indexOf(l) === i ? '' : leaves.indexOf(l)}` : `S${JSON.stringify(l)}`,
  );
  return `${backendName}|${structure}|${parts.join(';')}`;
}

/** Depth of jit traces in progress (nested compiled calls are inlined into the outer trace). */
let tracing = 0;

export interface CompiledExtras {
  /** Number of traced plans (one per input signature). */
  cacheSize(): number;
  /** Frees the constants held by the plans. */
  dispose(): void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function jit<F extends (...args: any[]) => any>(f: F): F & CompiledExtras {
  const cache = new Map<string, Plan>();

  const trace = (args: unknown[], inputs: Tensor[]): { plan: Plan; result: unknown } => {
    const rec = new PlanRecorder(inputs);
    const prev = setRecorder(rec);
    tracing++;
    let result: unknown;
    try {
      // tidy: intermediates of the traced call are freed as a replay would free them
      result = tidy(() => f(...args));
    } catch (e) {
      for (const t of rec.consts.values()) t.dispose();
      throw e;
    } finally {
      tracing--;
      setRecorder(prev);
    }
    const out = flatten(result);
    const outputs: OutRef[] = out.leaves.map((l) => (l instanceof Tensor ? { kind: 'slot', slot: rec.slotOf(l) } : { kind: 'static', value: l }));
    // liveness: free each intermediate after its last use, unless it is an input, const or output
    const keepSlots = new Set<number>(outputs.flatMap((o) => (o.kind === 'slot' ? [o.slot] : [])));
    const last = new Map<number, number>();
    rec.steps.forEach((s, i) => {
      for (const x of [...s.ins, ...s.outs]) last.set(x, i);
    });
    const frees: number[][] = rec.steps.map(() => []);
    for (const [slot, i] of last) {
      if (slot < inputs.length || rec.consts.has(slot) || keepSlots.has(slot)) continue;
      frees[i]!.push(slot);
    }
    return { plan: { nInputs: inputs.length, steps: rec.steps, consts: rec.consts, outputs, rebuild: out.rebuild, frees }, result };
  };

  const replay = (plan: Plan, inputs: Tensor[]): unknown => {
    const b = backend();
    const live = new Map<number, Tensor>();
    inputs.forEach((t, i) => live.set(i, t));
    for (const [s, t] of plan.consts) live.set(s, t);
    const produced = new Set<Tensor>();
    try {
      plan.steps.forEach((st, i) => {
        const ins = st.ins.map((s) => live.get(s)!);
        const outs = st.outMeta.map((m) => allocTensor(m.shape, m.dtype));
        st.outs.forEach((s, j) => {
          live.set(s, outs[j]!);
          produced.add(outs[j]!);
        });
        b.run(st.op, ins, outs, st.attrs);
        for (const s of plan.frees[i]!) {
          live.get(s)!.dispose();
          live.delete(s);
        }
      });
      const leaves = plan.outputs.map((o) => {
        if (o.kind === 'static') return o.value;
        const t = live.get(o.slot)!;
        return plan.consts.has(o.slot) ? stopGradient(t) : t;
      });
      return plan.rebuild(leaves);
    } catch (e) {
      for (const t of produced) t.dispose();
      throw e;
    }
  };

  const compiled = ((...args: unknown[]) => {
    // Called while another compiled function traces: run inline so the outer recorder sees every
    // launch (a replay here would be invisible to it, and its results baked in as constants).
    if (tracing > 0) return f(...args);
    const fl = flatten(args);
    const inputs = fl.leaves.filter((l): l is Tensor => l instanceof Tensor);
    for (const t of inputs) {
      if (isTracked(t)) throw new JitError('jit: cannot differentiate through a compiled function; call valueAndGrad inside the function you compile');
    }
    const key = signature(fl.leaves, fl.structure, backend().name);
    const plan = cache.get(key);
    if (plan) return replay(plan, inputs);
    const { plan: p, result } = trace(args, inputs);
    cache.set(key, p);
    return result;
  }) as F & CompiledExtras;
  compiled.cacheSize = () => cache.size;
  compiled.dispose = () => {
    for (const p of cache.values()) for (const t of p.consts.values()) t.dispose();
    cache.clear();
  };
  return compiled;
}
