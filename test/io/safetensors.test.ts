import { describe, it, expect, afterAll } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';

// float64 checks run on the reference backend (the oracle; the wasm default is float32 only)
E.setBackend('reference');

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gsae-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Builds a file by hand: header object → JSON (optionally raw text), then the given buffer bytes. */
function build(header: unknown, buffer: Uint8Array | number[] = [], rawJson?: string): Uint8Array {
  const json = new TextEncoder().encode(rawJson ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(buffer, 8 + json.length);
  return out;
}

/** The JSON header of a file, parsed independently of the module under test. */
function rawHeader(bytes: Uint8Array): { n: number; header: Record<string, any> } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, header: JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) };
}

const u16le = (vals: number[]): Uint8Array => {
  const b = new Uint8Array(vals.length * 2);
  vals.forEach((v, i) => new DataView(b.buffer).setUint16(2 * i, v, true));
  return b;
};

describe('safetensors round trip', () => {
  const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__');
  const shape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });
  const entry = shape.chain((s) => {
    const size = s.reduce((a, d) => a * d, 1);
    return fc.oneof(
      fc.array(fc.float({ noDefaultInfinity: false }), { minLength: size, maxLength: size }).map((v) => ({ shape: s, data: Float32Array.from(v) })),
      fc.array(fc.double(), { minLength: size, maxLength: size }).map((v) => ({ shape: s, data: Float64Array.from(v) })),
      fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: size, maxLength: size }).map((v) => ({ shape: s, data: Int32Array.from(v) })),
    );
  });

  it('parse(serialize(x)) gives back names, dtypes, shapes, bit-exact values and metadata', () => {
    fc.assert(
      fc.property(fc.dictionary(name, entry, { maxKeys: 6 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), (tensors, meta) => {
        const bytes = E.serializeSafetensors(tensors, meta);
        const { n, header } = rawHeader(bytes);
        expect((8 + n) % 8).toBe(0); // header padded like the Python library
        const f = E.parseSafetensors(bytes);
        expect(f.metadata).toEqual(meta);
        expect([...f.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
        for (const [k, t] of Object.entries(tensors)) {
          const got = f.tensors.get(k)!;
          expect(got.shape).toEqual(t.shape);
          expect(got.dtype).toBe(t.data instanceof Float32Array ? 'F32' : t.data instanceof Float64Array ? 'F64' : 'I32');
          expect(got.data.constructor).toBe(t.data.constructor);
          // Compare bits, so NaN and -0 must survive too.
          expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(
            Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
          expect(header[k].shape).toEqual(t.shape);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("keeps keys named '__proto__' (as tensor name and as metadata key)", () => {
    const tensors = JSON.parse('{"__proto__": 1, "a": 2}') as Record<string, number>;
    const input = Object.fromEntries(Object.keys(tensors).map((k) => [k, { shape: [1], data: Float32Array.of(tensors[k]!) }]));
    const f = E.parseSafetensors(E.serializeSafetensors(input, JSON.parse('{"__proto__": "x"}')));
    expect([...f.tensors.keys()].sort()).toEqual(['__proto__', 'a']);
    expect(Array.from(f.tensors.get('__proto__')!.data)).toEqual([1]);
    expect(Object.keys(f.metadata)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(f.metadata)).toBe(Object.prototype);
  });

  it('lays tensors out in sorted key order and omits empty metadata', () => {
    const bytes = E.serializeSafetensors({ b: { shape: [2], data: new Float32Array([1, 2]) }, a: { shape: [], data: new Int32Array([7]) } });
    const { header } = rawHeader(bytes);
    expect(Object.keys(header)).toEqual(['a', 'b']);
    expect(header.a).toEqual({ dtype: 'I32', shape: [], data_offsets: [0, 4] });
    expect(header.b).toEqual({ dtype: 'F32', shape: [2], data_offsets: [4, 12] });
  });

  it('writes atomically and reads back from disk, leaving no temporary file', () => {
    const p = join(tmp, 'w.safetensors');
    E.writeSafetensors(p, { x: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } }, { step: '3' });
    E.writeSafetensors(p, { x: { shape: [3], data: new Float32Array([5, 6, 7]) } }, { step: '4' }); // replaces
    const f = E.readSafetensors(p);
    expect(f.metadata).toEqual({ step: '4' });
    expect(Array.from(f.tensors.get('x')!.data)).toEqual([5, 6, 7]);
    expect(readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('storedToTensor keeps shape and dtype, converts on request, refuses lossy int conversion', () => {
    const f = E.parseSafetensors(E.serializeSafetensors({
      w: { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) },
      i: { shape: [2], data: Int32Array.from([3, -4]) },
    }));
    const w = E.storedToTensor(f.tensors.get('w')!);
    expect(w.shape).toEqual([2, 3]);
    expect(w.dtype).toBe('float32');
    expect(w.tolist()).toEqual([[1, 2, 3], [4, 5, 6.5]]);
    expect(E.storedToTensor(f.tensors.get('w')!, 'float64').dtype).toBe('float64');
    expect(E.storedToTensor(f.tensors.get('i')!).dtype).toBe('int32');
    expect(E.storedToTensor(f.tensors.get('i')!, 'float32').tolist()).toEqual([3, -4]);
    expect(() => E.storedToTensor(f.tensors.get('w')!, 'int32')).toThrow(/'w'.*element 5 = 6.5 is not an int32/);
    E.dispose([w]);
  });

  it('rejects bad writer input with the tensor named', () => {
    expect(() => E.serializeSafetensors({ x: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(/'x' has 3 values but shape \[2, 2\] holds 4/);
    expect(() => E.serializeSafetensors({ x: { shape: [-1], data: new Float32Array(0) } })).toThrow(/'x' has invalid shape/);
    expect(() => E.serializeSafetensors({ x: { shape: [1], data: new Uint8Array(1) as unknown as Float32Array } })).toThrow(/'x' data must be a Float32Array/);
    expect(() => E.serializeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } })).toThrow(/reserved/);
    expect(() => E.serializeSafetensors({}, { a: 1 as unknown as string })).toThrow(/metadata value for key 'a' must be a string/);
  });
});

describe('safetensors validation errors name the file and the problem', () => {
  const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /src\.st: file is 5 bytes, shorter than the 8-byte header length/],
    ['header beyond file', (() => { const b = build({}); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(),
      /src\.st: header length 1000 goes beyond the end of the file \(2 bytes/],
    ['huge header length', (() => { const b = build({}); new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true); return b; })(), /header length 9223372036854775808 goes beyond/],
    ['bad json', build(null, [], '{"a": '), /src\.st: header is not valid UTF-8 JSON/],
    ['header not an object', build([1, 2]), /header must be a JSON object, got an array/],
    ['entry not an object', build({ a: 3 }), /entry for tensor 'a' must be an object, got number 3/],
    ['entry null', build({ a: null }), /entry for tensor 'a' must be an object, got null/],
    ['unknown dtype', build({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, [0]), /tensor 'a' has unsupported dtype 'U8' \(supported: F64, F32, F16, BF16, I64, I32\)/],
    ['missing dtype', build({ a: { shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /tensor 'a' has no string "dtype"/],
    ['bad shape', build({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /tensor 'a' has invalid "shape" \[1.5\]/],
    ['bad offsets', build({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, [0, 0, 0, 0]), /tensor 'a' has invalid "data_offsets" \[0\]/],
    ['end before begin', build({ a: f32([0], 4, 0) }, [0, 0, 0, 0]), /tensor 'a' has data_offsets \[4, 0\] with end before begin/],
    ['size mismatch', build({ a: f32([2], 0, 4) }, [0, 0, 0, 0]), /tensor 'a' F32 \[2\] needs 8 bytes but data_offsets \[0, 4\] span 4/],
    ['overlap', build({ a: f32([2], 0, 8), b: f32([1], 4, 8) }, new Array(8).fill(0)), /tensor '[ab]' data_offsets \[4, 8\] overlap the previous tensor, which ends at 8/],
    ['gap', build({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, new Array(12).fill(0)), /gap in the byte buffer: bytes \[4, 8\) before tensor 'b'/],
    ['not starting at 0', build({ a: f32([1], 4, 8) }, new Array(8).fill(0)), /gap in the byte buffer: bytes \[0, 4\) before tensor 'a'/],
    ['truncated', build({ a: f32([4], 0, 16) }, new Array(10).fill(0)), /src\.st: file is truncated: the header needs a 16-byte buffer but only 10 bytes follow it/],
    ['trailing bytes', build({ a: f32([1], 0, 4) }, new Array(6).fill(0)), /2 trailing bytes after the last tensor/],
    ['metadata not object', build({ __metadata__: 'x' }), /"__metadata__" must be an object of strings, got string "x"/],
    ['metadata non-string value', build({ __metadata__: { lr: 0.1 } }), /"__metadata__" value for key 'lr' must be a string, got number 0.1/],
  ];
  it.each(cases)('%s', (_label, bytes, re) => {
    expect(() => E.parseSafetensors(bytes, 'src.st')).toThrow(E.SafetensorsError);
    expect(() => E.parseSafetensors(bytes, 'src.st')).toThrow(re);
  });

  it('accepts an empty file and zero-size tensors anywhere in the buffer', () => {
    expect(E.parseSafetensors(build({})).tensors.size).toBe(0);
    const f = E.parseSafetensors(build({ e: f32([0, 3], 4, 4), a: f32([1], 0, 4), z: f32([0], 0, 0) }, [0, 0, 0x80, 0x3f]));
    expect(f.tensors.get('e')!.shape).toEqual([0, 3]);
    expect(f.tensors.get('e')!.data.length).toBe(0);
    expect(Array.from(f.tensors.get('a')!.data)).toEqual([1]);
  });

  it('readSafetensors names a missing file', () => {
    const p = join(tmp, 'missing.safetensors');
    expect(() => E.readSafetensors(p)).toThrow(new RegExp(`safetensors ${p.replace(/[.]/g, '\\.')}: cannot read file`));
  });

  it('reports the path when a file on disk is corrupt', () => {
    const p = join(tmp, 'trunc.safetensors');
    writeFileSync(p, build({ a: f32([4], 0, 16) }, new Array(3).fill(0)));
    expect(() => E.readSafetensors(p)).toThrow(`safetensors ${p}: file is truncated`);
  });
});

describe('safetensors F16 / BF16 / I64 decoding', () => {
  // Expected values computed by hand from the IEEE 754 binary16 / bfloat16 bit layouts.
  const f16: [number, number][] = [
    [0x0000, 0], [0x8000, -0], [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125],
    [0x0001, 2 ** -24], [0x8001, -(2 ** -24)], [0x03ff, 1023 * 2 ** -24], [0x0400, 2 ** -14],
    [0x7bff, 65504], [0x7c00, Infinity], [0xfc00, -Infinity], [0x3bff, 1 - 2 ** -11],
  ];
  it('F16 bit patterns', () => {
    const f = E.parseSafetensors(build({ h: { dtype: 'F16', shape: [f16.length + 2], data_offsets: [0, 2 * (f16.length + 2)] } },
      u16le([...f16.map(([b]) => b), 0x7e00, 0xfc01])));
    const t = f.tensors.get('h')!;
    expect(t.dtype).toBe('F16');
    expect(t.data).toBeInstanceOf(Float32Array);
    f16.forEach(([bits, v], i) => expect(Object.is(t.data[i], v), `0x${bits.toString(16)} → ${t.data[i]}, expected ${v}`).toBe(true));
    expect(Number.isNaN(t.data[f16.length])).toBe(true);
    expect(Number.isNaN(t.data[f16.length + 1])).toBe(true);
  });

  it('F16: positive finite halves decode strictly increasing with the right spacing', () => {
    // Above a half with exponent field E the next one is 2^(E-25) away (2^-24 for subnormals, like E = 1).
    const bad: number[] = [];
    for (let h = 1; h <= 0x7bff; h++) {
      const gap = E.halfToNumber(h) - E.halfToNumber(h - 1);
      const e = Math.max(1, (h - 1) >> 10);
      if (gap !== 2 ** (e - 25) || E.halfToNumber(h | 0x8000) !== -E.halfToNumber(h)) bad.push(h);
    }
    expect(bad).toEqual([]); // one assertion: 31k expect() calls would take a second
  });

  it('decodes from an unaligned view inside a larger buffer', () => {
    const file = E.serializeSafetensors({ a: { shape: [3], data: Float32Array.from([1.5, -2, 3]) }, b: { shape: [1], data: Int32Array.from([-9]) } });
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    const f = E.parseSafetensors(big.subarray(3));
    expect(Array.from(f.tensors.get('a')!.data)).toEqual([1.5, -2, 3]);
    expect(Array.from(f.tensors.get('b')!.data)).toEqual([-9]);
  });

  it('BF16 bit patterns', () => {
    const bf: [number, number][] = [[0x3f80, 1], [0xc000, -2], [0x0000, 0], [0x8000, -0], [0x3f81, 1 + 2 ** -7],
      [0x0001, 2 ** -133], [0x7f7f, (2 - 2 ** -7) * 2 ** 127], [0x7f80, Infinity], [0xff80, -Infinity], [0x4049, 3.140625]];
    const f = E.parseSafetensors(build({ b: { dtype: 'BF16', shape: [bf.length + 1], data_offsets: [0, 2 * (bf.length + 1)] } },
      u16le([...bf.map(([b]) => b), 0x7fc0])));
    const t = f.tensors.get('b')!;
    bf.forEach(([bits, v], i) => expect(Object.is(t.data[i], v), `0x${bits.toString(16)}`).toBe(true));
    expect(Number.isNaN(t.data[bf.length])).toBe(true);
  });

  const i64 = (vals: bigint[]) => {
    const b = new Uint8Array(vals.length * 8);
    vals.forEach((v, i) => new DataView(b.buffer).setBigInt64(8 * i, v, true));
    return build({ q: { dtype: 'I64', shape: [vals.length], data_offsets: [0, b.length] } }, b);
  };
  it('I64 within int32 range narrows exactly', () => {
    const t = E.parseSafetensors(i64([0n, -1n, 2147483647n, -2147483648n, 50256n])).tensors.get('q')!;
    expect(t.data).toBeInstanceOf(Int32Array);
    expect(Array.from(t.data)).toEqual([0, -1, 2147483647, -2147483648, 50256]);
  });
  it.each([[2147483648n], [-2147483649n], [4294967296n], [-(2n ** 63n)]])('I64 %s is an out-of-range error', (v) => {
    expect(() => E.parseSafetensors(i64([1n, v]), 'ids.st')).toThrow(`safetensors ids.st: tensor 'q' I64 element 1 = ${v} is outside the int32 range`);
  });

  it('F64 decodes to Float64Array', () => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setFloat64(0, Math.PI, true);
    new DataView(b.buffer).setFloat64(8, -1e300, true);
    const t = E.parseSafetensors(build({ d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, b)).tensors.get('d')!;
    expect(t.data).toBeInstanceOf(Float64Array);
    expect(Array.from(t.data)).toEqual([Math.PI, -1e300]);
  });
});

describe('fixtures', () => {
  it('gpt2-debug/debug_state.safetensors matches its header, parsed independently', () => {
    const path = join(FIXTURES, 'gpt2-debug/debug_state.safetensors');
    const bytes = new Uint8Array(readFileSync(path));
    const { n, header } = rawHeader(bytes);
    const f = E.readSafetensors(path);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect([...f.tensors.keys()].sort()).toEqual(names.sort());
    expect(f.metadata).toEqual(header.__metadata__);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    for (const k of names) {
      const t = f.tensors.get(k)!;
      expect(t.dtype, k).toBe(header[k].dtype);
      expect(t.shape, k).toEqual(header[k].shape);
      // First and last element read straight from the file bytes.
      const [begin, end] = header[k].data_offsets as [number, number];
      const get = (off: number) => (t.dtype === 'I32' ? dv.getInt32(off, true) : dv.getFloat32(off, true));
      expect(t.data[0], k).toBe(get(8 + n + begin));
      expect(t.data[t.data.length - 1], k).toBe(get(8 + n + end - 4));
    }
    // What the project's gradient checks rely on (from /work/shared/data/README.md).
    expect(f.tensors.get('tokens')).toMatchObject({ dtype: 'I32', shape: [4, 32] });
    expect(f.tensors.get('targets')).toMatchObject({ dtype: 'I32', shape: [4, 32] });
    expect(f.tensors.get('logits')).toMatchObject({ dtype: 'F32', shape: [4, 32, 512] });
    const loss = f.tensors.get('loss')!;
    expect(loss.dtype).toBe('F32');
    expect(loss.data.length).toBe(1);
    expect(loss.data[0]).toBeGreaterThan(0);
    expect(f.tensors.get('adamw_losses')).toMatchObject({ dtype: 'F32', shape: [5] });
    expect(f.tensors.get('act.blocks.1.hook_resid_pre')!.shape).toEqual([4, 32, 64]);
    expect(f.tensors.get('grad.wte.weight')!.shape).toEqual([512, 64]);
    expect(names.filter((k) => k.startsWith('grad.')).length).toBe(2 + 2 * 12 + 2);
    const tokens = f.tensors.get('tokens')!.data;
    expect(tokens.every((v) => v >= 0 && v < 512)).toBe(true);
    expect(E.storedToTensor(loss).item()).toBe(loss.data[0]);
  });

  it('reads a file written by the reference Python library (safetensors 0.8.0) with hand-chosen values', () => {
    const f = E.readSafetensors(join(FIXTURES, 'safetensors/python_dtypes.safetensors'));
    expect(f.metadata).toEqual({ made_by: 'safetensors.numpy', note: 'hand-chosen values' });
    const get = (k: string) => f.tensors.get(k)!;
    expect(get('f16')).toMatchObject({ dtype: 'F16', shape: [7] });
    expect(Array.from(get('f16').data)).toEqual([1, -2, 0.5, 65504, Infinity, 2 ** -24, -0]);
    expect(Object.is(get('f16').data[6], -0)).toBe(true);
    expect(get('f64')).toMatchObject({ dtype: 'F64', shape: [2, 2] });
    expect(Array.from(get('f64').data)).toEqual([Math.PI, -1e300, 2 ** -1074, 0.1]);
    expect(get('i64')).toMatchObject({ dtype: 'I64', shape: [5] });
    expect(Array.from(get('i64').data)).toEqual([0, -1, 2147483647, -2147483648, 50256]);
    expect(get('i64').data).toBeInstanceOf(Int32Array);
    expect(Array.from(get('f32').data)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    expect(get('i32')).toMatchObject({ dtype: 'I32', shape: [1, 1] });
    expect(Array.from(get('i32').data)).toEqual([7]);
    expect(get('scalar').shape).toEqual([]);
    expect(E.storedToTensor(get('scalar')).item()).toBe(3.5);
    expect(get('empty')).toMatchObject({ shape: [0, 4] });
    expect(get('empty').data.length).toBe(0);
  });

  it.each(['gpt2-debug/model.safetensors', 'gpt2-tiny-uor/model.safetensors'])('%s parses with the shapes its config implies', (rel) => {
    const cfg = JSON.parse(readFileSync(join(FIXTURES, rel.replace('model.safetensors', 'config.json')), 'utf8'));
    const f = E.readSafetensors(join(FIXTURES, rel));
    const find = (suffix: string) => [...f.tensors.values()].find((t) => t.name === suffix || t.name.endsWith(`.${suffix}`));
    expect(find('wte.weight')?.shape).toEqual([cfg.vocab_size, cfg.n_embd]);
    expect(find('wpe.weight')?.shape).toEqual([cfg.n_positions, cfg.n_embd]);
    expect(find('h.0.attn.c_attn.weight')?.shape).toEqual([cfg.n_embd, 3 * cfg.n_embd]);
    expect(find(`h.${cfg.n_layer - 1}.mlp.c_proj.weight`)?.shape).toEqual([4 * cfg.n_embd, cfg.n_embd]);
  });
});
