/**
 * Registers the 'wasm' backend (priority 10: the default where it can start). If this engine
 * lacks WebAssembly SIMD or shared memory, `create` throws a BackendError saying which, and the
 * engine falls back to the reference backend (`gsae backends` shows the reason).
 *
 * Environment: GSAE_WASM_THREADS (threads incl. the main one), GSAE_WASM_RELAXED=0 (no fused
 * multiply-add), GSAE_WASM_MAX_MB (heap limit, default 4096).
 */
import { BackendError } from '../../errors.js';
import { registerBackend } from '../../engine.js';
import { WasmBackend, type WasmOptions } from './backend.js';
import { missingFeature } from './features.js';

export { WasmBackend, type WasmOptions } from './backend.js';

function intEnv(name: string, min: number): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new BackendError(`${name}=${v} must be an integer >= ${min}`);
  return n;
}

/** Options from the environment (errors name the variable). */
export function wasmOptionsFromEnv(): WasmOptions {
  return {
    threads: intEnv('GSAE_WASM_THREADS', 1),
    maxMiB: intEnv('GSAE_WASM_MAX_MB', 64),
    relaxed: process.env.GSAE_WASM_RELAXED !== '0',
  };
}

/** A wasm backend, or a BackendError saying which required feature this engine lacks. */
export function createWasmBackend(opts: WasmOptions = wasmOptionsFromEnv(), probe: () => string | null = missingFeature): WasmBackend {
  const why = probe();
  if (why) throw new BackendError(why);
  return new WasmBackend(opts);
}

registerBackend({ name: 'wasm', priority: 10, create: () => createWasmBackend() });
