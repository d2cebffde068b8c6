/**
 * The part of the WebAssembly JavaScript API this backend uses, typed here because the project's
 * `lib` (ES2023, no DOM) has no WebAssembly declarations; kept module-scoped rather than a global
 * declaration so it cannot clash with anyone else's.
 */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(deltaPages: number): number;
}
/** A compiled module (opaque; transferable to workers). */
export interface WasmModule {
  readonly __wasmModule?: never;
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
export interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (m: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
}

/** The engine's WebAssembly object, or undefined where there is none. */
export const webAssembly: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The WebAssembly object; throws where there is none (callers check `missingFeature` first). */
export function wasmApi(): WasmApi {
  if (!webAssembly) throw new Error('WebAssembly is not available in this JavaScript engine');
  return webAssembly;
}
