/**
 * The seeded random number generator. One seed fixes every random choice of a run: parameter
 * initialisation, data order, sampling. Streams for separate purposes come from `fork(label)`, so
 * adding draws to one purpose never shifts another.
 *
 * Generator: xoshiro128** 1.0 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c),
 * 128-bit state, period 2^128 - 1, 32-bit outputs. Seeds and fork labels are hashed into the
 * state with murmur3's finaliser (the splitmix32 mixer); the forbidden all-zero state is avoided.
 */
import type { DType } from './dtype.js';
import { DTypeError, GsaeError, fmtShape } from './errors.js';
import { tensor } from './create_host.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import type { Tensor } from './tensor.js';

/** A bad seed, state or argument given to the generator. */
export class RngError extends GsaeError {}

const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;

/** murmur3's 32-bit finaliser: a bijection on uint32 with full avalanche. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * 128 bits of generator state from a list of 32-bit words: four lanes, each a chain of fmix32 over
 * the words started from its own splitmix32 (golden-ratio Weyl) constant. Each lane is a bijection
 * of the first word for fixed later words, so seeds that differ only there never collide.
 */
function deriveState(words: readonly number[]): number[] {
  const lanes: number[] = [];
  for (let lane = 1; lane <= 4; lane++) {
    let x = fmix32(Math.imul(lane, 0x9e3779b9));
    for (const w of words) x = fmix32((x ^ w) + 0x7f4a7c15);
    lanes.push(x);
  }
  return lanes;
}

/** FNV-1a over the UTF-8 bytes of the label's type and text (so fork(1) and fork('1') differ). */
function hashLabel(label: string | number): number {
  const text = `${typeof label}:${String(label)}`;
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193);
  return fmix32(h);
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** normal() makes values in pairs; the second waits here (part of the saved state). */
  private hasSpare = false;
  private spare = 0; // always a number: a field that flips between undefined and double deoptimises

  /** `seed`: any safe integer (negative ones too); the same seed gives the same stream everywhere. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RngError(`Rng: seed must be a safe integer, got ${seed}`);
    // Both 32-bit halves of the (up to 53-bit, possibly negative) seed go into the state.
    this.seedWords(deriveState([seed >>> 0, Math.floor(seed / TWO_POW_32) >>> 0]));
  }

  private seedWords(w: readonly number[]): void {
    [this.s0, this.s1, this.s2, this.s3] = w.map((v) => v | 0) as [number, number, number, number];
    // The all-zero state is a fixed point of xoshiro; move off it deterministically.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9 | 0;
    this.hasSpare = false;
    this.spare = 0;
  }

  /** The next raw 32-bit output as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (two outputs). */
  uniform(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / TWO_POW_53;
  }

  /**
   * Standard normal, by Marsaglia's polar method (Box–Muller without trigonometry, about twice
   * as fast here); each accepted pair yields two independent normals, the second kept for the next call.
   */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * m;
    this.hasSpare = true;
    return u * m;
  }

  /** Uniform integer in [0, n), exactly unbiased (rejection sampling); n up to 2^53. */
  int(n: number): number {
    if (!Number.isSafeInteger(n) && n !== TWO_POW_53) throw new RngError(`Rng.int: n must be a positive integer, got ${n}`);
    if (n <= 0) throw new RngError(`Rng.int: n must be a positive integer, got ${n}`);
    if (n <= TWO_POW_32) {
      // Accept x below the largest multiple of n that fits in 32 bits.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const x = this.nextUint32();
        if (x < limit) return x % n;
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    for (;;) {
      const x = (this.nextUint32() >>> 11) * TWO_POW_32 + this.nextUint32(); // 53 bits
      if (x < limit) return x % n;
    }
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) throw new RngError(`Rng.permutation: n must be an integer in [0, 2^31), got ${n}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffleInPlace(p);
  }

  /** Shuffles `a` in place (Fisher–Yates) and returns it. */
  shuffle<T>(a: T[]): T[] {
    return this.shuffleInPlace(a);
  }

  private shuffleInPlace<A extends { length: number; [i: number]: unknown }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /**
   * An independent child stream named by `label`, derived from this generator's current state
   * without advancing it: the same parent state and label always give the same child, different
   * labels give unrelated streams.
   */
  fork(label: string | number): Rng {
    if (typeof label !== 'string' && !Number.isFinite(label)) throw new RngError(`Rng.fork: label must be a string or finite number, got ${label}`);
    const child = Object.create(Rng.prototype) as Rng;
    child.seedWords(deriveState([hashLabel(label), this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0]));
    return child;
  }

  /** The full state: four uint32 words, then 1/0 for a pending normal and its value. */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0, this.hasSpare ? 1 : 0, this.hasSpare ? this.spare : 0];
  }

  /** Restores a state from `getState()`; the stream continues exactly where it was saved. */
  setState(s: number[]): void {
    const ok = Array.isArray(s) && s.length === 6 &&
      s.slice(0, 4).every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
      (s[4] === 0 || s[4] === 1) && typeof s[5] === 'number' && Number.isFinite(s[5]) &&
      (s[0]! | s[1]! | s[2]! | s[3]!) !== 0;
    if (!ok) throw new RngError(`Rng.setState: expected [4 uint32 words (not all 0), 0|1, finite number] as from getState(), got ${JSON.stringify(s)}`);
    [this.s0, this.s1, this.s2, this.s3] = s.slice(0, 4).map((w) => w | 0) as [number, number, number, number];
    this.hasSpare = s[4] === 1;
    this.spare = this.hasSpare ? s[5]! : 0;
  }
}

function floatArray(op: string, shape: Shape, dtype: DType): Float32Array | Float64Array {
  checkShape(op, shape);
  if (dtype === 'float32') return new Float32Array(sizeOf(shape));
  if (dtype === 'float64') return new Float64Array(sizeOf(shape));
  throw new DTypeError(`${op}: dtype must be float32 or float64, got ${dtype} (use randint for integers)`);
}

/** Normal(0, std^2) samples of the given shape. */
export function randn(shape: Shape, rng: Rng, std = 1, dtype: DType = 'float32'): Tensor {
  if (!Number.isFinite(std) || std < 0) throw new RngError(`randn: std must be a finite non-negative number, got ${std}`);
  const a = floatArray('randn', shape, dtype);
  for (let i = 0; i < a.length; i++) a[i] = std * rng.normal();
  return tensor(a, shape, dtype);
}

/** Uniform samples in [lo, hi) (all equal to lo when lo === hi). */
export function randu(shape: Shape, rng: Rng, lo = 0, hi = 1, dtype: DType = 'float32'): Tensor {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo <= hi)) throw new RngError(`randu: need finite lo <= hi, got lo=${lo} hi=${hi}`);
  const a = floatArray('randu', shape, dtype);
  const w = hi - lo;
  const round = dtype === 'float32' ? Math.fround : (v: number) => v;
  for (let i = 0; i < a.length; i++) {
    // Rounding (to float32, or of lo + w*u itself) can land exactly on hi; redraw to keep [lo, hi).
    let v = round(lo + w * rng.uniform());
    while (v >= hi && hi > lo) v = round(lo + w * rng.uniform());
    a[i] = v;
  }
  return tensor(a, shape, dtype);
}

/** Uniform int32 samples in [0, n). */
export function randint(shape: Shape, rng: Rng, n: number): Tensor {
  checkShape('randint', shape);
  if (!Number.isInteger(n) || n <= 0 || n > 2 ** 31) throw new RngError(`randint: n must be an integer in [1, 2^31], got ${n} (shape ${fmtShape(shape)})`);
  const a = new Int32Array(sizeOf(shape));
  for (let i = 0; i < a.length; i++) a[i] = rng.int(n);
  return tensor(a, shape, 'int32');
}
