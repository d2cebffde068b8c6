/**
 * Deterministic freeing: tidy frees intermediates and keeps results (also on exceptions), the
 * transforms leave memory unchanged, jit replays leak nothing, and disposed tensors refuse use.
 * Every check compares E.memory() (engine count) and the backend's own buffer count.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { read, useReference } from './gradcheck.js';

beforeAll(useReference);

const live = () => {
  const m = E.memory();
  return { tensors: m.tensors, bytes: m.bytes, buffers: m.backend.buffers, backendBytes: m.backend.bytes };
};

/** Runs fn and expects every counter back where it started. */
function expectNoLeak(fn: () => void): void {
  const before = live();
  fn();
  expect(live()).toEqual(before);
}

describe('memory', () => {
  it('engine and backend agree on live tensors and bytes', () => {
    E.tidy(() => {
      E.add(E.tensor([1, 2, 3]), E.tensor([1], [1], 'float64').dtype === 'float64' ? 1 : 0);
      const m = live();
      expect(m.buffers).toBe(m.tensors);
      expect(m.backendBytes).toBe(m.bytes);
    });
  });

  it('tidy frees intermediates and keeps the (nested) result, which moves to the parent scope', () => {
    const before = live();
    const out = E.tidy(() => {
      const inner = E.tidy(() => {
        const a = E.tensor([1, 2, 3]);
        const b = E.mul(a, 2);
        return { r: [E.add(b, 1)], s: 'kept as is' };
      });
      expect(live().tensors - before.tensors).toBe(1);
      E.mul(inner.r[0]!, 3); // an intermediate of the outer scope
      return inner;
    });
    expect(live().tensors - before.tensors).toBe(1);
    expect(read(out.r[0]!)).toEqual([3, 5, 7]);
    expect(out.s).toBe('kept as is');
    E.dispose(out);
    expect(live()).toEqual(before);
  });

  it('tidy frees everything it created when fn throws', () => {
    expectNoLeak(() => {
      expect(() =>
        E.tidy(() => {
          const a = E.mul(E.tensor([1, 2]), 2);
          E.exp(a);
          throw new Error('boom');
        }),
      ).toThrow('boom');
    });
  });

  it('keep() survives every enclosing tidy; dispose() frees now and is idempotent', () => {
    const before = live();
    let k: E.Tensor | undefined;
    E.tidy(() =>
      E.tidy(() => {
        k = E.keep(E.tensor([1, 2]));
      }),
    );
    expect(live().tensors - before.tensors).toBe(1);
    expect(read(k!)).toEqual([1, 2]);
    k!.dispose();
    k!.dispose();
    expect(live()).toEqual(before);
  });

  it('valueAndGrad / grad / vjp / vjpRetained inside tidy leave memory unchanged', () => {
    const p = { w: E.tensor([[0.1, 0.2], [0.3, -0.4]]), b: E.tensor([0.5, 0.6]) };
    const x = E.tensor([[1, 2], [3, 4]]);
    const f = (q: typeof p, v: E.Tensor) => E.mean(E.gelu(E.add(E.matmul(v, q.w), q.b)));
    expectNoLeak(() => E.tidy(() => void E.valueAndGrad(f)(p, x)));
    expectNoLeak(() => E.tidy(() => void E.grad(f, { argnums: [0, 1] })(p, x)));
    expectNoLeak(() =>
      E.tidy(() => {
        const [out, pb] = E.vjp((v: E.Tensor) => f(p, v), x);
        pb(E.onesLike(out as E.Tensor));
      }),
    );
    expectNoLeak(() =>
      E.tidy(() => {
        const [out, pb] = E.vjpRetained((v: E.Tensor) => f(p, v), x);
        pb(E.onesLike(out as E.Tensor));
        pb(E.onesLike(out as E.Tensor));
        pb.release();
      }),
    );
    E.dispose([p, x]);
  });

  it('valueAndGrad outside any tidy returns only the value and gradients', () => {
    const p = E.tensor([1, 2, 3]);
    const before = live();
    const [v, g] = E.valueAndGrad((t: E.Tensor) => E.sum(E.exp(E.mul(t, t))))(p);
    expect(live().tensors - before.tensors).toBe(2);
    E.dispose([v, g, p]);
  });

  it('vjp outside any tidy frees its saved intermediates once the pullback ran', () => {
    const x = E.tensor([1, 2, 3]);
    const before = live();
    const [out, pb] = E.vjp((t: E.Tensor) => E.sum(E.exp(E.mul(t, t))), x);
    const ct = E.onesLike(out as E.Tensor);
    const [g] = pb(ct) as E.Tensor[];
    E.dispose([out, ct, g]);
    expect(live()).toEqual(before);
    x.dispose();
  });

  it('a tensor disposed while a tape holds it stays valid for the backward pass, then is freed', () => {
    const x = E.tensor([1, 2, 3]);
    const before = live();
    const [v, g] = E.valueAndGrad((t: E.Tensor) => {
      const sq = E.mul(t, t);
      const s = E.sum(E.exp(sq));
      sq.dispose(); // needed by nothing now, but exp's VJP saved exp(sq), mul's saved t
      return s;
    })(x);
    expect(read(g)[0]).toBeCloseTo(2 * Math.exp(1), 5);
    E.dispose([v, g]);
    expect(live()).toEqual(before);
    x.dispose();
  });

  it('50 jit-replayed training steps leak nothing (engine and backend counts)', () => {
    const x = E.tensor([[1, 2], [3, -1]]);
    const y = E.tensor([[1], [0]]);
    let p = { w: E.tensor([[0.1], [-0.2]]) };
    const step = E.jit((q: { w: E.Tensor }, a: E.Tensor, b: E.Tensor) => {
      const [l, g] = E.valueAndGrad((r: { w: E.Tensor }) => E.mean(E.mul(E.sub(E.matmul(a, r.w), b), E.sub(E.matmul(a, r.w), b))))(q);
      return { l, w: E.sub(q.w, E.mul(g.w, 0.05)) };
    });
    const first = step(p, x, y); // traces
    p.w.dispose();
    first.l.dispose();
    p = { w: first.w };
    const before = live();
    for (let i = 0; i < 50; i++) {
      const r = step(p, x, y);
      p.w.dispose();
      r.l.dispose();
      p = { w: r.w };
    }
    expect(live()).toEqual(before);
    // the plan's constants (the learning rate, the seed-free backward scalars) go with dispose()
    const held = live().tensors;
    step.dispose();
    expect(live().tensors).toBeLessThan(held);
    E.dispose([p, x, y]);
  });

  it('the first (tracing) call of a compiled function frees its intermediates too', () => {
    const x = E.tensor([1, 2]);
    const f = E.jit((a: E.Tensor) => E.sum(E.exp(E.mul(a, a))));
    const before = live();
    const r = f(x);
    // the result plus the plan constants captured while tracing (none here: no host data)
    expect(live().tensors - before.tensors).toBe(1);
    E.dispose([r, x]);
    f.dispose();
  });

  it('an exception inside a differentiated function (or a failing backward) frees everything', () => {
    const x = E.tensor([1, 2, 3]);
    // tidy frees what the test itself creates; tensors a tape still holds would survive it
    expectNoLeak(() => E.tidy(() => {
      expect(() =>
        E.valueAndGrad((t: E.Tensor) => {
          E.exp(E.mul(t, t));
          throw new Error('inside f');
        })(x),
      ).toThrow('inside f');
      expect(() => E.vjp((t: E.Tensor) => E.gather(E.exp(t), E.tensor([7], [1], 'int32')), x)).toThrow(/index 7/);
      const bad = E.customVjp('throwsInBackward', (t) => E.mul(t, 2), () => {
        throw new Error('in the rule');
      }) as (t: E.Tensor) => E.Tensor;
      expect(() => E.grad((t: E.Tensor) => E.sum(E.exp(bad(t))))(x)).toThrow('in the rule');
      expect(() => E.grad((t: E.Tensor) => E.mul(E.exp(t), 2))(x)).toThrow(/scalar/);
      const inner = E.grad((t: E.Tensor) => E.sum(E.mul(t, t)));
      expect(() => E.grad((t: E.Tensor) => E.sum(inner(t) as E.Tensor))(x)).toThrow(/higher-order/);
    }));
    x.dispose();
  });

  it('a kernel that throws frees the outputs it was given', () => {
    const x = E.tensor([1, 2]);
    const idx = E.tensor([5], [1], 'int32');
    expectNoLeak(() => expect(() => E.gather(x, idx)).toThrow(/index 5/));
    idx.dispose();
    x.dispose();
  });

  it('using a disposed tensor throws, naming the op and shape', () => {
    const a = E.tensor([[1, 2]]);
    a.dispose();
    expect(() => E.add(a, 1)).toThrow(/add: input tensor \[1, 2\] was used after dispose\(\)/);
    expect(() => a.toArray()).toThrow(/tensor #\d+ \[1, 2\] float32 was used after dispose\(\)/);
    expect(() => a.item()).toThrow(E.GsaeError);
    const empty = E.tensor([], [0]);
    empty.dispose();
    expect(() => empty.toArray()).toThrow(/used after dispose/);
    expect(() => E.grad((t: E.Tensor) => E.sum(t))(a)).toThrow(/used after dispose/);
  });
});
