/**
 * The gradient transforms: grad/valueAndGrad (argnums, hasAux, pytrees, int leaves, unused
 * params), vjp/vjpRetained, customVjp, stopGradient, and the refusal of higher-order gradients.
 * Expected gradients are written from calculus (e.g. d/dw Σ(xw) = xᵀ1), never from the engine.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { read, useReference } from './gradcheck.js';

beforeAll(useReference);

const t64 = (data: number[], shape: number[] = [data.length]) => E.tensor(Float64Array.from(data), shape, 'float64');

describe('grad / valueAndGrad', () => {
  it('argnums as a number differentiates that argument only and returns its tree', () => {
    E.tidy(() => {
      const a = t64([1, 2, 3]);
      const b = t64([4, 5, 6]);
      const f = (x: E.Tensor, y: E.Tensor) => E.sum(E.mul(E.mul(x, x), y)); // Σ x²y
      const [v, gb] = E.valueAndGrad(f, { argnums: 1 })(a, b);
      expect(v.item()).toBe(1 * 4 + 4 * 5 + 9 * 6);
      expect(read(gb)).toEqual([1, 4, 9]); // ∂/∂y = x²
      expect(read(E.grad(f)(a, b))).toEqual([8, 20, 36]); // default argnums 0: 2xy
    });
  });

  it('argnums as a list returns a list of gradient trees in that order', () => {
    E.tidy(() => {
      const f = (x: E.Tensor, s: number, y: E.Tensor) => E.sum(E.mul(E.mul(x, y), s));
      const [gy, gx] = E.grad(f, { argnums: [2, 0] })(t64([1, 2]), 3, t64([5, 7])) as E.Tensor[];
      expect(read(gy!)).toEqual([3, 6]);
      expect(read(gx!)).toEqual([15, 21]);
      const single = E.grad(f, { argnums: [0] })(t64([1, 2]), 3, t64([5, 7]));
      expect(Array.isArray(single)).toBe(true);
    });
  });

  it('hasAux: returns [[value, aux], grads]; aux is passed through untouched and survives', () => {
    const before = E.memory().tensors;
    const [[v, aux], g] = E.valueAndGrad(
      (x: E.Tensor) => {
        const y = E.mul(x, 2);
        return [E.sum(y), { y, note: 'hello', n: 3 }] as const;
      },
      { hasAux: true },
    )(t64([1, 2]));
    expect(v.item()).toBe(6);
    expect(read(aux.y)).toEqual([2, 4]);
    expect(aux.note).toBe('hello');
    expect(aux.n).toBe(3);
    expect(read(g)).toEqual([2, 2]);
    // the input, value, aux.y and the gradient are all that is left
    expect(E.memory().tensors - before).toBe(4);
    E.dispose([v, aux, g]);
  });

  it('nested object/array pytrees: gradients mirror the structure; int and non-tensor leaves get null', () => {
    E.tidy(() => {
      const params = {
        layers: [
          { w: t64([1, 2]), b: t64([0.5]) },
          { w: t64([3, 4]), b: t64([-1]) },
        ],
        vocab: E.tensor([0, 1], [2], 'int32'),
        name: 'mlp',
        scale: 2,
      };
      const f = (p: typeof params, x: E.Tensor) =>
        E.sum(E.add(E.mul(E.add(E.mul(x, p.layers[0]!.w), p.layers[0]!.b), p.layers[1]!.w), E.mul(p.layers[1]!.b, p.scale)));
      const x = t64([10, 20]);
      const g = E.grad(f)(params, x);
      // Σ ((x·w0 + b0)·w1 + 2·b1): ∂w0 = x·w1, ∂b0 = Σ w1, ∂w1 = x·w0 + b0, ∂b1 = 2·2 elements
      expect(read(g.layers[0].w)).toEqual([30, 80]);
      expect(read(g.layers[0].b)).toEqual([7]);
      expect(read(g.layers[1].w)).toEqual([10.5, 40.5]);
      expect(read(g.layers[1].b)).toEqual([4]);
      expect(g.vocab).toBeNull();
      expect(g.name).toBeNull();
      expect(g.scale).toBeNull();
      expect(Object.keys(g).sort()).toEqual(['layers', 'name', 'scale', 'vocab']);
    });
  });

  it('parameters the loss does not use get exact zero gradients of their shape', () => {
    E.tidy(() => {
      const p = { used: t64([1, 2]), unused: t64([1, 2, 3, 4, 5, 6], [2, 3]) };
      const g = E.grad((q: typeof p) => E.sum(E.mul(q.used, q.used)))(p);
      expect(g.unused.shape).toEqual([2, 3]);
      expect(g.unused.dtype).toBe('float64');
      expect(read(g.unused)).toEqual([0, 0, 0, 0, 0, 0]);
      expect(read(g.used)).toEqual([2, 4]);
    });
  });

  it('the same tensor passed twice, or as the loss itself', () => {
    E.tidy(() => {
      const x = t64([3]);
      const [g0, g1] = E.grad((a: E.Tensor, b: E.Tensor) => E.sum(E.mul(a, b)), { argnums: [0, 1] })(x, x) as E.Tensor[];
      // both arguments are x: each slot gets the full derivative of x·x, 2x
      expect(read(g0!)).toEqual([6]);
      expect(read(g1!)).toEqual([6]);
      expect(read(E.grad((a: E.Tensor) => a)(E.scalar(2, 'float64')))).toEqual([1]);
    });
  });

  it('stopGradient blocks exactly one path', () => {
    E.tidy(() => {
      // d/dx Σ x·sg(x) = sg(x) = x (not 2x)
      expect(read(E.grad((x: E.Tensor) => E.sum(E.mul(x, E.stopGradient(x))))(t64([1, -2, 3])))).toEqual([1, -2, 3]);
    });
  });

  it('gradients in float32 have float32 dtype and the input shapes', () => {
    E.tidy(() => {
      const w = E.tensor([[1, 2], [3, 4]]);
      const g = E.grad((m: E.Tensor) => E.sum(E.matmul(m, m)))(w);
      expect(g.dtype).toBe('float32');
      // f(W) = 1ᵀ W W 1: ∂f/∂W = 1 (W1)ᵀ + (Wᵀ1) 1ᵀ, with row sums W1 = [3, 7] and column sums Wᵀ1 = [4, 6]
      expect(read(g)).toEqual([3 + 4, 7 + 4, 3 + 6, 7 + 6]);
    });
  });
});

describe('higher-order gradients', () => {
  it('grad of grad throws AutodiffError with advice', () => {
    E.tidy(() => {
      const inner = E.grad((y: E.Tensor) => E.sum(E.mul(y, y)));
      expect(() => E.grad((x: E.Tensor) => E.sum(inner(x) as E.Tensor))(t64([1, 2]))).toThrow(E.AutodiffError);
      expect(() => E.grad((x: E.Tensor) => E.sum(inner(x) as E.Tensor))(t64([1, 2]))).toThrow(/higher-order gradients are not supported.*stopGradient/);
    });
  });

  it('an inner gradient of a constant is allowed (nothing to differentiate twice)', () => {
    E.tidy(() => {
      const inner = E.grad((y: E.Tensor) => E.sum(E.mul(y, y)));
      const g = E.grad((x: E.Tensor) => E.sum(E.mul(x, inner(E.stopGradient(x)) as E.Tensor)))(t64([1, 2]));
      expect(read(g)).toEqual([2, 4]);
    });
  });
});

describe('vjp / vjpRetained', () => {
  it('pullback gives one cotangent tree per primal, for tree-valued outputs', () => {
    E.tidy(() => {
      const x = t64([1, 2]);
      const y = t64([3, 4]);
      const [out, pb] = E.vjp((a: E.Tensor, b: E.Tensor) => ({ p: E.mul(a, b), s: E.sum(a) }), x, y);
      const o = out as { p: E.Tensor; s: E.Tensor };
      expect(read(o.p)).toEqual([3, 8]);
      const [gx, gy] = pb({ p: t64([1, 10]), s: E.scalar(100, 'float64') }) as E.Tensor[];
      expect(read(gx!)).toEqual([3 + 100, 40 + 100]);
      expect(read(gy!)).toEqual([1, 20]);
    });
  });

  it('the pullback is single-use: a second call throws with advice', () => {
    E.tidy(() => {
      const [, pb] = E.vjp((a: E.Tensor) => E.mul(a, a), t64([1, 2]));
      pb(t64([1, 1]));
      expect(() => pb(t64([1, 1]))).toThrow(/pullback was already used.*vjpRetained/);
    });
  });

  it('vjpRetained pulls back many times with the same result, then refuses after release()', () => {
    E.tidy(() => {
      const [, pb] = E.vjpRetained((a: E.Tensor) => E.mul(a, a), t64([1, 2]));
      const g1 = read((pb(t64([1, 1])) as E.Tensor[])[0]!);
      const g2 = read((pb(t64([1, 1])) as E.Tensor[])[0]!);
      const g3 = read((pb(t64([2, 0])) as E.Tensor[])[0]!);
      expect(g1).toEqual([2, 4]);
      expect(g2).toEqual(g1);
      expect(g3).toEqual([4, 0]);
      pb.release();
      expect(() => pb(t64([1, 1]))).toThrow(/already used/);
    });
  });

  it('cotangents must match the output structure, shapes and dtypes', () => {
    E.tidy(() => {
      const [, pb] = E.vjpRetained((a: E.Tensor) => ({ y: E.mul(a, 2) }), t64([1, 2]));
      expect(() => pb(t64([1, 1]))).toThrow(/vjp: cotangent structure \* does not match the output's \{"y":\*\}/);
      expect(() => pb({ y: t64([1, 1, 1]) })).toThrow(/vjp: cotangent \[3\] float64 does not match output \[2\] float64/);
      expect(() => pb({ y: E.tensor([1, 1]) })).toThrow(/vjp: cotangent \[2\] float32 does not match output \[2\] float64/);
      pb.release();
    });
  });
});

describe('customVjp', () => {
  // Straight-through estimator: forward rounds to the nearest integer (piecewise constant, zero
  // derivative), backward passes the cotangent through unchanged.
  const roundSte = E.customVjp(
    'roundSte',
    (x) => E.cast(E.cast(E.add(x, 0.5), 'int32'), x.dtype), // rounds non-negative values
    ({ cotangents }) => [cotangents[0]!],
  ) as (x: E.Tensor) => E.Tensor;

  it('a straight-through estimator: rounded forward, identity backward', () => {
    E.tidy(() => {
      const x = t64([0.2, 1.7, 2.4]);
      expect(read(roundSte(x))).toEqual([0, 2, 2]);
      const g = E.grad((v: E.Tensor) => E.sum(E.mul(roundSte(v), t64([1, 2, 3]))))(x);
      expect(read(g)).toEqual([1, 2, 3]);
      // without the custom rule the same forward has zero gradient (cast to int32 blocks it)
      const g0 = E.grad((v: E.Tensor) => E.sum(E.cast(E.cast(E.add(v, 0.5), 'int32'), 'float64')))(x);
      expect(read(g0)).toEqual([0, 0, 0]);
    });
  });

  it('the rule sees inputs, outputs and cotangents; null means no gradient; outputs that are inputs are copied', () => {
    E.tidy(() => {
      const seen: string[] = [];
      const f = E.customVjp(
        'passFirst',
        (a, b) => [a, E.mul(a, b)],
        ({ inputs, outputs, cotangents, needsGrad }) => {
          seen.push(`${inputs.length}/${outputs.length}/${cotangents.map((c) => (c ? 'T' : '-')).join('')}/${needsGrad.join(',')}`);
          return [E.add(cotangents[0] ?? E.zerosLike(inputs[0]!), E.mul(cotangents[1]!, inputs[1]!)), null];
        },
      );
      const a = t64([1, 2]);
      const b = t64([3, 4]);
      const [ga, gb] = E.grad((x: E.Tensor, y: E.Tensor) => E.sum((f(x, y) as E.Tensor[])[1]!), { argnums: [0, 1] })(a, b) as E.Tensor[];
      expect(read(ga!)).toEqual([3, 4]);
      expect(read(gb!)).toEqual([0, 0]);
      expect(seen).toEqual(['2/2/-T/true,true']);
      const outs = f(a, b) as E.Tensor[];
      expect(outs[0]).not.toBe(a);
      expect(read(outs[0]!)).toEqual([1, 2]);
    });
  });

  it('a rule returning a wrong shape is reported as a bug in the rule', () => {
    E.tidy(() => {
      const bad = E.customVjp('badShape', (x) => E.mul(x, 2), ({ cotangents }) => [E.sum(cotangents[0]!)]) as (x: E.Tensor) => E.Tensor;
      expect(() => E.grad((x: E.Tensor) => E.sum(bad(x)))(t64([1, 2]))).toThrow(
        /customVjp\(badShape\): VJP rule returned a cotangent \[\] float64 for input 0 of \[2\] float64 \(bug in the rule\)/,
      );
    });
  });
});
