/** Forward checks of the composites against naive host formulas (float64, reference backend). */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { axesArb, f64, fcParams, hostArb, i32, indicesArb, read, shapeArb, sizeOf, useReference, type HostTensor } from './gradcheck.js';
import { expectClose, expectNd, maxH, ravel, sumH, transposeH, unravel } from './host.js';

beforeAll(useReference);

const prop = <T>(arb: fc.Arbitrary<T>, body: (t: T) => void, runs?: number) => () =>
  fc.assert(fc.property(arb, (t) => E.tidy(() => body(t))), fcParams(runs));

/** Applies `f` to every 1-D fibre along `axis` (host). */
function alongAxis(x: HostTensor, axis: number, f: (row: number[]) => number[]): HostTensor {
  const out = [...x.data];
  const n = x.shape[axis]!;
  for (let p = 0; p < x.data.length; p++) {
    const idx = unravel(p, x.shape);
    if (idx[axis] !== 0) continue;
    const pos = Array.from({ length: n }, (_, i) => ravel(idx.map((v, d) => (d === axis ? i : v)), x.shape));
    const res = f(pos.map((q) => x.data[q]!));
    pos.forEach((q, i) => (out[q] = res[i]!));
  }
  return { shape: x.shape, data: out };
}

const softmaxRow = (r: number[]): number[] => {
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

const withAxis = shapeArb({ minRank: 1, maxSize: 48 }).chain((s) => fc.tuple(hostArb(s, { min: -20, max: 20 }), fc.integer({ min: -s.length, max: s.length - 1 })));
const norm = (a: number, r: number): number => (a < 0 ? a + r : a);

describe('composites vs host formulas', () => {
  it(
    'mean and variance (biased) over any axes',
    prop(shapeArb({ maxSize: 48 }).chain((s) => fc.tuple(hostArb(s), axesArb(s.length), fc.boolean())), ([x, ax, kd]) => {
      const n = ax.reduce((p, a) => p * x.shape[a]!, 1);
      const mean = sumH(x, ax, true);
      mean.data.forEach((v, i) => ((mean.data as number[])[i] = v / n));
      const sq = { shape: x.shape, data: x.data.map((v, p) => (v - mean.data[ravel(unravel(p, x.shape).map((q, d) => (ax.includes(d) ? 0 : q)), mean.shape)]!) ** 2) };
      const variance = sumH(sq, ax, kd);
      const meanOut = sumH(x, ax, kd);
      expectNd(E.mean(f64(x), ax, kd), { shape: meanOut.shape, data: meanOut.data.map((v) => v / n) }, 1e-12, 1e-12, 'mean');
      expectNd(E.variance(f64(x), ax, kd), { shape: variance.shape, data: variance.data.map((v) => v / n) }, 1e-10, 1e-12, 'variance');
    }),
  );

  it(
    'logsumexp is stable for large values and gives ±Infinity for rows of ±Infinity (as PyTorch)',
    prop(
      shapeArb({ minRank: 1, maxSize: 48 }).chain((s) =>
        fc.tuple(hostArb(s, { min: -800, max: 800 }), axesArb(s.length, 1), fc.boolean(), fc.constantFrom(0, 1, 2)),
      ),
      ([x0, ax, kd, special]) => {
        // special 1: every value -Infinity; 2: one +Infinity
        const x = special === 1 ? { shape: x0.shape, data: x0.data.map(() => -Infinity) } : special === 2 ? { shape: x0.shape, data: x0.data.map((v, i) => (i === 0 ? Infinity : v)) } : x0;
        const m = maxH(x, ax, true);
        const mAt = (p: number): number => m.data[ravel(unravel(p, x.shape).map((q, d) => (ax.includes(d) ? 0 : q)), m.shape)]!;
        const e = sumH({ shape: x.shape, data: x.data.map((v, p) => Math.exp(v - mAt(p))) }, ax, kd);
        const mk = maxH(x, ax, kd).data;
        // a row whose maximum is ±Infinity has logsumexp ±Infinity
        const expected = e.data.map((v, i) => (Number.isFinite(mk[i]!) ? Math.log(v) + mk[i]! : mk[i]!));
        const want = { shape: e.shape, data: expected };
        expectNd(E.logsumexp(f64(x), ax, kd), want, 1e-12, 1e-12, 'logsumexp');
      },
    ),
  );

  it(
    'softmax and logSoftmax along any axis (rows sum to 1)',
    prop(withAxis, ([x, a]) => {
      const ax = norm(a, x.shape.length);
      const sm = alongAxis(x, ax, softmaxRow);
      expectNd(E.softmax(f64(x), a), sm, 1e-12, 1e-15, 'softmax');
      expectNd(E.logSoftmax(f64(x), a), alongAxis(x, ax, (r) => softmaxRow(r).map(Math.log)), 1e-10, 1e-12, 'logSoftmax');
      expectClose(read(E.sum(E.softmax(f64(x), a), a)), new Array(sizeOf(x.shape) / x.shape[ax]!).fill(1), 1e-12, 1e-12, 'softmax rows');
    }),
  );

  it(
    'layerNorm: (x − μ)/√(σ² + eps)·w + b over the last axis',
    prop(
      shapeArb({ minRank: 1, maxRank: 3, maxSize: 48 }).chain((s) =>
        fc.tuple(hostArb(s), hostArb([s[s.length - 1]!]), hostArb([s[s.length - 1]!]), fc.boolean(), fc.constantFrom(1e-5, 1e-3)),
      ),
      ([x, w, b, affine, eps]) => {
        const want = alongAxis(x, x.shape.length - 1, (r) => {
          const mu = r.reduce((p, v) => p + v, 0) / r.length;
          const v = r.reduce((p, q) => p + (q - mu) ** 2, 0) / r.length;
          return r.map((q, i) => ((q - mu) / Math.sqrt(v + eps)) * (affine ? w.data[i]! : 1) + (affine ? b.data[i]! : 0));
        });
        expectNd(E.layerNorm(f64(x), affine ? f64(w) : null, affine ? f64(b) : null, eps), want, 1e-9, 1e-9, 'layerNorm');
      },
    ),
  );

  it(
    'crossEntropy = logsumexp(logits) − logits[target], with mean/sum/none',
    prop(
      shapeArb({ minRank: 1, maxRank: 3, maxSize: 48 }).chain((s) =>
        fc.tuple(hostArb(s, { min: -30, max: 30 }), indicesArb(s.slice(0, -1), s[s.length - 1]!), fc.constantFrom<E.Reduction>('mean', 'sum', 'none')),
      ),
      ([x, tgt, red]) => {
        const V = x.shape[x.shape.length - 1]!;
        const nll = tgt.map((t, r) => {
          const row = x.data.slice(r * V, (r + 1) * V);
          const m = Math.max(...row);
          return Math.log(row.reduce((p, v) => p + Math.exp(v - m), 0)) + m - row[t]!;
        });
        const y = E.crossEntropy(f64(x), i32(tgt, x.shape.slice(0, -1)), red);
        if (red === 'none') expectNd(y, { shape: x.shape.slice(0, -1), data: nll }, 1e-12, 1e-12, 'crossEntropy none');
        else {
          const s = nll.reduce((p, v) => p + v, 0);
          expectNd(y, { shape: [], data: [red === 'sum' ? s : s / nll.length] }, 1e-12, 1e-12, `crossEntropy ${red}`);
        }
      },
    ),
  );

  it(
    'causalMask: key j is hidden from query i when j > i + (S − T); softmax gives those exactly 0',
    prop(
      fc.tuple(shapeArb({ maxRank: 2, maxSize: 4 }), fc.integer({ min: 1, max: 4 }), fc.nat(3)).chain(([b, T, extra]) => hostArb([...b, T, T + extra])),
      (x) => {
        const [T, S] = x.shape.slice(-2) as [number, number];
        const want = x.data.map((v, p) => {
          const idx = unravel(p, x.shape);
          return idx[idx.length - 1]! > idx[idx.length - 2]! + (S - T) ? -Infinity : v;
        });
        expectNd(E.causalMask(f64(x)), { shape: x.shape, data: want }, 0, 0, 'causalMask');
        const sm = read(E.softmax(E.causalMask(f64(x))));
        want.forEach((v, i) => v === -Infinity && expect(sm[i]).toBe(0));
      },
    ),
  );

  it(
    'stack, swapAxes and expandDims move elements as a transpose/reshape would',
    prop(
      shapeArb({ minRank: 1, maxRank: 3, maxSize: 24 }).chain((s) =>
        fc.tuple(fc.array(hostArb(s), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: s.length }), fc.nat(s.length - 1), fc.nat(s.length - 1)),
      ),
      ([xs, axis, a, b]) => {
        const s = xs[0]!.shape;
        const outShape = [...s.slice(0, axis), xs.length, ...s.slice(axis)];
        const data = Array.from({ length: sizeOf(outShape) }, (_, p) => {
          const idx = unravel(p, outShape);
          return xs[idx[axis]!]!.data[ravel([...idx.slice(0, axis), ...idx.slice(axis + 1)], s)]!;
        });
        expectNd(E.stack(xs.map(f64), axis), { shape: outShape, data }, 0, 0, 'stack');
        const perm = s.map((_, i) => (i === a ? b : i === b ? a : i));
        expectNd(E.swapAxes(f64(xs[0]!), a, b), transposeH(xs[0]!, perm), 0, 0, 'swapAxes');
        expectNd(E.expandDims(f64(xs[0]!), axis), { shape: [...s.slice(0, axis), 1, ...s.slice(axis)], data: xs[0]!.data }, 0, 0, 'expandDims');
      },
    ),
  );

  it(
    'sumToShape sums exactly the broadcast axes',
    prop(
      shapeArb({ maxSize: 48 }).chain((out) => fc.tuple(hostArb(out), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }), fc.nat(out.length))),
      ([x, ones, drop]) => {
        const target = x.shape.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
        const axes = x.shape.map((_, i) => i).filter((i) => i < drop || (ones[i] && x.shape[i] !== 1));
        const s = sumH(x, axes, true);
        expectNd(E.sumToShape(f64(x), target), { shape: target, data: s.data }, 1e-12, 1e-12, 'sumToShape');
      },
    ),
  );

  it('creation helpers: zeros, ones, zerosLike, onesLike, scalar, tensor from nested arrays', () => {
    E.tidy(() => {
      expectNd(E.zeros([2, 3], 'float64'), { shape: [2, 3], data: [0, 0, 0, 0, 0, 0] }, 0, 0, 'zeros');
      expectNd(E.ones([2], 'int32'), { shape: [2], data: [1, 1] }, 0, 0, 'ones');
      const t = E.tensor([[1.5, 2], [3, 4]]);
      expect(t.dtype).toBe('float32');
      expect(t.tolist()).toEqual([[1.5, 2], [3, 4]]);
      expect(E.zerosLike(t).dtype).toBe('float32');
      expect(read(E.onesLike(t))).toEqual([1, 1, 1, 1]);
      expect(E.scalar(2.5, 'float64').item()).toBe(2.5);
      expect(E.scalar(2.5).shape).toEqual([]);
      expect(E.tensor([1.9, -1.9], [2], 'int32').toArray()).toEqual(Int32Array.from([1, -1]));
    });
  });
});
