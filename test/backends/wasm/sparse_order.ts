import { expect } from 'vitest';
import type * as E from '../../../engine/index.js';
import { on, WASM, WASM_1T, type Result } from './helpers.js';

/**
 * The sums the wasm embeddingBag and scatterOuter (rows layout) must give, element by element:
 * from +0, s = fround(s + fround(c · row)) over the picks in order. A pick is (b, r, c): batch
 * row b, latent r, coefficient c; bag [B, d] sums c · w[r], outer [m, d] sums c · a[b].
 */
export function pickOrderSums(picks: Iterable<readonly [number, number, number]>, w: Float32Array, a: Float32Array, B: number, m: number, d: number): { bag: number[]; outer: number[] } {
  const f = Math.fround;
  const bag = new Array<number>(B * d).fill(0), outer = new Array<number>(m * d).fill(0);
  for (const [b, r, c] of picks) {
    for (let t = 0; t < d; t++) {
      bag[b * d + t] = f(bag[b * d + t]! + f(c * w[r * d + t]!));
      outer[r * d + t] = f(outer[r * d + t]! + f(c * a[b * d + t]!));
    }
  }
  return { bag, outer };
}

/**
 * The wasm sparse kernels' dot product order in float32 (kernels/sparse.ts `dot`): four lane
 * sums over t ≡ l (mod 4) for t below d4 = d − d mod 4, each from +0 adding fround(a·w) in order,
 * then (l0 + l1) + (l2 + l3), then the tail t ≥ d4 one by one. Tests compare the kernels with it
 * bit for bit.
 */
export function fixedDot(a: Float32Array, ao: number, w: Float32Array, wo: number, d: number): number {
  const f = Math.fround;
  const d4 = d - (d % 4);
  const lane = [0, 0, 0, 0];
  for (let t = 0; t < d4; t++) lane[t % 4] = f(lane[t % 4]! + f(a[ao + t]! * w[wo + t]!));
  let s = f(f(lane[0]! + lane[1]!) + f(lane[2]! + lane[3]!));
  for (let t = d4; t < d; t++) s = f(s + f(a[ao + t]! * w[wo + t]!));
  return s;
}

/**
 * Runs `build` (an embeddingBag and a scatterOuter, rows layout) on wasm with two threads and one,
 * and expects the pick-order sums `want` (pickOrderSums) bit for bit.
 */
export function expectPickOrderSums(build: () => E.Tensor[], want: { bag: number[]; outer: number[] }, label: string): void {
  for (const be of [WASM, WASM_1T]) {
    const [gotBag, gotOuter] = on(be, build) as [Result, Result];
    expect(gotBag.data, `bag ${be} ${label}`).toEqual(want.bag);
    expect(gotOuter.data, `outer ${be} ${label}`).toEqual(want.outer);
  }
}
