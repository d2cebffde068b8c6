/**
 * jit: trace a step function once per input signature, then replay the recorded kernel launches.
 *
 * Tracing runs the function on abstract tensors (shapes and dtypes only: no kernel runs, nothing
 * is allocated) while a recorder notes every kernel launch, including those of the backward pass
 * of any valueAndGrad inside; the first call then replays the plan like every later one. Replay
 * skips shape inference, tape building and scope bookkeeping: it allocates, launches and frees
 * each intermediate right after its last use. Like JAX:
 *  - non-tensor arguments (numbers, strings) are static: each distinct value is its own plan;
 *  - tensors the function closes over, and tensors it creates from host data, are captured as
 *    constants at trace time (pass anything that changes between calls as an argument);
 *  - reading tensor values inside the function (toArray/item) is an error while tracing.
 * Differentiating *through* a compiled function is refused; put valueAndGrad inside it.
 *
 * Donation (JAX's donate_argnums): `jit(f, { donateArgnums: [0, 1] })` hands the tensors of those
 * arguments to the step, which frees each right after its last use. An optimizer step that maps
 * (params, moments) to new ones then never holds old and new copies of everything at once; the
 * caller must not use donated tensors after the call (they are disposed).
 */
import type { Attrs, PlanStep } from './backend.js';
import type { DType } from './dtype.js';
import type { Shape } from './shape.js';
import { JitError, fmtShape } from './errors.js';
import { allocTensor, backend, fromArray, isTracked, keep, readTensorUnchecked, setRecorder, tidy, withAbstractOps, type Recorder } from './engine.js';
import { stopGradient } from './ops/create.js';
import { Tensor } from './tensor.js';
import { flatten } from './tree.js';

type Step = PlanStep;

type OutRef = { kind: 'slot'; slot: number } | { kind: 'static'; value: unknown };

interface Plan {
  nInputs: number;
  steps: Step[];
  consts: Map<number, Tensor>;
  outputs: OutRef[];
  rebuild: (leaves: readonly unknown[]) => unknown;
  /** per step: slots whose last use is this step (freed after it) */
  frees: number[][];
  /** donated input slots that no step reads and no output returns: freed at the start */
  donatedUnused: number[];
}

class PlanRecorder implements Recorder {
  readonly slots = new Map<number, number>();
  readonly steps: Step[] = [];
  readonly consts = new Map<number, Tensor>();
  private next = 0;
  readonly inputMeta: { shape: Shape; dtype: DType }[];

  constructor(inputs: readonly Tensor[]) {
    this.inputMeta = inputs.map((t) => ({ shape: t.shape, dtype: t.dtype }));
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

/** The backend's optional plan rewrite (e.g. kernel fusion); the recorded steps otherwise. */
function compileSteps(rec: PlanRecorder, escapes: ReadonlySet<number>): Step[] {
  const b = backend();
  if (!b.compilePlan) return rec.steps;
  const scalarConsts = new Map<number, number>();
  for (const [slot, t] of rec.consts) {
    if (t.dtype === 'float32' && t.size === 1) scalarConsts.set(slot, readTensorUnchecked(t)[0]!);
  }
  const slotMeta = new Map<number, { shape: Shape; dtype: DType }>();
  rec.inputMeta.forEach((m, i) => slotMeta.set(i, m));
  for (const [slot, t] of rec.consts) slotMeta.set(slot, { shape: t.shape, dtype: t.dtype });
  for (const s of rec.steps) s.outs.forEach((o, i) => slotMeta.set(o, s.outMeta[i]!));
  return b.compilePlan(rec.steps, { escapes, scalarConsts, slotMeta });
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

export interface JitOptions {
  /** Positional arguments whose tensors the step consumes (freed after their last use). */
  donateArgnums?: number[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function jit<F extends (...args: any[]) => any>(f: F, opts: JitOptions = {}): F & CompiledExtras {
  const cache = new Map<string, Plan>();
  const donateArgnums = opts.donateArgnums ?? [];
  for (const i of donateArgnums) if (!Number.isInteger(i) || i < 0) throw new JitError(`jit: donateArgnums must hold argument indices, got ${i}`);

  const trace = (args: unknown[], inputs: Tensor[], donated: Set<number>): Plan => {
    const rec = new PlanRecorder(inputs);
    const prev = setRecorder(rec);
    tracing++;
    let result: unknown;
    try {
      // abstract: record the launches without running them; tidy drops the tracer tensors
      result = withAbstractOps(() => tidy(() => f(...args)));
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
    let steps: Step[];
    try {
      steps = compileSteps(rec, keepSlots);
    } catch (e) {
      for (const t of rec.consts.values()) t.dispose();
      throw e;
    }
    const last = new Map<number, number>();
    steps.forEach((s, i) => {
      for (const x of [...s.ins, ...s.outs]) last.set(x, i);
    });
    const frees: number[][] = steps.map(() => []);
    for (const [slot, i] of last) {
      if ((slot < inputs.length && !donated.has(slot)) || rec.consts.has(slot) || keepSlots.has(slot)) continue;
      frees[i]!.push(slot);
    }
    const donatedUnused = [...donated].filter((s) => !last.has(s) && !keepSlots.has(s));
    return { nInputs: inputs.length, steps, consts: rec.consts, outputs, rebuild: out.rebuild, frees, donatedUnused };
  };

  const replay = (plan: Plan, inputs: Tensor[]): unknown => {
    const b = backend();
    const live = new Map<number, Tensor>();
    inputs.forEach((t, i) => live.set(i, t));
    for (const [s, t] of plan.consts) live.set(s, t);
    const produced = new Set<Tensor>();
    for (const s of plan.donatedUnused) live.get(s)!.dispose();
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
      if (t.disposed) throw new JitError(`jit: argument tensor ${fmtShape(t.shape)} was used after dispose() (a donated argument is consumed by the call)`);
    }
    const donated = donatedSlots(args, inputs);
    const key = signature(fl.leaves, fl.structure, backend().name) + `|donate:${[...donated].join(',')}`;
    let plan = cache.get(key);
    if (!plan) {
      plan = trace(args, inputs, donated);
      cache.set(key, plan);
    }
    return replay(plan, inputs);
  }) as F & CompiledExtras;

  /** Input slots (first occurrence of each tensor) that belong to donated arguments. */
  const donatedSlots = (args: unknown[], inputs: Tensor[]): Set<number> => {
    const out = new Set<number>();
    if (donateArgnums.length === 0) return out;
    const firstSlot = new Map<number, number>();
    inputs.forEach((t, i) => {
      if (!firstSlot.has(t.id)) firstSlot.set(t.id, i);
    });
    const donatedIds = new Set<number>();
    for (const i of donateArgnums) for (const l of flatten(args[i]).leaves) if (l instanceof Tensor) donatedIds.add(l.id);
    // A tensor passed both donated and not donated would be freed under the other argument.
    args.forEach((a, i) => {
      if (donateArgnums.includes(i)) return;
      for (const l of flatten(a).leaves) {
        if (l instanceof Tensor && donatedIds.has(l.id)) throw new JitError(`jit: tensor ${fmtShape(l.shape)} is passed in donated argument and in argument ${i}, which is not donated`);
      }
    });
    for (const id of donatedIds) out.add(firstSlot.get(id)!);
    return out;
  };
  compiled.cacheSize = () => cache.size;
  compiled.dispose = () => {
    for (const p of cache.values()) for (const t of p.consts.values()) t.dispose();
    cache.clear();
  };
  return compiled;
}
