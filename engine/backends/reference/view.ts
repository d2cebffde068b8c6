/** What a reference kernel sees: host arrays with their shapes. */
import type { DType, TypedArray } from '../../dtype.js';
import type { Shape } from '../../shape.js';

export interface View {
  readonly data: TypedArray;
  readonly shape: Shape;
  readonly dtype: DType;
}

export type Kernel = (inputs: readonly View[], outputs: readonly View[], attrs: Readonly<Record<string, unknown>>) => void;
