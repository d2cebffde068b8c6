/** Gradient properties of the composites (nn/functional.ts, topk.ts, movement helpers): VJP vs central differences. */
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import * as E from '../../engine/index.js';
import { axesArb, fcParams, gradCheck, hostArb, i32, indicesArb, shapeArb, useReference, type GradProblem } from './gradcheck.js';

beforeAll(useReference);

const fmt = (s: readonly number[]): string => `[${s.join(',')}]`;
const check = (arb: fc.Arbitrary<GradProblem>, runs?: number) => () => fc.assert(fc.property(arb, (p) => void gradCheck(p)), fcParams(runs));

/** A shape with at least one axis, plus a random axis of it (positive or negative). */
const withAxis = (o = {}) =>
  shapeArb({ minRank: 1, ...o }).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 })));

describe('VJP vs central differences: composites', () => {
  it(
    'mean over any axes, keepdims',
    check(
      shapeArb()
        .chain((s) => fc.tuple(hostArb(s), axesArb(s.length), fc.boolean()))
        .map(([x, ax, kd]) => ({ inputs: [x], f: (t: E.Tensor) => E.mean(t, ax, kd), label: `mean ${fmt(x.shape)} ${fmt(ax)} ${kd}` })),
    ),
  );

  it(
    'variance over any axes, keepdims',
    check(
      shapeArb()
        .chain((s) => fc.tuple(hostArb(s), axesArb(s.length), fc.boolean()))
        .map(([x, ax, kd]) => ({ inputs: [x], f: (t: E.Tensor) => E.variance(t, ax, kd), label: `variance ${fmt(x.shape)} ${fmt(ax)} ${kd}` })),
    ),
  );

  it(
    'logsumexp over any axes, keepdims, shifted by up to ±500 (stability)',
    check(
      shapeArb()
        .chain((s) => fc.tuple(hostArb(s), axesArb(s.length), fc.boolean(), fc.constantFrom(0, 500, -500)))
        .map(([x, ax, kd, shift]) => ({
          inputs: [{ shape: x.shape, data: x.data.map((v) => v + shift) }],
          f: (t: E.Tensor) => E.logsumexp(t, ax, kd),
          // near ±500 an absolute step of 1e-5 is still resolved: |x| ulp is ~1e-13
          label: `logsumexp ${fmt(x.shape)} ${fmt(ax)} ${kd} shift ${shift}`,
        })),
    ),
  );

  it(
    'softmax along any axis',
    check(withAxis().chain(([s, a]) => hostArb(s).map((x) => ({ inputs: [x], f: (t: E.Tensor) => E.softmax(t, a), label: `softmax ${fmt(s)} axis ${a}` })))),
  );

  it(
    'logSoftmax along any axis',
    check(withAxis().chain(([s, a]) => hostArb(s).map((x) => ({ inputs: [x], f: (t: E.Tensor) => E.logSoftmax(t, a), label: `logSoftmax ${fmt(s)} axis ${a}` })))),
  );

  it(
    'layerNorm with and without weight/bias, w.r.t. input, weight and bias',
    check(
      shapeArb({ minRank: 1, maxRank: 3, maxSize: 24 })
        .filter((s) => s[s.length - 1]! >= 2)
        .chain((s) => {
          const c = s[s.length - 1]!;
          return fc.tuple(hostArb(s, { distinct: true, gap: 0.1 }), hostArb([c]), hostArb([c]), fc.boolean(), fc.boolean());
        })
        .map(([x, w, b, useW, useB]) => {
          const inputs = [x, ...(useW ? [w] : []), ...(useB ? [b] : [])];
          return {
            inputs,
            f: (...ts: E.Tensor[]) => E.layerNorm(ts[0]!, useW ? ts[1]! : null, useB ? ts[useW ? 2 : 1]! : null),
            label: `layerNorm ${fmt(x.shape)} weight ${useW} bias ${useB}`,
          };
        }),
    ),
  );

  it(
    'crossEntropy with mean, sum and none reductions (w.r.t. logits)',
    check(
      shapeArb({ minRank: 1, maxRank: 3, maxSize: 24 })
        .filter((s) => s[s.length - 1]! >= 2)
        .chain((s) => fc.tuple(hostArb(s), indicesArb(s.slice(0, -1), s[s.length - 1]!), fc.constantFrom<E.Reduction>('mean', 'sum', 'none')))
        .map(([x, tgt, red]) => ({
          inputs: [x],
          f: (t: E.Tensor) => E.crossEntropy(t, i32(tgt, x.shape.slice(0, -1)), red),
          label: `crossEntropy ${fmt(x.shape)} targets ${fmt(tgt)} ${red}`,
        })),
    ),
  );

  it(
    'causalMask alone (masked entries get no cotangent) and under softmax',
    check(
      fc
        .tuple(shapeArb({ maxRank: 2, maxSize: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.boolean())
        .chain(([batch, T, extra, soft]) => fc.tuple(hostArb([...batch, T, T + extra]), fc.constant(soft)))
        .map(([x, soft]) => ({
          inputs: [x],
          f: (t: E.Tensor) => (soft ? E.softmax(E.causalMask(t)) : E.causalMask(t)),
          label: `${soft ? 'softmax∘' : ''}causalMask ${fmt(x.shape)}`,
        })),
    ),
  );

  it(
    'topk values, keepTopk and batchTopk (distinct values, with and without ReLU)',
    check(
      fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom('topk', 'keepTopk', 'batchTopk'), fc.boolean())
        .chain(([B, n, kind, useRelu]) => fc.tuple(hostArb([B, n], { distinct: true, avoid: [0] }), fc.integer({ min: 0, max: n }), fc.constant(kind), fc.constant(useRelu)))
        .map(([x, k, kind, useRelu]) => ({
          inputs: [x],
          f: (t: E.Tensor) => (kind === 'topk' ? E.topk(t, k).values : kind === 'keepTopk' ? E.keepTopk(t, k, useRelu) : E.batchTopk(t, k, useRelu)),
          label: `${kind} ${fmt(x.shape)} k ${k} relu ${useRelu}`,
        })),
    ),
  );

  it(
    'stack along any axis of 1–3 tensors',
    check(
      shapeArb({ maxRank: 3, maxSize: 12 })
        .chain((s) => fc.tuple(fc.array(hostArb(s), { minLength: 1, maxLength: 3 }), fc.integer({ min: -(s.length + 1), max: s.length })))
        .map(([xs, axis]) => ({ inputs: xs, f: (...ts: E.Tensor[]) => E.stack(ts, axis), label: `stack ${xs.length}×${fmt(xs[0]!.shape)} axis ${axis}` })),
    ),
  );

  it(
    'swapAxes and expandDims',
    check(
      shapeArb({ minRank: 1 })
        .chain((s) => fc.tuple(hostArb(s), fc.nat(s.length - 1), fc.nat(s.length - 1), fc.integer({ min: -(s.length + 1), max: s.length })))
        .map(([x, a, b, e]) => ({
          inputs: [x],
          f: (t: E.Tensor) => E.expandDims(E.swapAxes(t, a, b), e),
          label: `expandDims(swapAxes(${fmt(x.shape)}, ${a}, ${b}), ${e})`,
        })),
    ),
  );

  it(
    'sumToShape (the VJP of broadcasting) from a broadcast shape down to its source',
    check(
      shapeArb()
        .chain((out) => fc.tuple(hostArb(out), fc.constant(out), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }), fc.nat(out.length)))
        .map(([x, out, ones, drop]) => {
          const target = out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
          return { inputs: [x], f: (t: E.Tensor) => E.sumToShape(t, target), label: `sumToShape ${fmt(out)} → ${fmt(target)}` };
        }),
    ),
  );

  it(
    'binary ops with plain-number operands (scalars adopt the tensor dtype)',
    check(
      shapeArb()
        .chain((s) => fc.tuple(hostArb(s, { min: 0.2, max: 3 }), fc.double({ min: 0.5, max: 2, noNaN: true })))
        .map(([x, c]) => ({
          inputs: [x],
          f: (t: E.Tensor) => E.add(E.sub(c, E.mul(t, c)), E.add(E.div(c, t), E.pow(t, c))),
          label: `scalar operands ${fmt(x.shape)} c ${c}`,
        })),
    ),
  );

  it(
    'gather as an embedding lookup (rows of a [V, D] table) with repeated tokens',
    check(
      fc
        .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), shapeArb({ maxRank: 2, maxSize: 6 }))
        .chain(([V, D, ts]) => fc.tuple(hostArb([V, D]), indicesArb(ts, V), fc.constant(ts)))
        .map(([w, tok, ts]) => ({ inputs: [w], f: (t: E.Tensor) => E.gather(t, i32(tok, ts)), label: `embedding ${fmt(w.shape)} tokens ${fmt(tok)}` })),
    ),
  );

  it(
    'a tiny MLP loss w.r.t. every parameter (matmul, gelu, layerNorm, crossEntropy)',
    check(
      fc
        .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 3 }), fc.integer({ min: 2, max: 3 }))
        .chain(([B, D, V]) => fc.tuple(hostArb([B, D]), hostArb([D, D]), hostArb([D]), hostArb([D, V]), indicesArb([B], V)))
        .map(([x, w1, g, w2, tgt]) => ({
          inputs: [x, w1, g, w2],
          f: (xt: E.Tensor, a: E.Tensor, gain: E.Tensor, b: E.Tensor) =>
            // eps 1e-2: generated inputs can have ~0 variance, where rsqrt(v + 1e-5) curves too sharply
            // for central differences to resolve (the VJP itself is fine there)
            E.crossEntropy(E.matmul(E.layerNorm(E.gelu(E.matmul(xt, a)), gain, null, 1e-2), b), i32(tgt, [tgt.length])),
          label: `mlp x ${fmt(x.shape)} targets ${fmt(tgt)}`,
        })),
      20,
    ),
  );
});

