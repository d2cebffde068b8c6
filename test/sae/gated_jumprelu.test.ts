/**
 * Gated (METHODS §1.4): the auxiliary term gives the decoder no gradient, nothing flows through
 * the Heaviside gate, and the JumpReLU export reproduces the gated encoder. JumpReLU (§1.5):
 * the straight-through pseudo-derivatives are the paper's rectangle-kernel formulas.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import { gatedEncode, gatedLossParts, gatedToJumpRelu } from '../../sae/gated.js';
import { jumpReluEncode, jumpReluFns } from '../../sae/jumprelu.js';
import { toDevice, toHost, type Params } from '../../sae/common.js';
import { arr, bits, dimsArb, moderate, type Dims } from './helpers.js';

// float64 checks run on the reference backend (the oracle; the wasm default is float32 only)
E.setBackend('reference');

const gatedArb = (dm: Dims) =>
  fc.record({
    W_enc: arr(dm.d * dm.m, moderate),
    b_gate: arr(dm.m, moderate),
    r_mag: arr(dm.m, fc.double({ min: -1, max: 1, noNaN: true })),
    b_mag: arr(dm.m, moderate),
    W_dec: arr(dm.m * dm.d, moderate),
    b_dec: arr(dm.d, moderate),
    x: arr(dm.B * dm.d, moderate),
  });

function gatedParams(r: Record<string, number[]>, dm: Dims, dtype: 'float32' | 'float64' = 'float64'): Params {
  const shapes: Record<string, number[]> = { W_enc: [dm.d, dm.m], b_gate: [dm.m], r_mag: [dm.m], b_mag: [dm.m], W_dec: [dm.m, dm.d], b_dec: [dm.d] };
  return Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, E.tensor(r[k]!, s, dtype)]));
}

const allZero = (t: E.Tensor) => Array.from(t.toArray()).every((v) => v === 0);

describe('Gated SAE', () => {
  it('the auxiliary term gives the decoder no gradient (but does train the gate)', () => {
    fc.assert(
      fc.property(
        dimsArb().chain((dm) => fc.tuple(fc.constant(dm), gatedArb(dm), fc.boolean())),
        ([dm, r, april]) =>
          E.tidy(() => {
            const p = gatedParams(r, dm);
            const x = E.tensor(r.x, [dm.B, dm.d], 'float64');
            const [, g] = E.valueAndGrad((q: Params) => gatedLossParts(q, x, april).aux)(p);
            expect(allZero(g.W_dec)).toBe(true);
            // ...while it does train the gate: ∂aux/∂b_gate_i = Σ_b 1[π_bi > 0] (2/B)(ê_b − x_b)·d_i
            const pi = gatedEncode(p, x).pi;
            const auxHat = E.add(E.matmul(E.relu(pi), p.W_dec!), p.b_dec!);
            const want = E.sum(E.mul(E.heaviside(pi), E.mul(E.matmul(E.sub(auxHat, x), p.W_dec!, false, true), 2 / dm.B)), 0);
            const got = Array.from(g.b_gate.toArray());
            Array.from(want.toArray()).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 9));
          }),
      ),
      { numRuns: 120 },
    );
  });

  it('nothing flows through the Heaviside gate: the reconstruction gives b_gate no gradient', () => {
    fc.assert(
      fc.property(
        dimsArb().chain((dm) => fc.tuple(fc.constant(dm), gatedArb(dm))),
        ([dm, r]) =>
          E.tidy(() => {
            const p = gatedParams(r, dm);
            const x = E.tensor(r.x, [dm.B, dm.d], 'float64');
            const [, g] = E.valueAndGrad((q: Params) => gatedLossParts(q, x, false).mse)(p);
            expect(allZero(g.b_gate)).toBe(true);
            // W_enc's reconstruction gradient is exactly the magnitude path's: compute it with the
            // gate frozen as a constant mask and compare.
            const mask = E.heaviside(E.add(E.matmul(E.sub(x, p.b_dec!), p.W_enc!), p.b_gate!));
            const viaMag = (q: Params) => {
              const xw = E.matmul(E.sub(x, q.b_dec!), q.W_enc!);
              const f = E.mul(mask, E.relu(E.add(E.mul(xw, E.exp(q.r_mag!)), q.b_mag!)));
              const e = E.sub(x, E.add(E.matmul(f, q.W_dec!), q.b_dec!));
              return E.div(E.sum(E.mul(e, e)), dm.B);
            };
            const [, g2] = E.valueAndGrad(viaMag)(p);
            for (const n of ['W_enc', 'r_mag', 'b_mag', 'W_dec', 'b_dec']) {
              const a = Array.from(g[n].toArray() as Float64Array);
              const b = Array.from(g2[n].toArray() as Float64Array);
              a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 10));
            }
          }),
      ),
      { numRuns: 120 },
    );
  });

  it('the JumpReLU export θ = b_mag − exp(r_mag) ⊙ b_gate reproduces the gated encoder', () => {
    fc.assert(
      fc.property(
        dimsArb(4, 6, 12).chain((dm) => fc.tuple(fc.constant(dm), gatedArb(dm))),
        ([dm, r]) =>
          E.tidy(() => {
            const p = gatedParams(r, dm, 'float32');
            const x = E.tensor(r.x, [dm.B, dm.d]);
            const { f, pi } = gatedEncode(p, x);
            const j = toDevice(gatedToJumpRelu(toHost(p)));
            const fj = jumpReluEncode(j, x);
            const a = Array.from(f.toArray());
            const b = Array.from(fj.toArray());
            const piv = Array.from(pi.toArray());
            a.forEach((v, i) => {
              // away from the gate boundary (where float rounding may flip 1[π > 0]) they agree
              if (Math.abs(piv[i]!) > 1e-3) expect(b[i]).toBeCloseTo(v, 4);
            });
          }),
      ),
      { numRuns: 150 },
    );
  });
});

describe('JumpReLU straight-through estimators', () => {
  it('give the rectangle-kernel pseudo-derivatives of METHODS §1.5', () => {
    const eps = 0.5;
    const { jump, step } = jumpReluFns(eps);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.infiniteStream(fc.double({ min: -2, max: 2, noNaN: true })),
        fc.infiniteStream(fc.double({ min: 0.05, max: 1.5, noNaN: true })),
        (B, m, zs, ths) =>
          E.tidy(() => {
            const zv = Array.from({ length: B * m }, () => zs.next().value as number);
            const tv = Array.from({ length: m }, () => ths.next().value as number);
            const z = E.tensor(zv, [B, m], 'float64');
            const th = E.tensor(tv, [m], 'float64');
            const w = E.tensor(zv.map((_, i) => 1 + (i % 3)), [B, m], 'float64'); // cotangent weights
            const [vj, [gzj, gtj]] = E.valueAndGrad((a: E.Tensor, b: E.Tensor) => E.sum(E.mul(jump(a, b), w)), { argnums: [0, 1] })(z, th);
            const [, [gzs, gts]] = E.valueAndGrad((a: E.Tensor, b: E.Tensor) => E.sum(E.mul(step(a, b), w)), { argnums: [0, 1] })(z, th);
            const K = (u: number) => (u > -0.5 && u < 0.5 ? 1 : 0);
            let val = 0;
            const wantGzj: number[] = [];
            const wantGtj = new Array<number>(m).fill(0);
            const wantGts = new Array<number>(m).fill(0);
            for (let b = 0; b < B; b++) {
              for (let i = 0; i < m; i++) {
                const zz = zv[b * m + i]!;
                const t = tv[i]!;
                const wi = 1 + ((b * m + i) % 3);
                const H = zz - t > 0 ? 1 : 0;
                val += wi * zz * H;
                wantGzj.push(wi * H);
                wantGtj[i] = wantGtj[i]! + wi * (-t / eps) * K((zz - t) / eps);
                wantGts[i] = wantGts[i]! + wi * (-1 / eps) * K((zz - t) / eps);
              }
            }
            expect(vj.item()).toBeCloseTo(val, 12);
            Array.from(gzj.toArray()).forEach((v, i) => expect(v).toBeCloseTo(wantGzj[i]!, 12));
            Array.from(gtj.toArray()).forEach((v, i) => expect(v).toBeCloseTo(wantGtj[i]!, 12));
            expect(allZero(gzs)).toBe(true);
            Array.from(gts.toArray()).forEach((v, i) => expect(v).toBeCloseTo(wantGts[i]!, 12));
          }),
      ),
      { numRuns: 100 },
    );
  });

  it('inference encoding is ReLU(z) ⊙ 1[z > θ]', () => {
    const p = toDevice({
      W_enc: { shape: [1, 3], data: new Float32Array([1, 1, 1]) },
      b_enc: { shape: [3], data: new Float32Array([0, -0.5, -2]) },
      threshold: { shape: [3], data: new Float32Array([0.5, 0.25, -3]) },
      W_dec: { shape: [3, 1], data: new Float32Array([1, 1, 1]) },
      b_dec: { shape: [1], data: new Float32Array([0]) },
    });
    // x = 1: z = [1, 0.5, -1] → [1 (>0.5), 0.5 (>0.25), 0 (ReLU, though above θ = −3)]
    expect(bits(jumpReluEncode(p, E.tensor([[1]])))).toEqual([1, 0.5, 0]);
    // x = 0.5: z = [0.5, 0, -1.5] → z = θ is not above θ
    expect(bits(jumpReluEncode(p, E.tensor([[0.5]])))).toEqual([0, 0, 0]);
  });
});
