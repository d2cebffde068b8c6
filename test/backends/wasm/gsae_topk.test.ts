/**
 * gsaeTopkIndices(z, g, W, k, β) against the dense composite it stands for,
 *
 *   topkIndices(z ⊙ (1 + β|g @ Wᵀ|), k)
 *
 * on the SAME backend, bit for bit (same int32 indices in the same order, or the same error
 * message): the wasm kernel screens latents with a Cauchy–Schwarz bound and scores only the
 * candidates, in the GEMM's own summation order, so any disagreement is a kernel bug. Covered on
 * four wasm variants (default, one thread, tiny gemm blocks: several K-blocks, and mul+add instead
 * of relaxed fused multiply-add) and on the reference backend: random shapes and scales (the screen
 * keeping few or all latents), tie-heavy dyadic data, −∞ masks as AuxK builds them (fewer alive
 * latents than k, all-masked rows) and +∞ in z, non-finite g / W (all mode, same NaN error as
 * dense), NaN in z (declined to the reference kernel, same error), benchmark-scale cases, bad
 * inputs, and no leaked buffers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as E from '../../../engine/index.js';
import { getBackend, setBackend } from '../../../engine/engine.js';
import { DTypeError, ShapeError } from '../../../engine/errors.js';
import type { WasmBackend } from '../../../engine/backends/wasm/index.js';
import { on, wasmVariant, WASM, WASM_1T, WASM_SMALL_BLOCKS } from './helpers.js';

const REF = 'reference';
const WASM_NO_RELAXED = wasmVariant('wasm-no-relaxed', { threads: 2, relaxed: false });
const WASMS = [WASM, WASM_1T, WASM_SMALL_BLOCKS, WASM_NO_RELAXED];
const SEED = 7723;

type F = Float32Array | Float64Array;

interface Case {
  B: number;
  m: number;
  d: number;
  k: number;
  beta: number;
  z: F;
  g: F;
  W: F;
  /** optional mask, [m] or [B, m] (0/1 float32): z is replaced by where(mask, z, −∞) on the device */
  mask?: { data: Float32Array; shape: number[] };
}

/** The composite gsaeTopkIndices stands for, exactly as the brief (and sae/gsae.ts) writes it. */
const dense = (z: E.Tensor, g: E.Tensor, W: E.Tensor, k: number, beta: number): E.Tensor =>
  E.topkIndices(E.mul(z, E.add(1, E.mul(E.abs(E.matmul(g, W, false, true)), beta))), k);

type Outcome = { idx: number[]; shape: number[]; dtype: string } | { err: string };

/** Runs the primitive (`fast`) or the dense composite on `backend`: the indices or the error message. */
function outcome(c: Case, backend: string, fast: boolean): Outcome {
  const dtype = c.z instanceof Float64Array ? 'float64' : 'float32';
  try {
    const [r] = on(backend, () => {
      let z = E.tensor(c.z, [c.B, c.m], dtype);
      if (c.mask) z = E.where(E.tensor(c.mask.data, c.mask.shape), z, -Infinity);
      const g = E.tensor(c.g, [c.B, c.d], dtype);
      const W = E.tensor(c.W, [c.m, c.d], dtype);
      return (fast ? E.gsaeTopkIndices : dense)(z, g, W, c.k, c.beta);
    });
    return { idx: r!.data, shape: r!.shape, dtype: r!.dtype };
  } catch (e) {
    return { err: (e as Error).message };
  }
}

/** A short description of a case for failure messages (the data itself when it is small). */
function describeCase(c: Case): string {
  const small = c.z.length + c.g.length + c.W.length <= 400;
  const arr = (x: F | Float32Array | undefined) => (x ? `[${Array.from(x).join(', ')}]` : 'none');
  return (
    `B ${c.B}, m ${c.m}, d ${c.d}, k ${c.k}, β ${c.beta}` +
    (small ? `\n  z ${arr(c.z)}\n  g ${arr(c.g)}\n  W ${arr(c.W)}${c.mask ? `\n  mask [${c.mask.shape}] ${arr(c.mask.data)}` : ''}` : '')
  );
}

/**
 * The primitive equals the dense composite on `backend`: the same indices in the same order and
 * the same shape and dtype, or the same error message. Returns the dense outcome.
 */
function expectSame(c: Case, backend: string, what = ''): Outcome {
  const want = outcome(c, backend, false);
  const wasm = WASMS.includes(backend) ? (getBackend(backend) as WasmBackend) : null;
  const fellBack = () => wasm?.fallbacks.get('gsaeTopkIndices') ?? 0;
  const fb0 = fellBack();
  const got = outcome(c, backend, true);
  // the wasm kernel declines (to the reference kernel) only for a NaN in z
  if (!c.z.some(Number.isNaN)) expect(fellBack() - fb0, `${what} on ${backend}: gsaeTopkIndices fell back to the reference kernel`).toBe(0);
  const label = `${what} on ${backend}: ${describeCase(c)}`;
  if ('err' in want || 'err' in got) {
    expect('err' in got ? got.err : `no error, indices ${JSON.stringify(got)}`, `${label}\n  error`).toBe(
      'err' in want ? want.err : `no error, indices ${JSON.stringify(want)}`,
    );
  } else {
    expect(got.shape, `${label}\n  shape`).toEqual([c.B, c.k]);
    expect(got.dtype, `${label}\n  dtype`).toBe('int32');
    expect(got.idx, `${label}\n  indices`).toEqual(want.idx);
  }
  return want;
}

// ------------------------------------------------------------------ data

const normals = (n: number, rng: E.Rng, scale = 1): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * scale);

/** W with unit-norm rows (as the SAE keeps W_dec). */
function unitRows(m: number, d: number, rng: E.Rng): Float32Array {
  const W = normals(m * d, rng);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += W[i * d + t]! ** 2;
    const r = 1 / Math.sqrt(s || 1);
    for (let t = 0; t < d; t++) W[i * d + t]! *= r;
  }
  return W;
}

/** k biased towards the edges 0, 1, m and small values. */
const kArb = (m: number) => fc.oneof(fc.constantFrom(...new Set([0, Math.min(1, m), m])), fc.integer({ min: 0, max: m }), fc.integer({ min: 0, max: Math.min(m, 4) }));
// extremes: 1e-46 rounds to float32 0, 3e-39 to a subnormal, 1e39 to float32 +∞ (β·A = ∞: all mode)
const betaArb = fc.oneof(fc.constantFrom(0, 0.5, 1, 4), fc.double({ min: 0, max: 8, noNaN: true }), fc.constantFrom(1e-3, 100, 1e6, 1e30, 1e-30, 1e-46, 3e-39, 1e39));

/** Random normal data at various scales: g small makes the bound tight (few candidates), g large keeps all. */
const randomCaseArb = fc
  .record({
    B: fc.integer({ min: 1, max: 9 }),
    m: fc.integer({ min: 1, max: 70 }),
    d: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 3, 4, 15, 16, 17, 33, 40)),
    beta: betaArb,
    gScale: fc.constantFrom(1e-3, 1e-2, 0.1, 1, 10),
    zScale: fc.constantFrom(1, 1e-3, 100, 1e-40, 3e37), // 1e-40: subnormal z; 3e37: s overflows to ±∞
    wUnit: fc.boolean(),
    zKind: fc.constantFrom('normal', 'relu', 'positive', 'negative'),
    seed: fc.nat(),
  })
  .chain((r) => kArb(r.m).map((k) => ({ ...r, k })))
  .map((r): Case => {
    const rng = new E.Rng(r.seed);
    const z = normals(r.B * r.m, rng, r.zScale);
    // relu: many exact zeros (ties at s = 0); positive / negative: all z of one sign
    if (r.zKind === 'relu') z.forEach((v, i) => (z[i] = Math.max(v, 0)));
    if (r.zKind === 'positive') z.forEach((v, i) => (z[i] = Math.abs(v)));
    if (r.zKind === 'negative') z.forEach((v, i) => (z[i] = -Math.abs(v)));
    const g = normals(r.B * r.d, rng, r.gScale);
    const W = r.wUnit ? unitRows(r.m, r.d, rng) : normals(r.m * r.d, rng);
    return { B: r.B, m: r.m, d: r.d, k: r.k, beta: r.beta, z, g, W };
  });

/** Small integers and halves (and −0): products and sums are exact, so many scores tie exactly. */
const dyadic = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -6, max: 6 }).map((v) => v / 2), fc.constant(-0));
const tieCaseArb = fc
  .record({
    B: fc.integer({ min: 1, max: 6 }),
    m: fc.integer({ min: 1, max: 24 }),
    d: fc.integer({ min: 1, max: 20 }),
    beta: fc.constantFrom(0, 1, 0.5, 2),
    zOnly: fc.constantFrom(-1, 0, 1, 2), // z drawn from {c} ∪ dyadic: more ties when few values
  })
  .chain((r) =>
    fc.record({
      k: kArb(r.m),
      z: fc.array(r.zOnly === -1 ? dyadic : fc.oneof(fc.constant(r.zOnly), fc.constant(-r.zOnly), dyadic), { minLength: r.B * r.m, maxLength: r.B * r.m }),
      g: fc.array(dyadic, { minLength: r.B * r.d, maxLength: r.B * r.d }),
      W: fc.array(dyadic, { minLength: r.m * r.d, maxLength: r.m * r.d }),
    }).map((a): Case => ({ B: r.B, m: r.m, d: r.d, beta: r.beta, k: a.k, z: Float32Array.from(a.z), g: Float32Array.from(a.g), W: Float32Array.from(a.W) })),
  );

/**
 * Scores at the screen's edge. Each latent is "orthogonal" (W row ≈ 0: f = 1, s = z) or
 * "aligned" (W row parallel to some g_b: Cauchy–Schwarz tight, f close to the bound F), and z is
 * chosen so that both kinds score ≈ ±1: z ≥ 0: orthogonal z ≈ 1, aligned z ≈ 1/F; z < 0:
 * orthogonal z ≈ −1, aligned z ≈ −1/F. So U(z) of the latents outside the top k by z lands right
 * at τ (the screen's edge) and many scores tie or nearly tie with the k-th.
 */
const boundaryCaseArb = fc
  .record({
    B: fc.integer({ min: 1, max: 3 }),
    m: fc.integer({ min: 2, max: 60 }),
    d: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(4, 16, 17, 33)),
    beta: fc.constantFrom(0.5, 1, 4, 0.3),
    gScale: fc.constantFrom(1e-3, 1e-2, 0.1, 1),
    sign: fc.constantFrom(1, -1, 0), // 0: both signs
    aligned: fc.constantFrom(0.1, 0.5, 0.9),
    spread: fc.constantFrom(0, 2 ** -24, 1e-6, 1e-3),
    seed: fc.nat(),
  })
  .chain((r) => fc.integer({ min: 1, max: r.m }).map((k) => ({ ...r, k })))
  .map((r): Case => {
    const rng = new E.Rng(r.seed);
    const g = normals(r.B * r.d, rng, r.gScale);
    const W = new Float32Array(r.m * r.d);
    const isAligned = Array.from({ length: r.m }, () => rng.uniform() < r.aligned);
    for (let i = 0; i < r.m; i++) {
      const b = rng.int(r.B), c = [1, -1, 0.5, -0.75, rng.normal()][rng.int(5)]!;
      for (let t = 0; t < r.d; t++) {
        const noise = rng.uniform() < 0.2 ? 1e-3 * rng.normal() : 0;
        W[i * r.d + t] = isAligned[i] ? (c * g[b * r.d + t]!) / r.gScale + noise : noise;
      }
    }
    // F ≈ 1 + β·‖g_b‖·max_i ‖w_i‖, per row b
    const norm = (x: Float32Array, o: number) => Math.sqrt(Array.from(x.subarray(o, o + r.d)).reduce((acc, v) => acc + v * v, 0));
    let wmax = 0;
    for (let i = 0; i < r.m; i++) wmax = Math.max(wmax, norm(W, i * r.d));
    const z = new Float32Array(r.B * r.m);
    for (let b = 0; b < r.B; b++) {
      const F = 1 + r.beta * norm(g, b * r.d) * wmax;
      for (let i = 0; i < r.m; i++) {
        const sg = r.sign === 0 ? (rng.uniform() < 0.5 ? 1 : -1) : r.sign;
        const jitter = 1 + r.spread * (rng.uniform() * 2 - 1);
        z[b * r.m + i] = (sg * jitter) / (isAligned[i] ? F : 1);
      }
    }
    return { B: r.B, m: r.m, d: r.d, k: r.k, beta: r.beta, z, g, W };
  });

/** AuxK-style masks: where(mask, z, −∞), per latent [m] or per entry [B, m], alive fraction 0..1; some +∞ in z. */
const maskCaseArb = fc
  .record({
    B: fc.integer({ min: 1, max: 7 }),
    m: fc.integer({ min: 1, max: 60 }),
    d: fc.integer({ min: 1, max: 36 }),
    beta: fc.constantFrom(0, 0.5, 1, 4),
    alive: fc.constantFrom(0, 0.02, 0.1, 0.3, 0.7, 1),
    perRow: fc.boolean(),
    deadRows: fc.boolean(), // [B, m] masks: some rows entirely masked
    posInf: fc.constantFrom(0, 0, 0.05, 0.3),
    gScale: fc.constantFrom(1e-3, 1e-2, 1),
    seed: fc.nat(),
  })
  .chain((r) => kArb(r.m).map((k) => ({ ...r, k })))
  .map((r): Case => {
    const rng = new E.Rng(r.seed);
    const z = normals(r.B * r.m, rng);
    for (let i = 0; i < z.length; i++) if (rng.uniform() < r.posInf) z[i] = Infinity;
    const g = normals(r.B * r.d, rng, r.gScale);
    const W = unitRows(r.m, r.d, rng);
    const shape = r.perRow ? [r.B, r.m] : [r.m];
    const data = Float32Array.from({ length: r.perRow ? r.B * r.m : r.m }, () => (rng.uniform() < r.alive ? 1 : 0));
    if (r.perRow && r.deadRows) for (let b = 0; b < r.B; b += 2) data.fill(0, b * r.m, (b + 1) * r.m);
    return { B: r.B, m: r.m, d: r.d, k: r.k, beta: r.beta, z, g, W, mask: { data, shape } };
  });

/** Non-finite g or W, or values whose products overflow: the bound is not finite, rows run in all mode. */
const nonFiniteCaseArb = fc
  .record({
    B: fc.integer({ min: 1, max: 6 }),
    m: fc.integer({ min: 1, max: 40 }),
    d: fc.integer({ min: 1, max: 36 }),
    beta: fc.constantFrom(0, 0.5, 1, 4),
    kind: fc.constantFrom('g-inf', 'g-neginf', 'g-nan', 'w-inf', 'w-nan', 'g-inf-two', 'overflow', 'near-overflow', 'tiny'),
    zeros: fc.constantFrom(0, 0.3), // exact zeros in z (0·∞ = NaN) and in g / W (∞·0 = NaN inside a)
    zInf: fc.constantFrom(0, 0, 0.1), // ±∞ in z as well (∞·∞, −∞·NaN)
    seed: fc.nat(),
  })
  .chain((r) => kArb(r.m).map((k) => ({ ...r, k })))
  .map((r): Case => {
    const rng = new E.Rng(r.seed);
    const z = normals(r.B * r.m, rng);
    let g = normals(r.B * r.d, rng, 1e-2);
    let W = unitRows(r.m, r.d, rng);
    const zap = (x: Float32Array) => x.forEach((_, i) => rng.uniform() < r.zeros && (x[i] = 0));
    zap(z);
    zap(g);
    zap(W);
    z.forEach((_, i) => rng.uniform() < r.zInf && (z[i] = rng.uniform() < 0.5 ? Infinity : -Infinity));
    const at = (n: number) => rng.int(n);
    switch (r.kind) {
      case 'g-inf': g[at(g.length)] = Infinity; break;
      case 'g-neginf': g[at(g.length)] = -Infinity; break;
      case 'g-nan': g[at(g.length)] = NaN; break;
      case 'w-inf': W[at(W.length)] = Infinity; break;
      case 'w-nan': W[at(W.length)] = NaN; break;
      case 'g-inf-two': g[at(g.length)] = Infinity; g[at(g.length)] = -Infinity; break;
      // |a| overflows float32 for most latents
      case 'overflow': g = normals(r.B * r.d, rng, 1e20); W = normals(r.m * r.d, rng, 1e20); break;
      // |a| near the float32 maximum: the bound overflows, a itself mostly not
      case 'near-overflow': g = normals(r.B * r.d, rng, 1e19 / Math.sqrt(r.d)); W = unitRows(r.m, r.d, rng).map((v) => v * 1e19); break;
      // products underflow to subnormals / zero
      case 'tiny': g = normals(r.B * r.d, rng, 1e-25); W = normals(r.m * r.d, rng, 1e-18); break;
    }
    return { B: r.B, m: r.m, d: r.d, k: r.k, beta: r.beta, z, g, W };
  });

// ------------------------------------------------------------------ tests

/** A property over `arb`'s cases: on every wasm variant, the primitive equals the dense composite. */
function wasmProperty(title: string, arb: fc.Arbitrary<Case>, label: string, numRuns: number, seed: number): void {
  it(title, () => {
    fc.assert(
      fc.property(arb, (c) => {
        for (const be of WASMS) expectSame(c, be, label);
      }),
      { numRuns, seed },
    );
  });
}

describe('gsaeTopkIndices equals the dense composite on the same backend (wasm)', () => {
  afterAll(() => setBackend(REF));

  wasmProperty('random shapes and scales: B 1..9, d 1..40 (tails, several K-blocks), m 1..70, k 0..m, β ∈ {0, ½, 1, 4, random} (property)', randomCaseArb, 'random', 150, SEED);

  wasmProperty('tie-heavy dyadic data (integers −3..3, halves, −0): every exact tie goes to the lower index (property)', tieCaseArb, 'ties', 120, SEED + 1);

  wasmProperty('scores at the screen\'s edge: W rows parallel to g, z around z_(k)/F (property)', boundaryCaseArb, 'boundary', 120, SEED + 5);

  it('worked tie examples: β = 0 (s = z), constant z, all-zero g', () => {
    const B = 3, m = 9, d = 5;
    const z = Float32Array.from({ length: B * m }, (_, i) => [1, 2, 2, -1, 0, 2, 1, -0, 2][i % m]!);
    const g = Float32Array.from({ length: B * d }, (_, i) => (i % 3) - 1);
    const W = Float32Array.from({ length: m * d }, (_, i) => ((i * 7) % 5) - 2);
    for (const be of WASMS) {
      for (const k of [0, 1, 3, 5, 9]) {
        for (const beta of [0, 1, 4]) {
          expectSame({ B, m, d, k, beta, z, g, W }, be, 'worked');
          expectSame({ B, m, d, k, beta, z: new Float32Array(B * m).fill(1), g, W }, be, 'constant z');
          expectSame({ B, m, d, k, beta, z, g: new Float32Array(B * d), W }, be, 'zero g');
        }
      }
      // β = 0: s = z exactly, so the answer is topkIndices(z)
      const [r] = on(be, () => E.gsaeTopkIndices(E.tensor(z, [B, m]), E.tensor(g, [B, d]), E.tensor(W, [m, d]), 4, 0));
      expect(r!.data.slice(0, 4)).toEqual([1, 2, 5, 8]);
    }
  });

  wasmProperty('−∞ masks as AuxK builds them (fewer alive than k, all-masked rows) and +∞ in z (property)', maskCaseArb, 'mask', 100, SEED + 2);

  it('masks: worked cases (all masked, one alive with k > 1, alive only at the end)', () => {
    const rng = new E.Rng(99);
    const B = 4, m = 37, d = 19;
    const z = normals(B * m, rng), g = normals(B * d, rng, 1e-2), W = unitRows(m, d, rng);
    const masks: Float32Array[] = [new Float32Array(m), Float32Array.from({ length: m }, (_, i) => (i === 20 ? 1 : 0)), Float32Array.from({ length: m }, (_, i) => (i >= m - 3 ? 1 : 0))];
    for (const be of WASMS) {
      for (const data of masks) {
        for (const k of [0, 1, 2, 5, m]) expectSame({ B, m, d, k, beta: 1, z, g, W, mask: { data, shape: [m] } }, be, 'mask worked');
      }
    }
    // all masked: every score is −∞, the answer is 0..k−1
    const [r] = on(WASM, () => E.gsaeTopkIndices(E.where(E.tensor(new Float32Array(m), [m]), E.tensor(z, [B, m]), -Infinity), E.tensor(g, [B, d]), E.tensor(W, [m, d]), 3, 1));
    expect(r!.data).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
  });

  wasmProperty('non-finite g or W, overflow and underflow: same indices or the same error as dense (property)', nonFiniteCaseArb, 'non-finite', 120, SEED + 3);

  it('non-finite: worked cases (Inf in one row of g, NaN in g, Inf in W, 0·∞ in the score)', () => {
    const rng = new E.Rng(5);
    const B = 5, m = 23, d = 18;
    const base = () => ({ z: normals(B * m, rng), g: normals(B * d, rng, 1e-2), W: unitRows(m, d, rng) });
    const cases: Array<[string, (c: Case) => void]> = [
      ['Inf in g row 2', (c) => ((c.g as Float32Array)[2 * d + 7] = Infinity)],
      ['NaN in g row 3', (c) => ((c.g as Float32Array)[3 * d + 1] = NaN)],
      ['Inf in W row 11', (c) => ((c.W as Float32Array)[11 * d + 17] = Infinity)],
      ['NaN in W row 0 (rows after it finite)', (c) => ((c.W as Float32Array)[0 * d + 4] = NaN)],
      ['NaN in W row 12', (c) => ((c.W as Float32Array)[12 * d + 4] = NaN)],
      ['NaN in W, last row', (c) => ((c.W as Float32Array)[(m - 1) * d] = NaN)],
      ['NaN and Inf in W', (c) => {
        (c.W as Float32Array)[3 * d] = NaN;
        (c.W as Float32Array)[5 * d] = Infinity;
      }],
      ['Inf in g row 1 and z = 0 there', (c) => {
        (c.g as Float32Array)[1 * d] = Infinity;
        (c.z as Float32Array)[1 * m + 9] = 0;
      }],
      ['-Inf in g row 4, z −∞ in that row', (c) => {
        (c.g as Float32Array)[4 * d + 3] = -Infinity;
        (c.z as Float32Array)[4 * m + 5] = -Infinity;
      }],
    ];
    let errors = 0;
    for (const [what, edit] of cases) {
      for (const beta of [0, 1]) {
        for (const k of [0, 1, 4, m]) {
          const c: Case = { B, m, d, k, beta, ...base() };
          edit(c);
          for (const be of WASMS) if ('err' in expectSame(c, be, what)) errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(0); // some cases do reach the NaN error (NaN in g, 0·∞, β = 0 with |a| = ∞)
  });

  it('NaN in z: the same error message as the dense path (the wasm kernel declines to the reference kernel)', () => {
    const rng = new E.Rng(11);
    const B = 3, m = 13, d = 6;
    const z = normals(B * m, rng), g = normals(B * d, rng), W = normals(m * d, rng);
    z[1 * m + 4] = NaN;
    for (const be of WASMS) {
      for (const k of [0, 1, 13]) {
        const want = outcome({ B, m, d, k, beta: 1, z, g, W }, be, false);
        expect(want).toEqual({ err: 'topk: input row 1 contains NaN at position 4 (NaN cannot be ranked)' });
        expectSame({ B, m, d, k, beta: 1, z, g, W }, be, 'NaN in z');
      }
    }
  });

  it('the benchmark scale: B 64, d 256, m 4096, k 32, β 1, and d 768, m 2048, B 8 (W rows unit norm, g ~ 1e-2·N(0, 1))', () => {
    for (const [B, d, m, k, seed] of [[64, 256, 4096, 32, 1], [8, 768, 2048, 32, 2]] as const) {
      const rng = new E.Rng(seed);
      const z = normals(B * m, rng), g = normals(B * d, rng, 1e-2), W = unitRows(m, d, rng);
      for (const be of WASMS) expectSame({ B, m, d, k, beta: 1, z, g, W }, be, `benchmark B ${B} d ${d} m ${m}`);
      // AuxK's call: dead latents only (about 1 in 8), k_aux larger than k
      const mask = { data: Float32Array.from({ length: m }, () => (rng.uniform() < 0.125 ? 1 : 0)), shape: [m] };
      expectSame({ B, m, d, k: 256, beta: 1, z, g, W, mask }, WASM, `benchmark AuxK B ${B} d ${d} m ${m}`);
      // a larger g: the screen keeps many more latents
      expectSame({ B, m, d, k, beta: 4, z, g: g.map((v) => v * 100), W }, WASM, `benchmark large g B ${B} d ${d} m ${m}`);
    }
  });

  it('rows split over two threads (B·m ≥ 2¹⁶): β not an integer, masks, d > KC, and NaN / ∞ in rows of either thread', () => {
    // B 24, m 3000: the 2-thread variants split the rows 12 / 12 (the 1-thread one does not)
    const B = 24, m = 3000, d = 20;
    const rng = new E.Rng(77);
    const z = normals(B * m, rng), g = normals(B * d, rng, 1e-2), W = unitRows(m, d, rng);
    const edit = (base: Float32Array, at: Array<[number, number]>) => {
      const x = base.slice();
      for (const [i, v] of at) x[i] = v;
      return x;
    };
    const cases: Array<[string, Partial<Case>]> = [
      ['plain, β 0.37', { beta: 0.37 }],
      ['large g, β 2.5', { beta: 2.5, g: g.map((v) => v * 30) }],
      ['per-entry mask, half the rows dead', { mask: { data: Float32Array.from({ length: B * m }, (_, i) => (Math.floor(i / m) % 2 === 0 || rng.uniform() < 0.01 ? 0 : 1)), shape: [B, m] } }],
      ['+∞ in z rows 3 and 20', { z: edit(z, [[3 * m + 5, Infinity], [20 * m + 2999, Infinity]]) }],
      ['Inf in g row 17 (thread 1)', { g: edit(g, [[17 * d + 3, Infinity]]) }],
      ['NaN in g row 20 (thread 1)', { g: edit(g, [[20 * d + 3, NaN]]) }],
      ['NaN in g rows 5 and 20', { g: edit(g, [[5 * d, NaN], [20 * d + 3, NaN]]) }],
      ['Inf in g row 2, z = 0 there', { g: edit(g, [[2 * d + 1, Infinity]]), z: edit(z, [[2 * m + 1234, 0]]) }],
      ['NaN in z row 19 (thread 1)', { z: edit(z, [[19 * m + 7, NaN]]) }],
      ['NaN in z row 19, NaN in g row 3', { z: edit(z, [[19 * m + 7, NaN]]), g: edit(g, [[3 * d, NaN]]) }],
      ['NaN in z row 3, NaN in g row 19', { z: edit(z, [[3 * m + 7, NaN]]), g: edit(g, [[19 * d, NaN]]) }],
      ['Inf in W row 1500', { W: edit(W, [[1500 * d + 2, Infinity]]) }],
    ];
    for (const [what, over] of cases) {
      for (const be of WASMS) expectSame({ B, m, d, k: 32, beta: 1, z, g, W, ...over }, be, `2 threads: ${what}`);
    }
    // d = 301 > the default KC of 256: two K-blocks on the default variants
    const d2 = 301, B2 = 22;
    const g2 = normals(B2 * d2, rng, 1e-2), W2 = unitRows(m, d2, rng), z2 = normals(B2 * m, rng);
    for (const be of WASMS) expectSame({ B: B2, m, d: d2, k: 17, beta: 0.8, z: z2, g: g2, W: W2 }, be, '2 threads, d 301');
  });
});

describe('gsaeTopkIndices on the reference backend', () => {
  it('equals the dense composite, float32 and float64 (property)', () => {
    fc.assert(
      fc.property(fc.oneof(randomCaseArb, tieCaseArb, boundaryCaseArb, maskCaseArb, nonFiniteCaseArb), fc.boolean(), (c, f64) => {
        const cc = f64 ? { ...c, z: Float64Array.from(c.z), g: Float64Array.from(c.g), W: Float64Array.from(c.W) } : c;
        expectSame(cc, REF, f64 ? 'float64' : 'float32');
      }),
      { numRuns: 120, seed: SEED + 4 },
    );
  });
});

describe('gsaeTopkIndices: bad input', () => {
  const T = (shape: number[], dtype: E.DType = 'float32') => E.zeros(shape, dtype);
  const call = (be: string, z: number[], g: number[], W: number[], k: number, beta: number, dt: [E.DType?, E.DType?, E.DType?] = []) => () =>
    on(be, () => E.gsaeTopkIndices(T(z, dt[0]), T(g, dt[1]), T(W, dt[2]), k, beta));

  for (const be of [REF, WASM]) {
    it(`${be}: shapes that disagree, k outside [0, m], bad β, int32 or mixed dtypes`, () => {
      const shape: Array<[number[], number[], number[], RegExp]> = [
        [[2, 5], [3, 4], [5, 4], /gsaeTopkIndices: shapes disagree.*z \[2, ?5\], g \[3, ?4\], W \[5, ?4\]/],
        [[2, 5], [2, 4], [6, 4], /gsaeTopkIndices: shapes disagree/],
        [[2, 5], [2, 4], [5, 3], /gsaeTopkIndices: shapes disagree/],
        [[5], [2, 4], [5, 4], /gsaeTopkIndices: .*must be matrices/],
        [[1, 2, 5], [2, 4], [5, 4], /gsaeTopkIndices: .*must be matrices/],
        [[2, 5], [4], [5, 4], /gsaeTopkIndices: .*must be matrices/],
      ];
      for (const [z, g, W, msg] of shape) {
        expect(call(be, z, g, W, 1, 1)).toThrow(ShapeError);
        expect(call(be, z, g, W, 1, 1)).toThrow(msg);
      }
      for (const k of [6, -1, 1.5, NaN]) {
        expect(call(be, [2, 5], [2, 4], [5, 4], k, 1)).toThrow(ShapeError);
        expect(call(be, [2, 5], [2, 4], [5, 4], k, 1)).toThrow(/gsaeTopkIndices: k = .* must be an integer in \[0, 5\]/);
      }
      for (const beta of [-1, -1e-30, NaN, Infinity, -Infinity]) {
        expect(call(be, [2, 5], [2, 4], [5, 4], 2, beta)).toThrow(/gsaeTopkIndices: β = .* must be a finite number ≥ 0/);
      }
      expect(call(be, [2, 5], [2, 4], [5, 4], 2, -0)).not.toThrow(); // −0 ≥ 0
      for (const dt of [['int32'], [undefined, 'int32'], [undefined, undefined, 'int32']] as Array<[E.DType?, E.DType?, E.DType?]>) {
        expect(call(be, [2, 5], [2, 4], [5, 4], 2, 1, dt)).toThrow(DTypeError);
        expect(call(be, [2, 5], [2, 4], [5, 4], 2, 1, dt)).toThrow(/gsaeTopkIndices: (z|g|W) must be float32 or float64, got int32/);
      }
      if (be === REF) {
        // mixed float dtypes (wasm holds no float64 tensors)
        expect(call(be, [2, 5], [2, 4], [5, 4], 2, 1, ['float32', 'float64'])).toThrow(/gsaeTopkIndices: z, g and W must share one dtype/);
      }
    });
  }

  it('empty shapes: B = 0, m = 0 (k = 0), d = 0 agree with dense', () => {
    const e = new Float32Array(0);
    for (const be of WASMS) {
      expectSame({ B: 0, m: 5, d: 3, k: 2, beta: 1, z: e, g: e, W: new Float32Array(15).fill(1) }, be, 'B = 0');
      expectSame({ B: 3, m: 0, d: 3, k: 0, beta: 1, z: e, g: new Float32Array(9).fill(1), W: e }, be, 'm = 0');
      expectSame({ B: 2, m: 5, d: 0, k: 3, beta: 1, z: Float32Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 3]), g: e, W: e }, be, 'd = 0');
    }
  });
});

describe('gsaeTopkIndices: memory', () => {
  it('no leaked tensors or buffers on wasm (results, NaN errors and the reference decline included)', () => {
    const be = getBackend(WASM) as WasmBackend;
    const rng = new E.Rng(3);
    const B = 8, m = 300, d = 40;
    const z = normals(B * m, rng), g = normals(B * d, rng, 1e-2), W = unitRows(m, d, rng);
    const zNaN = z.slice();
    zNaN[5] = NaN;
    const gNaN = g.slice();
    gNaN[3] = NaN;
    const step = () => {
      outcome({ B, m, d, k: 16, beta: 1, z, g, W }, WASM, true);
      outcome({ B, m, d, k: 16, beta: 1, z: zNaN, g, W }, WASM, true); // declines, throws from the reference kernel
      outcome({ B, m, d, k: 16, beta: 1, z, g: gNaN, W }, WASM, true); // all mode, throws from the wasm kernel
      outcome({ B, m, d, k: 16, beta: 1, z, g, W, mask: { data: new Float32Array(m), shape: [m] } }, WASM, true);
    };
    step();
    setBackend(WASM);
    try {
      const before = E.memory();
      const heapBefore = be.memory().heapBytes;
      for (let i = 0; i < 3; i++) step();
      const after = E.memory();
      expect(after.tensors).toBe(before.tensors);
      expect(after.bytes).toBe(before.bytes);
      expect(after.backend.buffers).toBe(before.backend.buffers);
      expect(after.backend.bytes).toBe(before.backend.bytes);
      expect(be.memory().heapBytes).toBe(heapBefore);
    } finally {
      setBackend(REF);
    }
  });
});
