/**
 * Functional reverse-mode autodiff: grad, valueAndGrad, vjp, customVjp.
 *
 * A transform runs the function eagerly under a Trace: every op whose inputs depend on the
 * differentiated arguments is put on the trace's tape. The backward pass walks the tape in
 * reverse, calling each op's VJP rule (written in ops, so it runs on any backend). Intermediates
 * are freed deterministically when the transform returns. Higher-order gradients are refused.
 */
import type { Attrs } from './backend.js';
import { isFloat } from './dtype.js';
import { AutodiffError, fmtShape } from './errors.js';
import { dispatch, inBackward, popTrace, pushTrace, recordOnTapes, tidy, Trace, withTracingPaused } from './engine.js';
import type { VjpRule } from './ops/registry.js';
import { add } from './ops/elementwise.js';
import { full, zerosLike } from './ops/create.js';
import { shapesEqual } from './shape.js';
import { Tensor } from './tensor.js';
import { flatten, tensorLeaves } from './tree.js';

/** Runs the tape backwards from `seeds` (tensor → cotangent) and returns cotangents by tensor id. */
function backward(trace: Trace, seeds: Map<number, Tensor>): Map<number, Tensor> {
  const grads = new Map(seeds);
  inBackward(() => {
    for (let n = trace.tape.length - 1; n >= 0; n--) {
      const node = trace.tape[n]!;
      const cts = node.outputs.map((o) => grads.get(o.id) ?? null);
      if (cts.every((c) => c === null)) continue;
      const needsGrad = node.inputs.map((t) => trace.tracked.has(t.id) && isFloat(t.dtype));
      if (!needsGrad.some(Boolean)) continue;
      const inCts = node.vjp({ inputs: node.inputs, outputs: node.outputs, attrs: node.attrs, cotangents: cts, needsGrad });
      node.inputs.forEach((inp, i) => {
        const ct = inCts[i];
        if (!ct || !needsGrad[i]) return;
        if (!shapesEqual(ct.shape, inp.shape) || ct.dtype !== inp.dtype) {
          throw new AutodiffError(
            `${node.op}: VJP rule returned a cotangent ${fmtShape(ct.shape)} ${ct.dtype} for input ${i} of ${fmtShape(inp.shape)} ${inp.dtype} (bug in the rule)`,
          );
        }
        const prev = grads.get(inp.id);
        grads.set(inp.id, prev ? add(prev, ct) : ct);
      });
    }
  });
  return grads;
}

function normArgnums(argnums: number | readonly number[], nargs: number): number[] {
  const list = typeof argnums === 'number' ? [argnums] : [...argnums];
  for (const a of list) {
    if (!Number.isInteger(a) || a < 0 || a >= nargs) throw new AutodiffError(`argnums ${a} is out of range for a call with ${nargs} arguments`);
  }
  return list;
}

function checkScalarLoss(value: unknown, where: string): Tensor {
  if (!(value instanceof Tensor)) throw new AutodiffError(`${where}: the function must return a scalar Tensor${where.includes('hasAux') ? ' as the first element of [loss, aux]' : ''}, got ${typeof value}`);
  if (value.size !== 1 || !isFloat(value.dtype)) {
    throw new AutodiffError(`${where}: the function must return a scalar float tensor, got ${fmtShape(value.shape)} ${value.dtype}`);
  }
  return value;
}

export interface GradOptions {
  /** Which positional arguments to differentiate (default 0, as in JAX). */
  argnums?: number | readonly number[];
  /** The function returns [loss, aux]; aux is passed through untouched. */
  hasAux?: boolean;
}

/** Gradient trees mirror the argument trees: float tensor leaves get a tensor, others null. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (...args: any[]) => any;

/**
 * `valueAndGrad(f)(...args)` returns `[value, grads]` (or `[[value, aux], grads]` with hasAux).
 * With a single argnum, grads has the structure of that argument; with a list, it is a list.
 */
export function valueAndGrad<F extends AnyFn>(f: F, opts: GradOptions = {}): (...args: Parameters<F>) => [ReturnType<F>, any] {
  const name = opts.hasAux ? 'valueAndGrad(hasAux)' : 'valueAndGrad';
  return (...args: Parameters<F>) =>
    tidy(() => {
      const argnums = normArgnums(opts.argnums ?? 0, args.length);
      const trace = new Trace();
      const flats = argnums.map((i) => flatten(args[i]));
      for (const fl of flats) for (const l of fl.leaves) if (l instanceof Tensor && isFloat(l.dtype)) trace.track(l);
      pushTrace(trace);
      let out: ReturnType<F>;
      try {
        out = f(...args);
      } catch (e) {
        trace.release(); // else the tensors on its tape are never freed
        throw e;
      } finally {
        popTrace(trace);
      }
      try {
        const loss = checkScalarLoss(opts.hasAux ? (out as unknown[])[0] : out, name);
        const seed = full(loss.shape, 1, loss.dtype);
        const grads = backward(trace, new Map([[loss.id, seed]]));
        const trees = flats.map((fl) =>
          fl.rebuild(fl.leaves.map((l) => (l instanceof Tensor && isFloat(l.dtype) ? grads.get(l.id) ?? zerosLike(l) : null))),
        );
        return [out, typeof (opts.argnums ?? 0) === 'number' ? trees[0] : trees] as [ReturnType<F>, unknown];
      } finally {
        trace.release();
      }
    });
}

/** `grad(f)(...args)`: the gradient tree(s) of scalar `f` (see valueAndGrad). */
export function grad<F extends AnyFn>(f: F, opts: GradOptions = {}): (...args: Parameters<F>) => any {
  const vg = valueAndGrad(f, opts);
  return (...args: Parameters<F>) =>
    tidy(() => vg(...args)[1]);
}

export interface VjpFn {
  /** Cotangents for the primals, given one for each output tensor (same tree as the output). */
  (cotangent: unknown): unknown[];
}

/**
 * `vjp(f, ...primals)` returns `[out, pullback]`; `pullback(ct)` returns one cotangent tree per
 * primal. Like PyTorch's default (retain_graph=False), the saved intermediates are released
 * after the first pullback; use `vjpRetained` to call it more than once.
 */
export function vjp(f: AnyFn, ...primals: unknown[]): [unknown, VjpFn] {
  return vjpImpl(f, primals, false);
}

/** Like vjp, but the pullback may be called many times; call `.release()` when done. */
export function vjpRetained(f: AnyFn, ...primals: unknown[]): [unknown, VjpFn & { release(): void }] {
  return vjpImpl(f, primals, true);
}

function vjpImpl(f: AnyFn, primals: unknown[], retain: boolean): [unknown, VjpFn & { release(): void }] {
  const trace = new Trace();
  const flats = primals.map((p) => flatten(p));
  for (const fl of flats) for (const l of fl.leaves) if (l instanceof Tensor && isFloat(l.dtype)) trace.track(l);
  pushTrace(trace);
  let out: unknown;
  try {
    // tidy: intermediates are disposed now; those saved on the tape are freed when it is released
    out = tidy(() => f(...primals));
  } catch (e) {
    trace.release();
    throw e;
  } finally {
    popTrace(trace);
  }
  const outLeaves = flatten(out);
  const pullback = ((ct: unknown) => {
    if (trace.released) throw new AutodiffError('vjp: the pullback was already used and its saved tensors freed; use vjpRetained to call it more than once');
    const ctFlat = flatten(ct);
    if (ctFlat.structure !== outLeaves.structure) {
      throw new AutodiffError(`vjp: cotangent structure ${ctFlat.structure} does not match the output's ${outLeaves.structure}`);
    }
    outLeaves.leaves.forEach((o, i) => {
      const c = ctFlat.leaves[i];
      if (o instanceof Tensor && c instanceof Tensor && (!shapesEqual(o.shape, c.shape) || o.dtype !== c.dtype)) {
        throw new AutodiffError(`vjp: cotangent ${fmtShape(c.shape)} ${c.dtype} does not match output ${fmtShape(o.shape)} ${o.dtype}`);
      }
    });
    try {
      return tidy(() => {
        // inside the tidy: sums for an output that appears twice are temporaries
        const seeds = new Map<number, Tensor>();
        outLeaves.leaves.forEach((o, i) => {
          const c = ctFlat.leaves[i];
          if (o instanceof Tensor && c instanceof Tensor) seeds.set(o.id, seeds.has(o.id) ? add(seeds.get(o.id)!, c) : c);
        });
        const grads = backward(trace, seeds);
        return flats.map((fl) =>
          fl.rebuild(fl.leaves.map((l) => (l instanceof Tensor && isFloat(l.dtype) ? grads.get(l.id) ?? zerosLike(l) : null))),
        );
      });
    } finally {
      if (!retain) trace.release();
    }
  }) as VjpFn & { release(): void };
  pullback.release = () => trace.release();
  return [out, pullback];
}

/**
 * Defines a differentiable function with a hand-written VJP (straight-through estimators,
 * fused layers). `forward` runs with autodiff off; `rule` gets the inputs, outputs and output
 * cotangents and returns one cotangent per input (null for none).
 */
export function customVjp(name: string, forward: (...inputs: Tensor[]) => Tensor | Tensor[], rule: VjpRule): (...inputs: Tensor[]) => Tensor | Tensor[] {
  return (...inputs: Tensor[]) => {
    const res = withTracingPaused(() => forward(...inputs));
    const outs = Array.isArray(res) ? res : [res];
    // Outputs that are inputs would alias on the tape; copy them so each output is a fresh node.
    const fresh = outs.map((o) => (inputs.includes(o) ? dispatch('stopGradient', [o])[0]! : o));
    recordOnTapes(`customVjp(${name})`, rule, inputs, fresh, {} as Attrs);
    return Array.isArray(res) ? fresh : fresh[0]!;
  };
}

export { tensorLeaves };
