/**
 * What this JavaScript engine offers the wasm backend: SIMD128 (required), shared memory and
 * worker threads (required for the shared heap; threads are optional at run time), and relaxed
 * SIMD's fused multiply-add (optional, used when it validates).
 */
import { createRequire } from 'node:module';
import { f32x4, get, encodeModule, ModuleBuilder } from './encoder.js';
import { webAssembly } from './wasm_api.js';

const probeMem = { initial: 1, maximum: 1, shared: true };

function probe(build: (mb: ModuleBuilder) => void): boolean {
  try {
    const mb = new ModuleBuilder();
    build(mb);
    return webAssembly?.validate(encodeModule(probeMem, mb.funcs)) ?? false;
  } catch {
    return false;
  }
}

const simdProbe = () => probe((mb) => mb.func('f', ['v128', 'v128'], ['v128']).emit(f32x4.add(get(0), get(1))));
const relaxedProbe = () => probe((mb) => mb.func('f', ['v128', 'v128', 'v128'], ['v128']).emit(f32x4.relaxed_madd(get(0), get(1), get(2))));

let relaxedCache: boolean | undefined;

/**
 * True when `f32x4.relaxed_madd` validates. On Node 20 it sits behind
 * `--experimental-wasm-relaxed-simd` (on by default from Node 22); if the probe fails we set that
 * one flag, which takes effect for modules compiled afterwards (measured on Node 20.20), and probe
 * again. `GSAE_WASM_RELAXED=0` turns the use of relaxed SIMD off.
 */
export function hasRelaxedSimd(): boolean {
  if (relaxedCache !== undefined) return relaxedCache;
  if (process.env.GSAE_WASM_RELAXED === '0') return (relaxedCache = false);
  let ok = relaxedProbe();
  if (!ok) {
    try {
      const v8 = createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      ok = relaxedProbe();
    } catch {
      ok = false;
    }
  }
  return (relaxedCache = ok);
}

/** Why the wasm backend cannot run here, or null when it can. */
export function missingFeature(): string | null {
  if (!webAssembly) return 'WebAssembly is not available in this JavaScript engine';
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available (needed for the shared wasm heap)';
  if (typeof Atomics === 'undefined') return 'Atomics is not available (needed to synchronise worker threads)';
  if (!simdProbe()) return 'WebAssembly SIMD128 is not supported by this engine';
  try {
    new webAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    return `shared WebAssembly.Memory cannot be created: ${(e as Error).message}`;
  }
  return null;
}
