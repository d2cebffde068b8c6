/**
 * Reductions over a contiguous block of axes, in the driver's (outer, red, inner) form:
 *
 *   red_<op>_rows(x, y, rows, n, r0, r1):  y[r] = op over x[r·n : r·n + n]   for rows r0 ≤ r < r1
 *     (inner = 1: 4 vector accumulators of 4 lanes, then lanes, then the tail)
 *   red_<op>_cols(x, y, outer, red, inner, c0, c1):
 *     y[o·inner + c] = op over r of x[(o·red + r)·inner + c]   for columns c0 ≤ c < c1
 *     (rows are folded one after another in order, 4 columns at a time: for sum this is exactly
 *     the reference's summation order, so results are bit-identical)
 * op: sum (float32 accumulation, as the reference), max (NaN wins, as in the reference), or zsum
 * (Σ x·0: sumTimesZero's rows pass).
 */
import {
  block, brIf, f32, f32x4, forLoop, get, i32, ifThen, loop, seq, set, v128, type Ex, type ModuleBuilder,
} from '../encoder.js';

interface RedOp {
  init: number;
  vec: (a: Ex, b: Ex) => Ex;
  sca: (a: Ex, b: Ex) => Ex;
}

const OPS: Record<string, RedOp> = {
  sum: { init: 0, vec: f32x4.add, sca: f32.add },
  // wasm max returns NaN when either operand is NaN, like the reference's sticky NaN
  max: { init: -Infinity, vec: f32x4.max, sca: f32.max },
  // Σ x·0 (sumTimesZero, ops/reduce.ts): 0, or NaN once any x is NaN or ±Inf
  zsum: { init: 0, vec: (a, b) => f32x4.add(a, f32x4.mul(b, f32x4.const(0))), sca: (a, b) => f32.add(a, f32.mul(b, f32.const(0))) },
};

const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));

export function addReductions(mb: ModuleBuilder): void {
  for (const [name, op] of Object.entries(OPS)) {
    // ------------------------------------------------------------ rows
    {
      const f = mb.func(`red_${name}_rows`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], []);
      const [x, y, , n, r0, r1] = [0, 1, 2, 3, 4, 5];
      const r = f.local('i32'), p = f.local('i32'), end16 = f.local('i32'), end4 = f.local('i32'), end = f.local('i32');
      const acc = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
      const s = f.local('f32');
      f.emit(
        forLoop(r, get(r0), get(r1), 1,
          set(p, i32.add(get(x), sh2(i32.mul(get(r), get(n))))),
          set(end, i32.add(get(p), sh2(get(n)))),
          set(end16, i32.add(get(p), sh2(i32.and(get(n), i32.const(~15))))),
          set(end4, i32.add(get(p), sh2(i32.and(get(n), i32.const(~3))))),
          ...acc.map((a) => set(a, f32x4.const(op.init))),
          block(
            brIf(0, i32.ge_u(get(p), get(end16))),
            loop(
              ...acc.map((a, k) => set(a, op.vec(get(a), v128.load(get(p), 16 * k)))),
              set(p, i32.add(get(p), i32.const(64))),
              brIf(0, i32.lt_u(get(p), get(end16))),
            ),
          ),
          block(
            brIf(0, i32.ge_u(get(p), get(end4))),
            loop(set(acc[0]!, op.vec(get(acc[0]!), v128.load(get(p)))), set(p, i32.add(get(p), i32.const(16))), brIf(0, i32.lt_u(get(p), get(end4)))),
          ),
          set(acc[0]!, op.vec(op.vec(get(acc[0]!), get(acc[1]!)), op.vec(get(acc[2]!), get(acc[3]!)))),
          set(s, op.sca(op.sca(f32x4.extract_lane(get(acc[0]!), 0), f32x4.extract_lane(get(acc[0]!), 1)), op.sca(f32x4.extract_lane(get(acc[0]!), 2), f32x4.extract_lane(get(acc[0]!), 3)))),
          block(
            brIf(0, i32.ge_u(get(p), get(end))),
            loop(set(s, op.sca(get(s), f32.load(get(p)))), set(p, i32.add(get(p), i32.const(4))), brIf(0, i32.lt_u(get(p), get(end)))),
          ),
          f32.store(i32.add(get(y), sh2(get(r))), get(s)),
        ),
      );
    }
    // ------------------------------------------------------------ columns
    {
      const f = mb.func(`red_${name}_cols`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], []);
      const [x, y, outer, red, inner, c0, c1] = [0, 1, 2, 3, 4, 5, 6];
      const o = f.local('i32'), r = f.local('i32'), px = f.local('i32'), py = f.local('i32'), pyv = f.local('i32'), pye = f.local('i32');
      const yrow = f.local('i32'), xrow = f.local('i32');
      // y[yrow..] = op(y, x[xrow..]) over the column range, 4 lanes at a time, then the tail
      const fold = (): Ex =>
        seq(
          set(py, get(yrow)),
          set(px, get(xrow)),
          block(
            brIf(0, i32.ge_u(get(py), get(pyv))),
            loop(
              v128.store(get(py), op.vec(v128.load(get(py)), v128.load(get(px)))),
              set(py, i32.add(get(py), i32.const(16))),
              set(px, i32.add(get(px), i32.const(16))),
              brIf(0, i32.lt_u(get(py), get(pyv))),
            ),
          ),
          block(
            brIf(0, i32.ge_u(get(py), get(pye))),
            loop(
              f32.store(get(py), op.sca(f32.load(get(py)), f32.load(get(px)))),
              set(py, i32.add(get(py), i32.const(4))),
              set(px, i32.add(get(px), i32.const(4))),
              brIf(0, i32.lt_u(get(py), get(pye))),
            ),
          ),
        );
      f.emit(
        forLoop(o, i32.const(0), get(outer), 1,
          set(yrow, i32.add(get(y), sh2(i32.add(i32.mul(get(o), get(inner)), get(c0))))),
          set(pye, i32.add(get(yrow), sh2(i32.sub(get(c1), get(c0))))),
          set(pyv, i32.add(get(yrow), sh2(i32.and(i32.sub(get(c1), get(c0)), i32.const(~3))))),
          // start from the identity (0 for sum, -Inf for max; max never reduces an empty axis)
          seq(
            set(py, get(yrow)),
            block(
              brIf(0, i32.ge_u(get(py), get(pye))),
              loop(f32.store(get(py), f32.const(op.init)), set(py, i32.add(get(py), i32.const(4))), brIf(0, i32.lt_u(get(py), get(pye)))),
            ),
          ),
          forLoop(r, i32.const(0), get(red), 1,
            set(xrow, i32.add(get(x), sh2(i32.add(i32.mul(i32.add(i32.mul(get(o), get(red)), get(r)), get(inner)), get(c0))))),
            fold(),
          ),
        ),
      );
    }
  }
}

/**
 * `argmax_rows(x, y, n, r0, r1)`: y[r] = index of the first maximum of row r (int32), scanned
 * exactly as the reference does: start from element 0, move on strictly greater values only
 * (so a NaN first element wins, later NaNs never do).
 */
export function addArgmax(mb: ModuleBuilder): void {
  const f = mb.func('argmax_rows', ['i32', 'i32', 'i32', 'i32', 'i32'], []);
  const [x, y, n, r0, r1] = [0, 1, 2, 3, 4];
  const r = f.local('i32'), i = f.local('i32'), p = f.local('i32'), best = f.local('f32'), bi = f.local('i32'), v = f.local('f32');
  f.emit(
    forLoop(r, get(r0), get(r1), 1,
      set(p, i32.add(get(x), sh2(i32.mul(get(r), get(n))))),
      set(best, f32.load(get(p))),
      set(bi, i32.const(0)),
      forLoop(i, i32.const(1), get(n), 1,
        set(v, f32.load(i32.add(get(p), sh2(get(i))))),
        ifThen(f32.gt(get(v), get(best)), [set(best, get(v)), set(bi, get(i))]),
      ),
      i32.store(i32.add(get(y), sh2(get(r))), get(bi)),
    ),
  );
}
