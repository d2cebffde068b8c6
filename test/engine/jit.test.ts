/**
 * jit: replay equals eager (an SGD step with valueAndGrad inside), one plan per signature, static
 * arguments retrace, aliasing, closed-over constants, refusal to read data while tracing or to be
 * differentiated through, nested compiled functions.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { read, useReference } from './gradcheck.js';

beforeAll(useReference);

interface Params {
  w: E.Tensor;
  b: E.Tensor;
}
const loss = (p: Params, x: E.Tensor, y: E.Tensor) => E.mean(E.mul(E.sub(E.add(E.matmul(x, p.w), p.b), y), E.sub(E.add(E.matmul(x, p.w), p.b), y)));
/** One SGD step; lr is a static (non-tensor) argument. */
const sgd = (p: Params, x: E.Tensor, y: E.Tensor, lr: number) => {
  const [l, g] = E.valueAndGrad(loss)(p, x, y);
  return { loss: l, p: { w: E.sub(p.w, E.mul(g.w, lr)), b: E.sub(p.b, E.mul(g.b, lr)) } };
};

const data = () => ({
  x: E.tensor([[1, 2], [3, -1], [0.5, 0.25]]),
  y: E.tensor([[1], [0], [2]]),
  p: { w: E.tensor([[0.1], [-0.2]]), b: E.tensor([0.3]) },
});

describe('jit', () => {
  it('replaying an SGD step (valueAndGrad inside) equals eager execution bit for bit over 10 steps', () => {
    E.tidy(() => {
      const { x, y, p } = data();
      const step = E.jit(sgd);
      let pe = p;
      let pj = p;
      for (let i = 0; i < 10; i++) {
        const e = sgd(pe, x, y, 0.1);
        const j = step(pj, x, y, 0.1);
        expect(read(j.loss)).toEqual(read(e.loss));
        expect(read(j.p.w)).toEqual(read(e.p.w));
        expect(read(j.p.b)).toEqual(read(e.p.b));
        pe = e.p;
        pj = j.p;
      }
      expect(step.cacheSize()).toBe(1);
      // and training actually moved the loss
      expect(read(loss(pj, x, y))[0]!).toBeLessThan(read(loss(p, x, y))[0]!);
      step.dispose();
    });
  });

  it('one plan per shape/dtype signature; a new shape or dtype traces a new plan', () => {
    E.tidy(() => {
      let traces = 0;
      const f = E.jit((a: E.Tensor) => {
        traces++;
        return E.sum(E.mul(a, a));
      });
      f(E.tensor([1, 2]));
      f(E.tensor([3, 4]));
      expect([f.cacheSize(), traces]).toEqual([1, 1]);
      expect(read(f(E.tensor([1, 2, 3])))).toEqual([14]);
      expect(read(f(E.tensor([1, 2], [2], 'float64')))).toEqual([5]);
      expect(read(f(E.tensor([[1], [2]])))).toEqual([5]);
      expect([f.cacheSize(), traces]).toEqual([4, 4]);
      f.dispose();
      expect(f.cacheSize()).toBe(0);
    });
  });

  it('static (non-tensor) arguments are part of the key: a new value retraces and is used', () => {
    E.tidy(() => {
      const { x, y, p } = data();
      const step = E.jit(sgd);
      const a = step(p, x, y, 0.1);
      const b = step(p, x, y, 0.5);
      const c = step(p, x, y, 0.1);
      expect(step.cacheSize()).toBe(2);
      expect(read(b.p.w)).toEqual(read(sgd(p, x, y, 0.5).p.w));
      expect(read(c.p.w)).toEqual(read(a.p.w));
      expect(read(b.p.w)).not.toEqual(read(a.p.w));
      step.dispose();
    });
  });

  it('aliasing: f(x, x) and f(x, y) get separate plans and both are right, in either order', () => {
    E.tidy(() => {
      const x = E.tensor([1, 2]);
      const y = E.tensor([10, 20]);
      const f1 = E.jit((a: E.Tensor, b: E.Tensor) => E.add(E.mul(a, 2), b));
      expect(read(f1(x, x))).toEqual([3, 6]);
      expect(read(f1(x, y))).toEqual([12, 24]);
      expect(read(f1(y, y))).toEqual([30, 60]);
      expect(f1.cacheSize()).toBe(2);
      const f2 = E.jit((a: E.Tensor, b: E.Tensor) => E.add(E.mul(a, 2), b));
      expect(read(f2(x, y))).toEqual([12, 24]);
      expect(read(f2(x, x))).toEqual([3, 6]);
      expect(read(f2(y, x))).toEqual([21, 42]);
      expect(f2.cacheSize()).toBe(2);
      f1.dispose();
      f2.dispose();
    });
  });

  it('closed-over tensors and tensors made from host data are constants of the plan (kept even if the original is disposed)', () => {
    E.tidy(() => {
      const c = E.tensor([100, 200]);
      const f = E.jit((a: E.Tensor) => ({ s: E.add(a, c), h: E.mul(a, E.tensor([2, 3])), k: c, n: 7 }));
      const r1 = f(E.tensor([1, 2]));
      c.dispose();
      const r2 = f(E.tensor([3, 4]));
      expect(read(r1.s)).toEqual([101, 202]);
      expect(read(r2.s)).toEqual([103, 204]);
      expect(read(r2.h)).toEqual([6, 12]);
      expect(read(r2.k)).toEqual([100, 200]);
      expect(r2.n).toBe(7);
      f.dispose();
    });
  });

  it('an output that is an input is returned as that input on replay', () => {
    E.tidy(() => {
      const f = E.jit((a: E.Tensor, b: E.Tensor) => ({ a, s: E.add(a, b) }));
      const x = E.tensor([1]);
      f(x, E.tensor([2]));
      const r = f(x, E.tensor([5]));
      expect(r.a).toBe(x);
      expect(read(r.s)).toEqual([6]);
      f.dispose();
    });
  });

  it('reading tensor data while tracing throws JitError (and leaves no plan and no leak)', () => {
    E.tidy(() => {
      const before = E.memory().tensors;
      // the host tensor is captured as a plan constant before the read fails
      const f = E.jit((a: E.Tensor) => E.mul(E.add(a, E.tensor([1, 1])), E.sum(a).item()));
      expect(() => f(E.tensor([1, 2]))).toThrow(E.JitError);
      expect(() => f(E.tensor([1, 2]))).toThrow(/jit: the traced function read the values of tensor \[\] \(toArray\/item\/tolist\)/);
      const g = E.jit((a: E.Tensor) => E.mul(a, E.tensor([Array.from(a.toArray()).length])));
      expect(() => g(E.tensor([1, 2]))).toThrow(E.JitError);
      expect(f.cacheSize()).toBe(0);
      // reading is fine again once tracing is over
      expect(E.tensor([5]).item()).toBe(5);
      f.dispose();
      g.dispose();
      expect(E.memory().tensors - before).toBe(4); // the four inputs created above
    });
  });

  it('differentiating through a compiled function throws JitError with advice', () => {
    E.tidy(() => {
      const f = E.jit((a: E.Tensor) => E.sum(E.mul(a, a)));
      f(E.tensor([1, 2]));
      expect(() => E.grad((a: E.Tensor) => f(a))(E.tensor([1, 2]))).toThrow(/jit: cannot differentiate through a compiled function; call valueAndGrad inside/);
      f.dispose();
    });
  });

  it('a kernel error during replay (index out of range) propagates and frees what the replay made', () => {
    E.tidy(() => {
      const table = E.tensor([[1, 2], [3, 4]]);
      const f = E.jit((idx: E.Tensor) => E.sum(E.gather(E.mul(table, 2), idx)));
      expect(read(f(E.tensor([1, 0], [2], 'int32')))).toEqual([20]);
      const before = E.memory().tensors;
      const bad = E.tensor([0, 5], [2], 'int32');
      expect(() => f(bad)).toThrow(/gather: index 5 is out of range for axis 0 of size 2/);
      expect(E.memory().tensors - before).toBe(1); // only `bad`
      f.dispose();
    });
  });

  it('a compiled function called inside another one being traced is inlined, not baked in as a constant', () => {
    E.tidy(() => {
      const inner = E.jit((a: E.Tensor) => E.mul(a, 3));
      inner(E.tensor([1])); // inner already has a plan
      const outer = E.jit((a: E.Tensor) => E.add(inner(a), 1));
      expect(read(outer(E.tensor([1, 2])))).toEqual([4, 7]);
      expect(read(outer(E.tensor([5, 6])))).toEqual([16, 19]);
      const outer2 = E.jit((a: E.Tensor) => E.add(inner(E.mul(a, a)), 1)); // inner traces inside
      expect(read(outer2(E.tensor([2, 3])))).toEqual([13, 28]);
      expect(read(outer2(E.tensor([1, 4])))).toEqual([4, 49]);
      inner.dispose();
      outer.dispose();
      outer2.dispose();
    });
  });

  it('tracing is abstract: the first call launches each kernel once (the replay), never eagerly first', () => {
    E.tidy(() => {
      const { x, y, p } = data();
      const b = E.backend();
      const runs: string[] = [];
      const orig = b.run.bind(b);
      b.run = (op, ins, outs, attrs) => {
        runs.push(op);
        orig(op, ins, outs, attrs);
      };
      try {
        const step = E.jit(sgd);
        const first = step(p, x, y, 0.1);
        const n = runs.length;
        const second = step(p, x, y, 0.1);
        expect(n).toBeGreaterThan(5);
        expect(runs.length).toBe(2 * n); // the same launches again: the first call was one replay
        expect(read(first.p.w)).toEqual(read(second.p.w));
        const e = sgd(p, x, y, 0.1);
        expect(read(first.p.w)).toEqual(read(e.p.w));
        step.dispose();
      } finally {
        b.run = orig;
      }
    });
  });

  it('donateArgnums: donated tensors are consumed (freed after last use), results unchanged, peak memory lower', () => {
    E.tidy(() => {
      // an "optimizer step" over a few large tensors: new = old * 0.9 + 1
      const mk = () => ({ a: E.tensor(new Float64Array(4096).fill(1), [4096], 'float64'), b: E.tensor(new Float64Array(4096).fill(2), [4096], 'float64'), c: E.tensor(new Float64Array(4096).fill(3), [4096], 'float64') });
      const upd = (s: { a: E.Tensor; b: E.Tensor; c: E.Tensor }, k: E.Tensor) => ({ a: E.add(E.mul(s.a, k), 1), b: E.add(E.mul(s.b, k), 1), c: E.add(E.mul(s.c, k), 1) });
      const k = E.tensor(0.9, [], 'float64');
      const b = E.backend();
      const peakOf = (fn: () => unknown): number => {
        let peak = 0;
        const orig = b.run.bind(b);
        b.run = (op, ins, outs, attrs) => {
          orig(op, ins, outs, attrs);
          peak = Math.max(peak, E.memory().bytes);
        };
        try {
          fn();
        } finally {
          b.run = orig;
        }
        return peak;
      };
      const plain = E.jit(upd);
      const donating = E.jit(upd, { donateArgnums: [0] });
      const s1 = mk();
      const s2 = mk();
      let r1: ReturnType<typeof upd> | undefined;
      let r2: ReturnType<typeof upd> | undefined;
      let base = E.memory().bytes;
      const pPlain = peakOf(() => (r1 = plain(s1, k))) - base;
      base = E.memory().bytes;
      const pDon = peakOf(() => (r2 = donating(s2, k))) - base;
      expect(read(r2!.a)).toEqual(read(r1!.a));
      expect(read(r2!.c)).toEqual(read(r1!.c));
      expect(s1.a.disposed).toBe(false);
      expect([s2.a.disposed, s2.b.disposed, s2.c.disposed]).toEqual([true, true, true]);
      expect(k.disposed).toBe(false); // not donated
      expect(pDon).toBeLessThan(pPlain - 2 * 4096 * 8); // two of the three old tensors were gone before the last new one
      expect(() => donating(s2, k)).toThrow(/used after dispose\(\) \(a donated argument is consumed/);
      // the same tensor in a donated and a non-donated argument is refused
      const t = E.tensor([1, 2], [2], 'float64');
      const g = E.jit((a: E.Tensor, c: E.Tensor) => E.add(a, c), { donateArgnums: [0] });
      expect(() => g(t, t)).toThrow(/passed in donated argument and in argument 1/);
      // a donated argument the step returns unchanged is handed back, not freed
      const h = E.jit((a: E.Tensor, c: E.Tensor) => ({ a, s: E.add(a, c) }), { donateArgnums: [0] });
      const u = E.tensor([1, 2], [2], 'float64');
      const out = h(u, t);
      expect(out.a).toBe(u);
      expect(read(out.s)).toEqual([2, 4]);
      for (const f of [plain, donating, g, h]) f.dispose();
    });
  });
});
