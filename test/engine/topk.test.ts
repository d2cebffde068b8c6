/**
 * topk / keepTopk / batchTopk against a sort-based float64 reference: ties go to the lower index,
 * k = 0, 1, n, negative values, ±Infinity ordering, NaN is refused; gradients reach exactly the
 * selected entries; BatchTopK keeps exactly B·k entries of the whole batch.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { f64, fcParams, read, shapeArb, sizeOf, useReference, type HostTensor } from './gradcheck.js';
import { expectNd, topkH } from './host.js';

beforeAll(useReference);

/** Values with many ties and infinities, negative values included. */
const tieValue = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(Infinity, -Infinity, -0.5), fc.double({ min: -4, max: 4, noNaN: true }));
const rowsArb = (o = {}) =>
  shapeArb({ minRank: 1, maxRank: 3, maxDim: 5, maxSize: 40, ...o }).chain((s) =>
    fc.tuple(fc.array(tieValue, { minLength: sizeOf(s), maxLength: sizeOf(s) }).map((data): HostTensor => ({ shape: s, data })), kArb(s[s.length - 1]!)),
  );
/** k biased towards the edge cases 0, 1 and n. */
const kArb = (n: number) => fc.oneof(fc.constantFrom(...new Set([0, Math.min(1, n), n])), fc.integer({ min: 0, max: n }));

/** Host keepTopk: zeros except the top-k of each row (ReLU'd if asked). */
function keepH(x: HostTensor, k: number, relu: boolean): number[] {
  const n = x.shape[x.shape.length - 1]!;
  const { indices } = topkH(x, k);
  const out = new Array<number>(x.data.length).fill(0);
  indices.data.forEach((i, p) => {
    const r = Math.floor(p / Math.max(1, k));
    const v = x.data[r * n + i]!;
    out[r * n + i] = relu ? Math.max(v, 0) : v;
  });
  return out;
}

describe('topk', () => {
  it('values and indices match a stable descending sort (ties → lower index, ±Infinity ordered, k ∈ {0, 1, n, …})', () => {
    fc.assert(
      fc.property(rowsArb(), ([x, k]) =>
        E.tidy(() => {
          const { values, indices } = E.topk(f64(x), k);
          const want = topkH(x, k);
          expectNd(indices, want.indices, 0, 0, 'topk indices');
          expectNd(values, want.values, 0, 0, 'topk values');
        }),
      ),
      fcParams(60),
    );
  });

  it('worked examples: ties, infinities, k = 0 and k = n', () => {
    E.tidy(() => {
      const x = f64({ shape: [2, 4], data: [3, 1, 3, 2, -Infinity, Infinity, -1, Infinity] });
      expect(E.topk(x, 2).indices.tolist()).toEqual([[0, 2], [1, 3]]);
      expect(E.topk(x, 4).values.tolist()).toEqual([[3, 3, 2, 1], [Infinity, Infinity, -1, -Infinity]]);
      expect(E.topk(x, 0).values.shape).toEqual([2, 0]);
      expect(E.topk(f64({ shape: [3], data: [-5, -2, -9] }), 1).indices.tolist()).toEqual([1]);
    });
  });

  it('NaN anywhere in a row is refused with a clear error naming the row and position', () => {
    E.tidy(() => {
      const x = f64({ shape: [2, 3], data: [1, 2, 3, 4, NaN, 6] });
      expect(() => E.topk(x, 1)).toThrow(/topk: input row 1 contains NaN at position 1/);
      expect(() => E.keepTopk(x, 1)).toThrow(/NaN/);
      expect(() => E.batchTopk(x, 1)).toThrow(/NaN/);
    });
  });

  it('keepTopk zeroes all but the top-k of each row (ReLU optional)', () => {
    fc.assert(
      fc.property(rowsArb(), fc.boolean(), ([x, k], relu) =>
        E.tidy(() => {
          const finite = { shape: x.shape, data: x.data.map((v) => (Number.isFinite(v) ? v : Math.sign(v) * 9)) };
          expectNd(E.keepTopk(f64(finite), k, relu), { shape: x.shape, data: keepH(finite, k, relu) }, 0, 0, 'keepTopk');
        }),
      ),
      fcParams(60),
    );
  });

  it('batchTopk keeps exactly the B·k largest entries of the whole batch (ties → lower flat index)', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 })).chain(([B, n]) =>
          fc.tuple(fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }).filter((v) => v !== 0), fc.double({ min: 0.1, max: 4, noNaN: true })), { minLength: B * n, maxLength: B * n }), fc.constant([B, n]), kArb(n)),
        ),
        fc.boolean(),
        ([data, shape, k], relu) =>
          E.tidy(() => {
            const x = { shape, data };
            const y = read(E.batchTopk(f64(x), k, relu));
            const want = keepH({ shape: [1, data.length], data }, k * shape[0]!, relu);
            expect(y).toEqual(want);
            // no value is 0, so without ReLU exactly B·k entries survive
            if (!relu) expect(y.filter((v) => v !== 0).length).toBe(k * shape[0]!);
          }),
      ),
      fcParams(60),
    );
  });

  it('gradients reach the selected entries only (others exactly 0), with ties and ReLU', () => {
    fc.assert(
      fc.property(
        rowsArb({ maxRank: 2 }).filter(([x]) => x.data.every(Number.isFinite)),
        fc.constantFrom('topk', 'keepTopk', 'keepTopkRelu', 'batchTopk'),
        fc.integer(),
        ([x, k], kind, seed) =>
          E.tidy(() => {
            if (kind === 'batchTopk' && x.shape.length !== 2) return;
            const n = x.shape[x.shape.length - 1]!;
            const cot = Array.from({ length: kind === 'topk' ? (x.data.length / n) * k : x.data.length }, (_, i) => ((seed + 7 * i) % 5) + 1);
            const f = (t: E.Tensor): E.Tensor =>
              kind === 'topk' ? E.topk(t, k).values : kind === 'batchTopk' ? E.batchTopk(t, k) : E.keepTopk(t, k, kind === 'keepTopkRelu');
            const y = f(f64(x));
            const u = E.tensor(Float64Array.from(cot), y.shape, 'float64');
            const g = read(E.grad((t: E.Tensor) => E.sum(E.mul(f(t), u)))(f64(x)));
            // the expected gradient: the cotangent routed to each selected position, 0 elsewhere
            const want = new Array<number>(x.data.length).fill(0);
            if (kind === 'batchTopk') {
              topkH({ shape: [1, x.data.length], data: x.data }, k * x.shape[0]!).indices.data.forEach((i) => (want[i] = cot[i]!));
            } else {
              topkH(x, k).indices.data.forEach((i, p) => {
                const r = Math.floor(p / k);
                const pos = r * n + i;
                if (kind === 'topk') want[pos] = cot[p]!;
                else if (kind === 'keepTopk' || x.data[pos]! > 0) want[pos] = cot[pos]!;
              });
            }
            expect(g).toEqual(want);
          }),
      ),
      fcParams(60),
    );
  });

  it('k out of range is refused, naming k and the shape', () => {
    E.tidy(() => {
      const x = f64({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
      expect(() => E.topk(x, 4)).toThrow(/topk: k = 4 must be an integer in \[0, 3\] for input \[2, 3\]/);
      expect(() => E.topk(x, -1)).toThrow(/k = -1/);
      expect(() => E.topk(x, 1.5)).toThrow(/k = 1.5/);
      expect(() => E.batchTopk(x, 4)).toThrow(/batchTopk: k = 4 exceeds the 3 entries of each row of \[2, 3\]/);
      expect(() => E.batchTopk(x, -1)).toThrow(/batchTopk: k = -1 must be a non-negative integer \(input \[2, 3\]\)/);
      expect(() => E.batchTopk(f64({ shape: [3], data: [1, 2, 3] }), 1)).toThrow(/batchTopk: input must be \[batch, n\], got \[3\]/);
      expect(() => E.topk(f64({ shape: [], data: [1] }), 0)).toThrow(/topk: input must have at least one axis/);
      expect(() => E.topk(E.tensor([1, 2], [2], 'int32'), 1)).toThrow(/topk: input must be float32 or float64, got int32/);
    });
  });
});
