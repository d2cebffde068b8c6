/**
 * Data movement that is not a run of contiguous copies: the batched 2-D transpose
 * `y[b, c, r] = x[b, r, c]`, in 16×16 tiles (reads and strided writes stay in cache) of 4×4
 * blocks transposed in registers with shuffles; ragged edges element by element. Moves 32-bit
 * words (any dtype, bit-exact).
 *
 *   transpose2d(x, y, batch, R, C, r0, r1): rows r0 ≤ r < r1 of every batch matrix
 */
import {
  block, brIf, f32, forLoop, get, i32, i32x4, ifThen, loop, memoryCopy, select, set, transpose4, v128, type Ex, type ModuleBuilder,
} from '../encoder.js';

const T = 16;
const min = (a: Ex, b: Ex): Ex => select(a, b, i32.lt_s(a, b));
const sh2 = (x: Ex): Ex => i32.shl(x, i32.const(2));

export function addMovement(mb: ModuleBuilder): void {
  const f = mb.func('transpose2d', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], []);
  const [x, y, batch, R, Cn, r0, r1] = [0, 1, 2, 3, 4, 5, 6];
  const b = f.local('i32'), rb = f.local('i32'), cb = f.local('i32'), r = f.local('i32'), c = f.local('i32');
  const re = f.local('i32'), ce = f.local('i32'), xb = f.local('i32'), yb = f.local('i32'), px = f.local('i32'), py = f.local('i32');
  const rr = f.local('i32'), cc = f.local('i32'), rEnd = f.local('i32'), cEnd = f.local('i32');
  const row = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const t = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const ldx = f.local('i32'), ldy = f.local('i32');
  const tr = transpose4(row, t);
  const block4: Ex[] = [
    set(px, i32.add(get(xb), sh2(i32.add(i32.mul(get(r), get(Cn)), get(c))))),
    ...row.map((l, k) => set(l, v128.load(i32.add(get(px), i32.mul(get(ldx), i32.const(k)))))),
    ...tr.setup,
    set(py, i32.add(get(yb), sh2(i32.add(i32.mul(get(c), get(R)), get(r))))),
    ...[0, 1, 2, 3].map((k) => v128.store(i32.add(get(py), i32.mul(get(ldy), i32.const(k))), tr.col(k))),
  ];
  const edge: Ex[] = [
    set(rEnd, min(i32.add(get(r), i32.const(4)), get(re))),
    set(cEnd, min(i32.add(get(c), i32.const(4)), get(ce))),
    forLoop(rr, get(r), get(rEnd), 1,
      forLoop(cc, get(c), get(cEnd), 1,
        i32.store(i32.add(get(yb), sh2(i32.add(i32.mul(get(cc), get(R)), get(rr)))), i32.load(i32.add(get(xb), sh2(i32.add(i32.mul(get(rr), get(Cn)), get(cc)))))),
      ),
    ),
  ];
  f.emit(
    set(ldx, sh2(get(Cn))),
    set(ldy, sh2(get(R))),
    forLoop(b, i32.const(0), get(batch), 1,
      set(xb, i32.add(get(x), sh2(i32.mul(i32.mul(get(b), get(R)), get(Cn))))),
      set(yb, i32.add(get(y), sh2(i32.mul(i32.mul(get(b), get(R)), get(Cn))))),
      forLoop(rb, get(r0), get(r1), T,
        set(re, min(i32.add(get(rb), i32.const(T)), get(r1))),
        forLoop(cb, i32.const(0), get(Cn), T,
          set(ce, min(i32.add(get(cb), i32.const(T)), get(Cn))),
          forLoop(r, get(rb), get(re), 4,
            forLoop(c, get(cb), get(ce), 4,
              ifThen(i32.and(i32.le_s(i32.add(get(r), i32.const(4)), get(re)), i32.le_s(i32.add(get(c), i32.const(4)), get(ce))), block4, edge),
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * The general strided copy, for movement ops whose layout collapses to at most 4 dimensions:
 *
 *   copy_nd(y, ys0, ys1, ys2, n0, n1, n2, n3, x, xs0, xs1, xs2, xs3)
 *   y[i0·ys0 + i1·ys1 + i2·ys2 + i3] = x[i0·xs0 + i1·xs1 + i2·xs2 + i3·xs3]
 *
 * The innermost run is a vector copy when xs3 = 1, a fill when xs3 = 0 (broadcast), and a
 * strided gather otherwise (a transpose whose last axis moves). Strides in elements.
 */
export function addCopy(mb: ModuleBuilder): void {
  const f = mb.func('copy_nd', Array(13).fill('i32'), []);
  const [y, ys0, ys1, ys2, n0, n1, n2, n3, x, xs0, xs1, xs2, xs3] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const i0 = f.local('i32'), i1 = f.local('i32'), i2 = f.local('i32');
  const py = f.local('i32'), px = f.local('i32'), pe = f.local('i32'), pv = f.local('i32'), sx = f.local('i32');
  const v = f.local('v128');
  const lt = (a: number, b: number) => i32.lt_u(get(a), get(b));
  const step = (p: number, by: Ex) => set(p, i32.add(get(p), by));
  f.emit(
    set(sx, sh2(get(xs3))),
    forLoop(i0, i32.const(0), get(n0), 1,
      forLoop(i1, i32.const(0), get(n1), 1,
        forLoop(i2, i32.const(0), get(n2), 1,
          set(py, i32.add(get(y), sh2(i32.add(i32.add(i32.mul(get(i0), get(ys0)), i32.mul(get(i1), get(ys1))), i32.mul(get(i2), get(ys2)))))),
          set(px, i32.add(get(x), sh2(i32.add(i32.add(i32.mul(get(i0), get(xs0)), i32.mul(get(i1), get(xs1))), i32.mul(get(i2), get(xs2)))))),
          set(pe, i32.add(get(py), sh2(get(n3)))),
          set(pv, i32.add(get(py), sh2(i32.and(get(n3), i32.const(~3))))),
          ifThen(
            i32.eq(get(xs3), i32.const(1)),
            [
              block(brIf(0, i32.ge_u(get(py), get(pv))), loop(v128.store(get(py), v128.load(get(px))), step(py, i32.const(16)), step(px, i32.const(16)), brIf(0, lt(py, pv)))),
              block(brIf(0, i32.ge_u(get(py), get(pe))), loop(i32.store(get(py), i32.load(get(px))), step(py, i32.const(4)), step(px, i32.const(4)), brIf(0, lt(py, pe)))),
            ],
            [
              ifThen(
                i32.eqz(get(xs3)),
                [
                  set(v, v128.load32_splat(get(px))),
                  block(brIf(0, i32.ge_u(get(py), get(pv))), loop(v128.store(get(py), get(v)), step(py, i32.const(16)), brIf(0, lt(py, pv)))),
                  block(brIf(0, i32.ge_u(get(py), get(pe))), loop(i32.store(get(py), i32.load(get(px))), step(py, i32.const(4)), brIf(0, lt(py, pe)))),
                ],
                [block(brIf(0, i32.ge_u(get(py), get(pe))), loop(i32.store(get(py), i32.load(get(px))), step(py, i32.const(4)), step(px, get(sx)), brIf(0, lt(py, pe))))],
              ),
            ],
          ),
        ),
      ),
    ),
  );
}

/**
 * `memcpy(dst, src, bytes)` (memmove semantics) and `fill32(dst, n, bits)`: bulk copies and fills
 * as wasm `memory.copy` and vector stores. (TypedArray.copyWithin/fill on a SharedArrayBuffer
 * take a slower element-wise path in V8.)
 */
export function addBulk(mb: ModuleBuilder): void {
  mb.func('memcpy', ['i32', 'i32', 'i32'], []).emit(memoryCopy(get(0), get(1), get(2)));
  const f = mb.func('fill32', ['i32', 'i32', 'i32'], []);
  const [dst, n, bits] = [0, 1, 2];
  const p = f.local('i32'), pv = f.local('i32'), pe = f.local('i32'), v = f.local('v128');
  f.emit(
    set(v, i32x4.splat(get(bits))),
    set(p, get(dst)),
    set(pe, i32.add(get(dst), sh2(get(n)))),
    set(pv, i32.add(get(dst), sh2(i32.and(get(n), i32.const(~3))))),
    block(brIf(0, i32.ge_u(get(p), get(pv))), loop(v128.store(get(p), get(v)), set(p, i32.add(get(p), i32.const(16))), brIf(0, i32.lt_u(get(p), get(pv))))),
    block(brIf(0, i32.ge_u(get(p), get(pe))), loop(i32.store(get(p), get(bits)), set(p, i32.add(get(p), i32.const(4))), brIf(0, i32.lt_u(get(p), get(pe))))),
  );
  // scatter_add_1d(y, idx, upd, m): y[idx[j]] += upd[j] for j = 0 .. m−1 in order, float32 (the
  // driver copied x into y and validated idx first). One thread: a repeated index must be summed
  // in order.
  {
    const g = mb.func('scatter_add_1d', Array(4).fill('i32'), []);
    const [y, idx, upd, m] = [0, 1, 2, 3];
    const j = g.local('i32'), p = g.local('i32');
    g.emit(
      forLoop(j, i32.const(0), get(m), 1,
        set(p, i32.add(get(y), sh2(i32.load(i32.add(get(idx), sh2(get(j))))))),
        f32.store(get(p), f32.add(f32.load(get(p)), f32.load(i32.add(get(upd), sh2(get(j)))))),
      ),
    );
  }
  // take_last(x, idx, out, n, m, r0, r1): out[r, j] = x[r, idx[r, j]] for rows r0 ≤ r < r1 of
  // x [rows, n] and idx, out [rows, m]; 32-bit words (any dtype). The driver validates idx first.
  // Picks are independent loads, so a row's misses overlap (the picks of a TopK read a [B, m]
  // matrix that has left the cache: latency-bound, hence worth a second thread).
  {
    const g = mb.func('take_last', Array(7).fill('i32'), []);
    const [x, idx, out, n, m, r0, r1] = [0, 1, 2, 3, 4, 5, 6];
    const r = g.local('i32'), j = g.local('i32'), xr = g.local('i32'), pr = g.local('i32');
    g.emit(
      forLoop(r, get(r0), get(r1), 1,
        set(xr, i32.add(get(x), sh2(i32.mul(get(r), get(n))))),
        set(pr, sh2(i32.mul(get(r), get(m)))),
        forLoop(j, i32.const(0), get(m), 1,
          i32.store(i32.add(get(out), i32.add(get(pr), sh2(get(j)))), i32.load(i32.add(get(xr), sh2(i32.load(i32.add(get(idx), i32.add(get(pr), sh2(get(j))))))))),
        ),
      ),
    );
  }
}
