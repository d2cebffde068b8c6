/** Reference kernels for elementwise ops: one obvious loop each, broadcasting by strides. */
import { broadcastStrides, sizeOf, type Shape } from '../../shape.js';
import type { Kernel, View } from './view.js';

const GELU_C = Math.sqrt(2 / Math.PI);

const UNARY: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x), // sign(±0) = ±0, sign(NaN) = NaN
  relu: (x) => (x > 0 || x !== x ? x : 0), // NaN propagates (as in PyTorch) instead of hiding upstream bugs
  gelu: (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x))),
  geluGrad: (x) => {
    const t = Math.tanh(GELU_C * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
  },
  heaviside: (x) => (x > 0 ? 1 : 0),
};

const BINARY: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
  equal: (a, b) => (a === b ? 1 : 0),
  notEqual: (a, b) => (a !== b ? 1 : 0),
  greater: (a, b) => (a > b ? 1 : 0),
  greaterEqual: (a, b) => (a >= b ? 1 : 0),
  less: (a, b) => (a < b ? 1 : 0),
  lessEqual: (a, b) => (a <= b ? 1 : 0),
};

/** Calls fn(outIndex, offsets...) for each element of `outShape`, with broadcast offsets per input. */
export function forEachBroadcast(outShape: Shape, inShapes: readonly Shape[], fn: (o: number, offs: number[]) => void): void {
  const n = sizeOf(outShape);
  const rank = outShape.length;
  const strides = inShapes.map((s) => broadcastStrides(s, outShape));
  const idx = new Array<number>(rank).fill(0);
  const offs = new Array<number>(inShapes.length).fill(0);
  for (let o = 0; o < n; o++) {
    fn(o, offs);
    // increment the multi-index, updating offsets incrementally
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < offs.length; k++) offs[k]! += strides[k]![d]!;
      if (idx[d]! < outShape[d]!) break;
      for (let k = 0; k < offs.length; k++) offs[k]! -= strides[k]![d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

export const elementwiseKernels: Record<string, Kernel> = {};

for (const [name, f] of Object.entries(UNARY)) {
  elementwiseKernels[name] = ([x], [y]) => {
    const a = x!.data;
    const out = y!.data;
    for (let i = 0; i < out.length; i++) out[i] = f(a[i]!);
  };
}

for (const [name, f] of Object.entries(BINARY)) {
  elementwiseKernels[name] = ([a, b], [y]) => {
    const A = a!.data;
    const B = b!.data;
    const out = y!.data;
    forEachBroadcast(y!.shape, [a!.shape, b!.shape], (o, [ia, ib]) => {
      out[o] = f(A[ia!]!, B[ib!]!);
    });
  };
}

elementwiseKernels.where = ([c, a, b], [y]) => {
  const C = c!.data;
  const A = a!.data;
  const B = b!.data;
  const out = y!.data;
  forEachBroadcast(y!.shape, [c!.shape, a!.shape, b!.shape], (o, [ic, ia, ib]) => {
    out[o] = C[ic!] !== 0 ? A[ia!]! : B[ib!]!;
  });
};

elementwiseKernels.cast = ([x], [y]) => {
  const a = x!.data;
  const out = y!.data;
  if (y!.dtype === 'int32') for (let i = 0; i < out.length; i++) out[i] = Math.trunc(a[i]!);
  else for (let i = 0; i < out.length; i++) out[i] = a[i]!;
};

export function copyKernel(x: View, y: View): void {
  y.data.set(x.data);
}
