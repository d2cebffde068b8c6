/** Layout helpers for the kernel drivers: collapsing strided iterations, splitting ranges over threads. */
import { broadcastStrides, type Shape } from '../../../shape.js';

/**
 * An iteration over a contiguous output of shape `dims` reading each operand k at
 * Σ i_d · strides[k][d]. Size-1 dimensions are dropped and neighbours merged where every operand
 * (and the output) walks them as one, so e.g. `[B, T, C] + [C]` becomes dims [B·T, C].
 */
export interface Collapsed {
  dims: number[];
  /** per operand, one stride (elements) per dim */
  strides: number[][];
}

export function collapse(dims: Shape, strides: readonly (readonly number[])[]): Collapsed {
  const outDims: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < dims.length; d++) {
    const n = dims[d]!;
    if (n === 1) continue;
    const last = outDims.length - 1;
    // merge into the previous dim when each operand's previous stride = this stride · n
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * n)) {
      outDims[last] = outDims[last]! * n;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outDims.push(n);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  return { dims: outDims, strides: outStrides };
}

/** Collapsed broadcasting of `inShapes` into the contiguous `outShape`. */
export function collapseBroadcast(outShape: Shape, inShapes: readonly Shape[]): Collapsed {
  const contiguous = outShape.map((_, d) => outShape.slice(d + 1).reduce((a, b) => a * b, 1));
  // the output itself is an operand so that merges keep it contiguous (always true here)
  const c = collapse(outShape, [contiguous, ...inShapes.map((s) => broadcastStrides(s, outShape))]);
  return { dims: c.dims, strides: c.strides.slice(1) };
}

/** Left-pads a collapsed iteration to exactly `rank` dims (size 1, stride 0); null if it has more. */
export function padTo(c: Collapsed, rank: number): Collapsed | null {
  if (c.dims.length > rank) return null;
  const pad = rank - c.dims.length;
  return { dims: [...Array(pad).fill(1), ...c.dims], strides: c.strides.map((s) => [...Array(pad).fill(0), ...s]) };
}

/** Splits [0, n) into `parts` contiguous ranges with boundaries on multiples of `align`. */
export function splitRange(n: number, parts: number, align = 1): [number, number][] {
  const out: [number, number][] = [];
  const units = Math.ceil(n / align);
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const end = Math.min(n, Math.round((units * (p + 1)) / parts) * align);
    if (end > start) out.push([start, end]);
    start = Math.max(start, end);
  }
  return out;
}
