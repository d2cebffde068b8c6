/**
 * Proven value bounds of int32 buffers. The gpujs backend stores int32 as float32, which holds
 * integers exactly only below 2^24 (EXACT_INT), so every int32 buffer carries inclusive bounds:
 * taken from the data on upload, derived statically for each integer-producing op (op_table.ts).
 * An op whose bounds could leave the exact range, or whose index bounds could fall outside the
 * indexed axis, runs on the host instead.
 */
import { EXACT_INT } from './codegen.js';

/** Inclusive bounds on the values of an int32 buffer. */
export type Range = readonly [lo: number, hi: number];

/** Both ends are integers float32 holds exactly. */
export function exact(r: Range): boolean {
  return Math.abs(r[0]) < EXACT_INT && Math.abs(r[1]) < EXACT_INT;
}

export function union(a: Range, b: Range): Range {
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
}

/** Why indices with bounds `r` may not address an axis of size `n` (null when they all do). */
export function indexRangeProblem(r: Range, n: number): string | null {
  return r[0] >= 0 && r[1] < n ? null : `indices may be out of range (bounds ${r[0]}..${r[1]} vs axis size ${n}); checked on the host`;
}

/** Bounds of x after adding up to `n` updates with bounds `u` into any one element. */
export function scatterRange(x: Range, u: Range, n: number): Range {
  return [x[0] + n * Math.min(0, u[0]), x[1] + n * Math.max(0, u[1])];
}

/** Bounds of an int32 binary op's result; null for ops with no exact int32 kernel. */
export function intBinaryRange(op: string, a: Range, b: Range): Range | null {
  switch (op) {
    case 'add': return [a[0] + b[0], a[1] + b[1]];
    case 'sub': return [a[0] - b[1], a[1] - b[0]];
    case 'mul': {
      const p = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
      return [Math.min(...p), Math.max(...p)];
    }
    case 'maximum':
    case 'minimum':
      return union(a, b);
    case 'equal':
    case 'notEqual':
    case 'greater':
    case 'greaterEqual':
    case 'less':
    case 'lessEqual':
      return [0, 1];
    default:
      return null; // pow/div are float-only ops
  }
}
