/**
 * safetensors reading and writing (the format of Hugging Face checkpoints and of our own).
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of JSON header
 *   {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}
 * then the byte buffer; offsets are relative to the buffer start. Like the reference Rust/Python
 * library we require the tensors to tile the buffer exactly (no overlaps, no holes, no trailing
 * bytes), so a file we accept is one the Python library accepts too.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import type { DType } from '../dtype.js';
import { GsaeError, fmtShape } from '../errors.js';
import { tensor } from '../create_host.js';
import type { Tensor } from '../tensor.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';

/**
 * One tensor as stored. F16/BF16 are widened exactly to Float32Array, I64 narrowed to Int32Array
 * (an error if any value does not fit), F64 stays Float64Array.
 */
export interface StoredTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, StoredTensor>;
  metadata: Record<string, string>;
}

/** Arrays accepted by the writer; the stored dtype follows the array type. */
export type SafetensorsArray = Float32Array | Float64Array | Int32Array;
export type SafetensorsInput = Record<string, { shape: readonly number[]; data: SafetensorsArray }>;

/** A malformed safetensors file or an invalid tensor given to the writer. */
export class SafetensorsError extends GsaeError {}

const BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };
const SUPPORTED = Object.keys(BYTES) as SafetensorsDType[];
const METADATA_KEY = '__metadata__';
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Reading

export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail: (msg: string) => never = (msg) => {
    throw new SafetensorsError(`safetensors ${source}: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    fail(`header length ${n64} goes beyond the end of the file (${bytes.length - 8} bytes after the length field)`);
  }
  const n = Number(n64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) fail(`header must be a JSON object, got ${describe(header)}`);
  const buffer = bytes.subarray(8 + n);

  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(raw)) fail(`"${METADATA_KEY}" must be an object of strings, got ${describe(raw)}`);
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') fail(`"${METADATA_KEY}" value for key '${k}' must be a string, got ${describe(v)}`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    if (!isPlainObject(raw)) fail(`entry for tensor '${name}' must be an object, got ${describe(raw)}`);
    const dtype = raw.dtype;
    if (typeof dtype !== 'string') fail(`tensor '${name}' has no string "dtype" (got ${describe(dtype)})`);
    if (!isSupported(dtype)) fail(`tensor '${name}' has unsupported dtype '${dtype}' (supported: ${SUPPORTED.join(', ')})`);
    const shape = raw.shape;
    if (!isIndexArray(shape)) {
      fail(`tensor '${name}' has invalid "shape" ${JSON.stringify(shape)} (expected an array of non-negative integers)`);
    }
    const offs = raw.data_offsets;
    if (!isIndexArray(offs) || offs.length !== 2) {
      fail(`tensor '${name}' has invalid "data_offsets" ${JSON.stringify(offs)} (expected [begin, end] of non-negative integers)`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) fail(`tensor '${name}' has data_offsets [${begin}, ${end}] with end before begin`);
    const expected = shape.reduce((a, d) => a * d, 1) * BYTES[dtype];
    if (end - begin !== expected) {
      fail(`tensor '${name}' ${dtype} ${fmtShape(shape)} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.push({ name, dtype, shape: [...shape], begin, end });
  }

  // The tensors must tile [0, buffer length) exactly, in offset order (what the Rust library checks).
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of ordered) {
    if (t.begin < pos) fail(`tensor '${t.name}' data_offsets [${t.begin}, ${t.end}] overlap the previous tensor, which ends at ${pos}`);
    if (t.begin > pos) fail(`gap in the byte buffer: bytes [${pos}, ${t.begin}) before tensor '${t.name}' belong to no tensor`);
    pos = t.end;
  }
  if (pos > buffer.length) fail(`file is truncated: the header needs a ${pos}-byte buffer but only ${buffer.length} bytes follow it`);
  if (pos < buffer.length) fail(`${buffer.length - pos} trailing bytes after the last tensor (buffer is ${buffer.length} bytes, tensors end at ${pos})`);

  const tensors = new Map<string, StoredTensor>();
  for (const t of entries) {
    const raw = buffer.subarray(t.begin, t.end);
    tensors.set(t.name, { name: t.name, dtype: t.dtype, shape: t.shape, data: decode(raw, t.dtype, t.name, source) });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`safetensors ${path}: cannot read file (${(e as Error).message})`);
  }
  return parseSafetensors(bytes, path);
}

function decode(raw: Uint8Array, dtype: SafetensorsDType, name: string, source: string): StoredTensor['data'] {
  switch (dtype) {
    case 'F32': return new Float32Array(leBytes(raw, 4));
    case 'F64': return new Float64Array(leBytes(raw, 8));
    case 'I32': return new Int32Array(leBytes(raw, 4));
    case 'F16': {
      const h = new Uint16Array(leBytes(raw, 2));
      const table = f16Table();
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = table[h[i]!]!;
      return out;
    }
    case 'BF16': {
      // bf16 is the top half of an f32: shifting the bits up is the exact conversion (NaN payloads kept).
      const h = new Uint16Array(leBytes(raw, 2));
      const bits = new Uint32Array(h.length);
      for (let i = 0; i < h.length; i++) bits[i] = h[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64': {
      const w = new Int32Array(leBytes(raw, 8));
      const out = new Int32Array(w.length / 2);
      for (let i = 0; i < out.length; i++) {
        const lo = w[2 * i]!;
        const hi = w[2 * i + 1]!;
        // The i64 fits in int32 exactly when the high word is the sign extension of the low word.
        if (hi !== lo >> 31) {
          const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
          throw new SafetensorsError(`safetensors ${source}: tensor '${name}' I64 element ${i} = ${v} is outside the int32 range`);
        }
        out[i] = lo;
      }
      return out;
    }
  }
}

/** A fresh, aligned ArrayBuffer holding `raw` in host order (byte-swapped on a big-endian host). */
function leBytes(raw: Uint8Array, width: number): ArrayBuffer {
  // Copy with set(): on a Node Buffer, slice() would return a view of the whole file's memory.
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  if (!HOST_LITTLE_ENDIAN) for (let i = 0; i < copy.length; i += width) copy.subarray(i, i + width).reverse();
  return copy.buffer;
}

let f16Lookup: Float32Array | undefined;
/** All 65536 half-precision values as float32 (each exactly representable), built on first use. */
function f16Table(): Float32Array {
  if (!f16Lookup) {
    f16Lookup = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Lookup[h] = halfToNumber(h);
  }
  return f16Lookup;
}

/** IEEE 754 binary16 bits → number. Exported for tests and for anyone decoding f16 by hand. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * The bytes of a safetensors file: dtype from the array type (F32, F64, I32), tensors laid out in
 * sorted key order, header padded with spaces to a multiple of 8 bytes like the Python library
 * (so the buffer, and every F32/I32 tensor in it, starts 8-byte aligned in the file).
 */
export function serializeSafetensors(tensors: SafetensorsInput, metadata?: Record<string, string>): Uint8Array {
  const fail: (msg: string) => never = (msg) => {
    throw new SafetensorsError(`serializeSafetensors: ${msg}`);
  };
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) fail(`metadata must be an object of strings, got ${describe(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata value for key '${k}' must be a string, got ${describe(v)}`);
    }
    if (Object.keys(metadata).length > 0) setOwn(header, METADATA_KEY, { ...metadata });
  }
  const names = Object.keys(tensors).sort();
  let offset = 0;
  const parts: { bytes: Uint8Array; at: number; width: number }[] = [];
  for (const name of names) {
    if (name === METADATA_KEY) fail(`'${METADATA_KEY}' is reserved and cannot name a tensor`);
    const t = tensors[name]!;
    const { shape, data } = t;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}' has invalid shape ${JSON.stringify(shape)} (expected non-negative integers)`);
    }
    const dtype: SafetensorsDType | undefined =
      data instanceof Float32Array ? 'F32' : data instanceof Float64Array ? 'F64' : data instanceof Int32Array ? 'I32' : undefined;
    if (dtype === undefined) fail(`tensor '${name}' data must be a Float32Array, Float64Array or Int32Array, got ${describe(data)}`);
    const size = shape.reduce((a, d) => a * d, 1);
    if (data.length !== size) fail(`tensor '${name}' has ${data.length} values but shape ${fmtShape(shape)} holds ${size}`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    setOwn(header, name, { dtype, shape: [...shape], data_offsets: [offset, offset + bytes.length] });
    parts.push({ bytes, at: offset, width: BYTES[dtype] });
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const base = 8 + json.length;
  for (const p of parts) {
    out.set(p.bytes, base + p.at);
    if (!HOST_LITTLE_ENDIAN) {
      for (let i = base + p.at; i < base + p.at + p.bytes.length; i += p.width) out.subarray(i, i + p.width).reverse();
    }
  }
  return out;
}

/** Writes atomically: the bytes go to `path.tmp-<pid>` first, then a rename replaces `path`. */
export function writeSafetensors(path: string, tensors: SafetensorsInput, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(tensors, metadata);
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    throw new SafetensorsError(`safetensors ${path}: cannot write file (${(e as Error).message})`);
  }
}

/**
 * A tensor on the current backend. `dtype` defaults to the stored array's (F16/BF16 → float32,
 * I64 → int32); converting floats to int32 is refused unless every value is an integer.
 */
export function storedToTensor(s: StoredTensor, dtype?: DType): Tensor {
  const target = dtype ?? (s.data instanceof Float64Array ? 'float64' : s.data instanceof Int32Array ? 'int32' : 'float32');
  if (target === 'int32' && !(s.data instanceof Int32Array)) {
    const bad = s.data.findIndex((v) => !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31);
    if (bad >= 0) throw new SafetensorsError(`storedToTensor: tensor '${s.name}' (${s.dtype}) element ${bad} = ${s.data[bad]} is not an int32`);
  }
  return tensor(s.data, s.shape, target);
}

// ---------------------------------------------------------------------------------------------

/** obj[key] = value as an own property, even for a key like '__proto__' (which plain assignment would not store). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isSupported(d: string): d is SafetensorsDType {
  return (SUPPORTED as string[]).includes(d);
}

/** An array of non-negative safe integers (a shape or an offset pair). */
function isIndexArray(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (ArrayBuffer.isView(x)) return x.constructor.name;
  if (typeof x === 'object') return 'an object';
  return `${typeof x} ${JSON.stringify(x)}`;
}
