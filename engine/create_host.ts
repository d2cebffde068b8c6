/** Tensors from JavaScript data. */
import { convertArray, dtypeOfArray, type DType, type TypedArray } from './dtype.js';
import { ShapeError } from './errors.js';
import { fromArray } from './engine.js';
import type { Shape } from './shape.js';
import type { Tensor } from './tensor.js';

type Nested = number | readonly Nested[];

function inferShape(x: Nested): number[] {
  const s: number[] = [];
  let cur: Nested = x;
  while (Array.isArray(cur)) {
    s.push(cur.length);
    cur = (cur as readonly Nested[])[0] as Nested;
    if (cur === undefined) break;
  }
  return s;
}

/**
 * A tensor from a typed array, a (nested) number array or a number. The shape defaults to the
 * nesting; the dtype to the typed array's, else float32.
 */
export function tensor(data: TypedArray | Nested, shape?: Shape, dtype?: DType): Tensor {
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    const d = dtype ?? dtypeOfArray(arr);
    return fromArray(d === dtypeOfArray(arr) ? arr : convertArray(arr, d), shape ?? [arr.length], d);
  }
  const s = shape ?? inferShape(data);
  const flat = typeof data === 'number' ? [data] : (data as readonly Nested[]).flat(Infinity as 1) as number[];
  if (flat.some((v) => typeof v !== 'number')) throw new ShapeError('tensor: nested arrays must be rectangular and hold numbers');
  return fromArray(convertArray(flat, dtype ?? 'float32'), s, dtype ?? 'float32');
}

export const scalar = (v: number, dtype: DType = 'float32'): Tensor => tensor(v, [], dtype);
