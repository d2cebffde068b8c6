/**
 * g-SAE properties (METHODS §1.3): β = 0 is TopK bit for bit; selection equals a brute-force
 * float64 reference (ties included); scaling g by c is scaling β by c; only kept latents get
 * gradient.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../engine/index.js';
import { gsaeEncode, gsaeVariant } from '../../sae/gsae.js';
import { topkEncode, topkVariant } from '../../sae/topk.js';
import { resolveConfig, type GradNorm, type ValueSource } from '../../sae/config.js';
import { bits, deviceParams, dimsArb, dyadic, moderate, rawSaeArb, type Dims, type RawSae } from './helpers.js';

// float64 checks run on the reference backend (the oracle; the wasm default is float32 only)
E.setBackend('reference');

/** METHODS §1.3 written out directly, in float64, one row at a time (rms over the whole batch). */
function referenceF(r: RawSae, dm: Dims, beta: number, vs: ValueSource, gn: GradNorm): number[] {
  const { B, d, m, k } = dm;
  const z: number[][] = [];
  const a: number[][] = [];
  for (let b = 0; b < B; b++) {
    const zr: number[] = [];
    const ar: number[] = [];
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (r.x[b * d + j]! - r.b_dec[j]!) * r.W_enc[j * m + i]!;
      zr.push(s + r.b_enc[i]!);
      let t = 0;
      for (let j = 0; j < d; j++) t += r.W_dec[i * d + j]! * r.g[b * d + j]!; // d_i · g
      ar.push(t);
    }
    z.push(zr);
    a.push(ar);
  }
  if (gn === 'rms') {
    let ss = 0;
    for (const row of a) for (const v of row) ss += v * v;
    const rms = Math.max(Math.sqrt(ss / (B * m)), 1e-30);
    for (const row of a) for (let i = 0; i < m; i++) row[i] = row[i]! / rms;
  }
  const f = new Array<number>(B * m).fill(0);
  for (let b = 0; b < B; b++) {
    const s = z[b]!.map((zi, i) => zi * (1 + Math.abs(a[b]![i]!) * beta));
    const order = s.map((_, i) => i).sort((i, j) => (s[j]! !== s[i]! ? s[j]! - s[i]! : i - j));
    for (const i of order.slice(0, k)) f[b * m + i] = Math.max(0, vs === 's' ? s[i]! : z[b]![i]!);
  }
  return f;
}

const betaArb = fc.constantFrom(0, 0.25, 0.5, 1, 2, 3);
const optsArb = fc.record({ beta: betaArb, vs: fc.constantFrom<ValueSource>('z', 's'), gn: fc.constantFrom<GradNorm>('none', 'rms') });

describe('g-SAE', () => {
  it('with β = 0 selects exactly what TopK selects and gives identical outputs, loss and gradients', () => {
    fc.assert(
      fc.property(
        dimsArb().chain((dm) => fc.tuple(fc.constant(dm), rawSaeArb(dm, moderate), fc.constantFrom<ValueSource>('z', 's'), fc.constantFrom<GradNorm>('none', 'rms'), fc.boolean())),
        ([dm, r, vs, gn, withAux]) =>
          E.tidy(() => {
            const p = deviceParams(r, dm, 'float32');
            const x = E.tensor(r.x, [dm.B, dm.d]);
            const g = E.tensor(r.g, [dm.B, dm.d]);
            const ref = topkEncode(p, x, dm.k);
            const got = gsaeEncode(p, x, g, { k: dm.k, beta: 0, valueSource: vs, gradNorm: gn });
            expect(bits(got.f)).toEqual(bits(ref.f));
            expect(bits(got.s)).toEqual(bits(ref.z));
            // the whole training loss (AuxK included) and its gradients, bit for bit
            const cfg = resolveConfig({ variant: 'gsae', dIn: dm.d, dSae: dm.m, k: dm.k, beta: 0, valueSource: vs, gradNorm: gn, kAux: Math.max(1, Math.floor(dm.m / 2)) });
            const dead = withAux ? E.tensor(Array.from({ length: dm.m }, (_, i) => (i % 2 ? 1 : 0)), [dm.m]) : null;
            const ctx = { cfg, coeff: E.scalar(0), deadMask: dead };
            const [lt, gt] = E.valueAndGrad((q: typeof p) => topkVariant.loss(q, { x, g: null }, ctx).loss)(p);
            const [lg, gg] = E.valueAndGrad((q: typeof p) => gsaeVariant.loss(q, { x, g }, ctx).loss)(p);
            expect(bits(lg)).toEqual(bits(lt));
            for (const n of Object.keys(p)) expect(bits(gg[n])).toEqual(bits(gt[n]));
          }),
      ),
      { numRuns: 150 },
    );
  });

  it('selection equals a brute-force float64 reference of METHODS §1.3, ties included', () => {
    fc.assert(
      fc.property(
        dimsArb().chain((dm) => fc.tuple(fc.constant(dm), rawSaeArb(dm, dyadic), optsArb)),
        ([dm, r, o]) =>
          E.tidy(() => {
            const p = deviceParams(r, dm, 'float64');
            const got = gsaeEncode(p, E.tensor(r.x, [dm.B, dm.d], 'float64'), E.tensor(r.g, [dm.B, dm.d], 'float64'), {
              k: dm.k,
              beta: o.beta,
              valueSource: o.vs,
              gradNorm: o.gn,
            });
            expect(bits(got.f)).toEqual(referenceF(r, dm, o.beta, o.vs, o.gn));
          }),
      ),
      { numRuns: 300 },
    );
  });

  it('the reference itself is not trivial: ties occur and β changes the selection', () => {
    // Guards the test above against data that could never tell selections apart.
    const dm: Dims = { B: 1, d: 2, m: 4, k: 2 };
    const r: RawSae = {
      W_enc: [1, 1, 1, 0.5, 0, 0, 0, 0],
      b_enc: [0, 0, 0, 0],
      W_dec: [0, 0, 0, 0, 0, 1, 2, 0],
      b_dec: [0, 0],
      x: [1, 0],
      g: [0, 1],
    };
    // z = [1, 1, 1, 0.5] (a three-way tie), a = [0, 0, 1, 0]
    expect(referenceF(r, dm, 0, 'z', 'none')).toEqual([1, 1, 0, 0]);
    expect(referenceF(r, dm, 1, 'z', 'none')).toEqual([1, 0, 1, 0]);
    const f = gsaeEncode(deviceParams(r, dm, 'float64'), E.tensor(r.x, [1, 2], 'float64'), E.tensor(r.g, [1, 2], 'float64'), { k: 2, beta: 1, valueSource: 's', gradNorm: 'none' }).f;
    expect(bits(f)).toEqual([1, 0, 2, 0]);
  });

  it('scaling g by c equals scaling β by c', () => {
    // c a power of two: exact on any floats; other c: exact on dyadic data in float64.
    const pow2 = fc.tuple(fc.integer({ min: -3, max: 3 }).map((j) => 2 ** j), fc.constant('float32' as const), fc.constant(moderate));
    const general = fc.tuple(fc.constantFrom(3, 1.5, 0.75, 5), fc.constant('float64' as const), fc.constant(dyadic));
    fc.assert(
      fc.property(
        fc.oneof(pow2, general).chain(([c, dtype, el]) =>
          dimsArb().chain((dm) => fc.tuple(fc.constant(dm), rawSaeArb(dm, el), fc.constant(c), fc.constant(dtype), betaArb, fc.constantFrom<ValueSource>('z', 's'))),
        ),
        ([dm, r, c, dtype, beta, vs]) =>
          E.tidy(() => {
            const p = deviceParams(r, dm, dtype);
            const x = E.tensor(r.x, [dm.B, dm.d], dtype);
            const g = E.tensor(r.g, [dm.B, dm.d], dtype);
            const o = { k: dm.k, valueSource: vs, gradNorm: 'none' as const };
            const scaledG = gsaeEncode(p, x, E.mul(g, c), { ...o, beta });
            const scaledBeta = gsaeEncode(p, x, g, { ...o, beta: beta * c });
            expect(bits(scaledG.f)).toEqual(bits(scaledBeta.f));
            expect(bits(scaledG.s)).toEqual(bits(scaledBeta.s));
          }),
      ),
      { numRuns: 200 },
    );
  });

  it("with gradNorm 'rms' the selection does not depend on the scale of g", () => {
    fc.assert(
      fc.property(
        dimsArb().chain((dm) => fc.tuple(fc.constant(dm), rawSaeArb(dm, moderate), fc.integer({ min: -4, max: 4 }), betaArb)),
        ([dm, r, j, beta]) =>
          E.tidy(() => {
            const p = deviceParams(r, dm, 'float32');
            const x = E.tensor(r.x, [dm.B, dm.d]);
            const g = E.tensor(r.g, [dm.B, dm.d]);
            const o = { k: dm.k, beta, valueSource: 'z' as const, gradNorm: 'rms' as const };
            expect(bits(gsaeEncode(p, x, E.mul(g, 2 ** j), o).f)).toEqual(bits(gsaeEncode(p, x, g, o).f));
          }),
      ),
      { numRuns: 100 },
    );
  });

  it('only kept latents receive gradient', () => {
    fc.assert(
      fc.property(
        dimsArb(3, 5, 10).chain((dm) => fc.tuple(fc.constant(dm), rawSaeArb(dm, moderate), optsArb)),
        ([dm, r, o]) =>
          E.tidy(() => {
            const p = deviceParams(r, dm, 'float64');
            const x = E.tensor(r.x, [dm.B, dm.d], 'float64');
            const g = E.tensor(r.g, [dm.B, dm.d], 'float64');
            const cfg = resolveConfig({ variant: 'gsae', dIn: dm.d, dSae: dm.m, k: dm.k, beta: o.beta, valueSource: o.vs, gradNorm: o.gn });
            const ctx = { cfg, coeff: E.scalar(0, 'float64'), deadMask: null };
            const [, grads] = E.valueAndGrad((q: typeof p) => gsaeVariant.loss(q, { x, g }, ctx).loss)(p);
            const f = Array.from(gsaeEncode(p, x, g, { k: dm.k, beta: o.beta, valueSource: o.vs, gradNorm: o.gn }).f.toArray());
            const xHat = Array.from(E.add(E.matmul(E.tensor(f, [dm.B, dm.m], 'float64'), p.W_dec!), p.b_dec!).toArray());
            const gWenc = Array.from(grads.W_enc.toArray() as Float64Array);
            const gBenc = Array.from(grads.b_enc.toArray() as Float64Array);
            const gWdec = Array.from(grads.W_dec.toArray() as Float64Array);
            for (let i = 0; i < dm.m; i++) {
              const active = Array.from({ length: dm.B }, (_, b) => f[b * dm.m + i]! > 0).some(Boolean);
              const col = Array.from({ length: dm.d }, (_, j) => gWenc[j * dm.m + i]!);
              const row = gWdec.slice(i * dm.d, (i + 1) * dm.d);
              if (!active) {
                expect(col.every((v) => v === 0)).toBe(true);
                expect(gBenc[i]).toBe(0);
                expect(row.every((v) => v === 0)).toBe(true);
              } else {
                // f_i > 0 somewhere: its decoder row gets (2/B) Σ_b f_bi (x̂_b − x_b)
                const want = new Array<number>(dm.d).fill(0);
                for (let b = 0; b < dm.B; b++) {
                  for (let j = 0; j < dm.d; j++) want[j] = want[j]! + (2 / dm.B) * f[b * dm.m + i]! * (xHat[b * dm.d + j]! - r.x[b * dm.d + j]!);
                }
                row.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 9));
              }
            }
          }),
      ),
      { numRuns: 150 },
    );
  });

  it('refuses to encode without g, or with g of the wrong shape', () => {
    const dm: Dims = { B: 2, d: 3, m: 4, k: 2 };
    const r: RawSae = { W_enc: new Array(12).fill(0.1), b_enc: [0, 0, 0, 0], W_dec: new Array(12).fill(0.1), b_dec: [0, 0, 0], x: new Array(6).fill(1), g: new Array(6).fill(1) };
    const p = deviceParams(r, dm, 'float32');
    const x = E.tensor(r.x, [2, 3]);
    const o = { k: 2, beta: 1, valueSource: 'z' as const, gradNorm: 'none' as const };
    expect(() => gsaeEncode(p, x, null, o)).toThrow(/needs the gradient g/);
    expect(() => gsaeEncode(p, x, E.tensor([1, 2, 3], [1, 3]), o)).toThrow(/must have the shape of x \[2, 3\]/);
  });
});
