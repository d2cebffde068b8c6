/**
 * The PyTorch-computed GPT-2 debug state (test/fixtures/gpt2-debug) and the comparison rule of its
 * tests: "max |diff| ≤ 1e-4 absolute, or ≤ 1e-3 relative to the largest reference value". Shared by
 * the reference/wasm test (test/models) and the gpu.js one (test/backends/gpujs).
 */
import { expect } from 'vitest';
import * as E from '../../engine/index.js';

export const DEBUG_DIR = 'test/fixtures/gpt2-debug';
const state = E.readSafetensors(`${DEBUG_DIR}/debug_state.safetensors`);

/** A tensor of the fixture by name; a missing one is an error naming it. */
export function ref(name: string): E.StoredTensor {
  const t = state.tensors.get(name);
  if (!t) throw new Error(`fixture has no '${name}'`);
  return t;
}

/** max |a − b| and that over the largest |b|, for the "≤ 1e-4 absolute or 1e-3 relative" rule. */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>): { abs: number; rel: number } {
  expect(a.length).toBe(b.length);
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    abs = Math.max(abs, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { abs, rel: abs / Math.max(scale, 1e-30) };
}

/** The names of every tensor in the fixture. */
export const fixtureNames = (): string[] => [...state.tensors.keys()];

export const close = (c: { abs: number; rel: number }): boolean => c.abs <= 1e-4 || c.rel <= 1e-3;
