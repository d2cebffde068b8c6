/** Reference kernels for reductions, movement, matmul, indexing, topk and creation. */
import { BackendError } from '../../errors.js';
import { sizeOf, stridesOf, type Shape } from '../../shape.js';
import { matmulDims, type MatmulAttrs } from '../../ops/matmul.js';
import { copyKernel, forEachBroadcast } from './elementwise.js';
import type { Kernel } from './view.js';

/**
 * Splits a shape around a set of reduced axes: iterates outer (kept) positions and, for each,
 * the reduced positions, giving flat input offsets. Simple and general; the oracle needs no speed.
 */
function reduceLoop(shape: Shape, axes: readonly number[], fn: (outIdx: number, inOff: number, first: boolean) => void): void {
  const st = stridesOf(shape);
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => shape[i]!);
  const redShape = axes.map((i) => shape[i]!);
  const nOut = sizeOf(keptShape);
  const nRed = sizeOf(redShape);
  const keptSt = stridesOf(keptShape);
  const redSt = stridesOf(redShape);
  for (let o = 0; o < nOut; o++) {
    let base = 0;
    for (let j = 0; j < kept.length; j++) base += (Math.floor(o / keptSt[j]!) % keptShape[j]!) * st[kept[j]!]!;
    for (let r = 0; r < nRed; r++) {
      let off = base;
      for (let j = 0; j < axes.length; j++) off += (Math.floor(r / redSt[j]!) % redShape[j]!) * st[axes[j]!]!;
      fn(o, off, r === 0);
    }
  }
}

export const structuralKernels: Record<string, Kernel> = {
  sum: ([x], [y], attrs) => {
    const out = y!.data;
    out.fill(0);
    const a = x!.data;
    reduceLoop(x!.shape, attrs.axes as number[], (o, i) => {
      out[o]! += a[i]!;
    });
  },
  max: ([x], [y], attrs) => {
    const out = y!.data;
    const a = x!.data;
    reduceLoop(x!.shape, attrs.axes as number[], (o, i, first) => {
      const v = a[i]!;
      if (first || v > out[o]! || v !== v) out[o] = v;
    });
  },
  argmax: ([x], [y], attrs) => {
    const axis = attrs.axis as number;
    const out = y!.data;
    const a = x!.data;
    const best = new Float64Array(out.length);
    const n = x!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    reduceLoop(x!.shape, [axis], (o, i, first) => {
      const v = a[i]!;
      const pos = Math.floor(i / inner) % n;
      if (first || v > best[o]!) {
        best[o] = v;
        out[o] = pos;
      }
    });
  },
  reshape: ([x], [y]) => copyKernel(x!, y!),
  stopGradient: ([x], [y]) => copyKernel(x!, y!),
  transpose: ([x], [y], attrs) => {
    const perm = attrs.perm as number[];
    const ist = stridesOf(x!.shape);
    const a = x!.data;
    const out = y!.data;
    const permSt = perm.map((p) => ist[p]!);
    const ost = stridesOf(y!.shape);
    for (let o = 0; o < out.length; o++) {
      let off = 0;
      for (let d = 0; d < perm.length; d++) off += (Math.floor(o / ost[d]!) % y!.shape[d]!) * permSt[d]!;
      out[o] = a[off]!;
    }
  },
  slice: ([x], [y], attrs) => {
    const begin = attrs.begin as number[];
    const ist = stridesOf(x!.shape);
    const ost = stridesOf(y!.shape);
    const a = x!.data;
    const out = y!.data;
    for (let o = 0; o < out.length; o++) {
      let off = 0;
      for (let d = 0; d < ost.length; d++) off += ((Math.floor(o / ost[d]!) % y!.shape[d]!) + begin[d]!) * ist[d]!;
      out[o] = a[off]!;
    }
  },
  pad: ([x], [y], attrs) => {
    const before = attrs.before as number[];
    const ist = stridesOf(x!.shape);
    const ost = stridesOf(y!.shape);
    const a = x!.data;
    const out = y!.data;
    out.fill(0);
    for (let i = 0; i < a.length; i++) {
      let off = 0;
      for (let d = 0; d < ist.length; d++) off += ((Math.floor(i / ist[d]!) % x!.shape[d]!) + before[d]!) * ost[d]!;
      out[off] = a[i]!;
    }
  },
  concat: (inputs, [y], attrs) => {
    const axis = attrs.axis as number;
    const out = y!.data;
    const outer = sizeOf(y!.shape.slice(0, axis));
    const yRow = sizeOf(y!.shape.slice(axis));
    let col = 0;
    for (const x of inputs) {
      const row = sizeOf(x.shape.slice(axis));
      for (let o = 0; o < outer; o++) out.set(x.data.subarray(o * row, (o + 1) * row), o * yRow + col);
      col += row;
    }
  },
  broadcastTo: ([x], [y]) => {
    const a = x!.data;
    const out = y!.data;
    forEachBroadcast(y!.shape, [x!.shape], (o, [i]) => {
      out[o] = a[i!]!;
    });
  },
  matmul: ([a, b], [y], attrs) => {
    const at = attrs as unknown as MatmulAttrs;
    const { batch, M, K, N } = matmulDims(a!.shape, b!.shape, at);
    const A = a!.data;
    const B = b!.data;
    const C = y!.data;
    const aBatch = a!.shape.slice(0, -2);
    const bBatch = b!.shape.slice(0, -2);
    // offsets of each batch matrix inside a and b, broadcasting batch dims
    forEachBroadcast(batch, [aBatch, bBatch], (bi, [ia, ib]) => {
      const aOff = ia! * M * K;
      const bOff = ib! * K * N;
      const cOff = bi * M * N;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) {
            const av = at.transA ? A[aOff + k * M + i]! : A[aOff + i * K + k]!;
            const bv = at.transB ? B[bOff + j * K + k]! : B[bOff + k * N + j]!;
            s += av * bv;
          }
          C[cOff + i * N + j] = s;
        }
      }
    });
  },
  gather: ([x, idx], [y], attrs) => {
    const axis = attrs.axis as number;
    const n = x!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const outer = sizeOf(x!.shape.slice(0, axis));
    const I = idx!.data;
    const a = x!.data;
    const out = y!.data;
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < I.length; j++) {
        const r = checkIndex('gather', I[j]!, n, axis);
        for (let k = 0; k < inner; k++) out[(o * I.length + j) * inner + k] = a[(o * n + r) * inner + k]!;
      }
    }
  },
  scatterAdd: ([x, idx, upd], [y], attrs) => {
    const axis = attrs.axis as number;
    const n = x!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const outer = sizeOf(x!.shape.slice(0, axis));
    const I = idx!.data;
    const u = upd!.data;
    const out = y!.data;
    out.set(x!.data);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < I.length; j++) {
        const r = checkIndex('scatterAdd', I[j]!, n, axis);
        for (let k = 0; k < inner; k++) out[(o * n + r) * inner + k]! += u[(o * I.length + j) * inner + k]!;
      }
    }
  },
  takeAlongAxis: ([x, idx], [y], attrs) => {
    const axis = attrs.axis as number;
    const n = x!.shape[axis]!;
    const m = idx!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const I = idx!.data;
    const a = x!.data;
    const out = y!.data;
    for (let p = 0; p < out.length; p++) {
      const k = p % inner;
      const o = Math.floor(p / (inner * m));
      const r = checkIndex('takeAlongAxis', I[p]!, n, axis);
      out[p] = a[(o * n + r) * inner + k]!;
    }
  },
  scatterAddAlongAxis: ([x, idx, upd], [y], attrs) => {
    const axis = attrs.axis as number;
    const n = x!.shape[axis]!;
    const m = idx!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const I = idx!.data;
    const u = upd!.data;
    const out = y!.data;
    out.set(x!.data);
    for (let p = 0; p < I.length; p++) {
      const k = p % inner;
      const o = Math.floor(p / (inner * m));
      const r = checkIndex('scatterAddAlongAxis', I[p]!, n, axis);
      out[(o * n + r) * inner + k]! += u[p]!;
    }
  },
  topkIndices: ([x], [y], attrs) => {
    const k = attrs.k as number;
    const n = x!.shape[x!.shape.length - 1]!;
    const rows = n === 0 ? 0 : x!.data.length / n;
    const a = x!.data;
    const out = y!.data;
    const order = Array.from({ length: n }, (_, i) => i);
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(a[base + i]!)) throw topkNanError(r, i);
        order[i] = i;
      }
      // descending by value; ties to the lower index (stable sort keeps index order)
      order.sort((i, j) => (a[base + j]! > a[base + i]! ? 1 : a[base + j]! < a[base + i]! ? -1 : i - j));
      for (let j = 0; j < k; j++) out[r * k + j] = order[j]!;
    }
  },
  full: (_in, [y], attrs) => {
    y!.data.fill(attrs.value as number);
  },
  arange: (_in, [y], attrs) => {
    const out = y!.data;
    const start = attrs.start as number;
    const step = attrs.step as number;
    for (let i = 0; i < out.length; i++) out[i] = start + i * step;
  },
};

/** topk's refusal of a NaN, one message for every backend's kernel (they are compared with it). */
export function topkNanError(row: number, position: number): BackendError {
  return new BackendError(`topk: input row ${row} contains NaN at position ${position} (NaN cannot be ranked)`);
}

function checkIndex(op: string, i: number, n: number, axis: number): number {
  if (i < 0 || i >= n) throw new BackendError(`${op}: index ${i} is out of range for axis ${axis} of size ${n}`);
  return i;
}
