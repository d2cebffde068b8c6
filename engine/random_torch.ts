/**
 * PyTorch's CPU random generator, draw for draw: `torch.manual_seed(s)` followed by the same calls
 * gives the same numbers here. Used to reproduce a PyTorch run's random choices exactly (nanoGPT's
 * initial weights and batch order: `lm train --rng torch`), as llm.c's rand.h does; the project's
 * own generator (`Rng`, xoshiro128**) stays the default everywhere else.
 *
 * What is reproduced (ATen, CPUGeneratorImpl + DistributionTemplates, PyTorch 1.x–2.x):
 * - the engine: 32-bit Mersenne Twister MT19937 seeded by init_genrand with the seed's low 32 bits;
 * - `random()`: one MT output; `random64()`: (first << 32) | second;
 * - float32 `uniform_(a, b)`: ((random() & (2^24 − 1)) · 2^−24) · (b − a) + a, one draw an element,
 *   serially (torch.rand, nn.init.uniform_, kaiming_uniform_), the product in double;
 * - float32 `normal_(mean, std)` of a contiguous tensor of 16+ elements: all elements filled with
 *   uniforms first, then Box–Muller over blocks of 16 (u1 = 1 − x[j], u2 = x[j+8] → x[j] = r·cos θ,
 *   x[j+8] = r·sin θ), the last 16 recomputed from fresh uniforms when the size is not a multiple
 *   of 16 (`normal_fill`). PyTorch computes log/sin/cos in float (std:: or SLEEF, both within an ulp
 *   or so); here they are computed in double and rounded, so values can differ in the last bit;
 * - `randint(low, high)` for int64 results: (random() mod range) + low when range < 2^32, else
 *   random64() mod range.
 * Smaller normal_ calls (< 16 elements) use PyTorch's double Box–Muller path; they are not needed
 * here and throw rather than silently differ.
 */
import { RngError } from './random.js';

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_NEG_24 = 2 ** -24;

export class TorchGenerator {
  private mt = new Uint32Array(N);
  private mti = N;
  readonly seed: number;

  /** torch.manual_seed(seed): any non-negative safe integer; only its low 32 bits seed MT19937. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RngError(`TorchGenerator: seed must be a non-negative safe integer, got ${seed}`);
    this.seed = seed;
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      // 1812433253 · prev + i mod 2^32 (Math.imul keeps the low 32 bits exactly)
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.mti = N;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i]! & UPPER) | (mt[(i + 1) % N]! & LOWER);
      mt[i] = mt[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.mti = 0;
  }

  /** The next 32-bit output, unsigned (PyTorch's `generator->random()`). */
  random(): number {
    if (this.mti >= N) this.twist();
    let y = this.mt[this.mti++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Float32 uniform in [0, 1) from 24 bits of one draw. */
  private uniform24(): number {
    return (this.random() & 0xffffff) * TWO_POW_NEG_24;
  }

  /** `torch.empty(n).uniform_(from, to)` (float32). */
  uniform(n: number, from = 0, to = 1): Float32Array {
    checkCount('uniform', n);
    const out = new Float32Array(n);
    const lo = Math.fround(from);
    const w = Math.fround(Math.fround(to) - lo);
    // ATen: x · (to − from) + from in double (x = 24-bit uniform, to − from in float), rounded once.
    for (let i = 0; i < n; i++) out[i] = Math.fround(this.uniform24() * w + lo);
    return out;
  }

  /** Advances the stream as `uniform_` on n float32 elements would, without keeping the values. */
  skipUniform(n: number): void {
    checkCount('skipUniform', n);
    for (let i = 0; i < n; i++) this.random();
  }

  /** `torch.empty(n).normal_(mean, std)` (float32, contiguous, n ≥ 16: PyTorch's normal_fill). */
  normal(n: number, mean = 0, std = 1): Float32Array {
    checkCount('normal', n);
    if (n < 16) throw new RngError(`TorchGenerator.normal: fewer than 16 elements (${n}) take PyTorch's double path, which is not reproduced`);
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = this.uniform24();
    for (let i = 0; i + 16 <= n; i += 16) boxMuller16(d, i, mean, std);
    if (n % 16 !== 0) {
      for (let i = n - 16; i < n; i++) d[i] = this.uniform24();
      boxMuller16(d, n - 16, mean, std);
    }
    return d;
  }

  /** `torch.randint(low, high, (n,))` with int64 results (values returned as numbers). */
  randint(n: number, low: number, high: number): number[] {
    checkCount('randint', n);
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || high <= low) throw new RngError(`TorchGenerator.randint: need integers low < high, got [${low}, ${high})`);
    const range = high - low;
    const out: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      if (range < TWO_POW_32) out[i] = (this.random() % range) + low;
      else {
        const hi = this.random();
        const lo = this.random();
        out[i] = Number(((BigInt(hi) << 32n) | BigInt(lo)) % BigInt(range)) + low;
      }
    }
    return out;
  }

  /** The whole state (624 words, then the position), for checkpoints. */
  getState(): number[] {
    return [...this.mt, this.mti];
  }

  setState(s: number[]): void {
    const ok = Array.isArray(s) && s.length === N + 1 && s.slice(0, N).every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
      Number.isInteger(s[N]) && s[N]! >= 0 && s[N]! <= N;
    if (!ok) throw new RngError(`TorchGenerator.setState: expected 624 uint32 words and a position in [0, 624] as from getState()`);
    this.mt.set(s.slice(0, N));
    this.mti = s[N]!;
  }
}

function checkCount(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RngError(`TorchGenerator.${op}: count must be a non-negative integer, got ${n}`);
}

/** PyTorch's normal_fill_16 on d[at .. at+16), in float32 like the original. */
function boxMuller16(d: Float32Array, at: number, mean: number, std: number): void {
  const f = Math.fround;
  const m = f(mean);
  const s = f(std);
  for (let j = 0; j < 8; j++) {
    const u1 = f(1 - d[at + j]!);
    const u2 = d[at + j + 8]!;
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(2 * Math.PI * u2);
    d[at + j] = f(f(f(radius * f(Math.cos(theta))) * s) + m);
    d[at + j + 8] = f(f(f(radius * f(Math.sin(theta))) * s) + m);
  }
}
