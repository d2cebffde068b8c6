/**
 * The binary encoder against wabt (an independent assembler): every instruction the kernels use
 * must encode to exactly the bytes wabt produces for the same WAT, and small modules must run.
 */
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import {
  call, encodeModule, f32, f32x4, forLoop, get, i32, i32x4, memoryCopy, memoryFill, ModuleBuilder, set, shuffle32, sleb, uleb, v128,
  type Ex,
} from '../../../engine/backends/wasm/encoder.js';
import { hasRelaxedSimd } from '../../../engine/backends/wasm/features.js';
import { wasmApi } from '../../../engine/backends/wasm/wasm_api.js';

const wabtReady = wabtInit();

/** Body bytes of a one-function module `(func (param ...) (result ...) body)` assembled by wabt. */
async function wabtBody(params: string[], result: string | null, body: string, relaxed = false): Promise<number[]> {
  const wabt = await wabtReady;
  const sig = `${params.map((p) => `(param ${p})`).join(' ')} ${result ? `(result ${result})` : ''}`;
  const mod = wabt.parseWat('t.wat', `(module (memory (import "env" "memory") 1 2 shared) (func ${sig} ${body}))`, {
    simd: true, threads: true, bulk_memory: true, relaxed_simd: relaxed,
  });
  const bin = new Uint8Array(mod.toBinary({}).buffer);
  mod.destroy();
  return codeOfOnlyFunc(bin);
}

/** Extracts the instruction bytes (without locals and the final `end`) of the single function. */
function codeOfOnlyFunc(bin: Uint8Array): number[] {
  let p = 8;
  const readU = (): number => {
    let r = 0, s = 1, b: number;
    do {
      b = bin[p++]!;
      r += (b & 0x7f) * s;
      s *= 128;
    } while (b & 0x80);
    return r;
  };
  while (p < bin.length) {
    const id = bin[p++]!;
    const len = readU();
    const end = p + len;
    if (id === 10) {
      readU(); // one function
      const size = readU();
      const fEnd = p + size;
      const runs = readU();
      for (let i = 0; i < runs; i++) {
        readU();
        p++;
      }
      return [...bin.slice(p, fEnd - 1)];
    }
    p = end;
  }
  throw new Error('no code section');
}

const V = (i: number) => get(i);

describe('wasm encoder', () => {
  it('LEB128 round numbers like the spec', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([127]);
    expect(uleb(128)).toEqual([0x80, 1]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([63]);
    expect(sleb(64)).toEqual([0xc0, 0]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(() => uleb(-1)).toThrow(/non-negative/);
  });

  // [params, result, our bytes, WAT]
  const cases: [string[], string, Ex, string][] = [
    [['v128', 'v128'], 'v128', f32x4.add(V(0), V(1)), 'local.get 0 local.get 1 f32x4.add'],
    [['v128', 'v128'], 'v128', f32x4.sub(V(0), V(1)), 'local.get 0 local.get 1 f32x4.sub'],
    [['v128', 'v128'], 'v128', f32x4.mul(V(0), V(1)), 'local.get 0 local.get 1 f32x4.mul'],
    [['v128', 'v128'], 'v128', f32x4.div(V(0), V(1)), 'local.get 0 local.get 1 f32x4.div'],
    [['v128', 'v128'], 'v128', f32x4.min(V(0), V(1)), 'local.get 0 local.get 1 f32x4.min'],
    [['v128', 'v128'], 'v128', f32x4.max(V(0), V(1)), 'local.get 0 local.get 1 f32x4.max'],
    [['v128', 'v128'], 'v128', f32x4.pmin(V(0), V(1)), 'local.get 0 local.get 1 f32x4.pmin'],
    [['v128', 'v128'], 'v128', f32x4.pmax(V(0), V(1)), 'local.get 0 local.get 1 f32x4.pmax'],
    [['v128', 'v128'], 'v128', f32x4.eq(V(0), V(1)), 'local.get 0 local.get 1 f32x4.eq'],
    [['v128', 'v128'], 'v128', f32x4.ne(V(0), V(1)), 'local.get 0 local.get 1 f32x4.ne'],
    [['v128', 'v128'], 'v128', f32x4.lt(V(0), V(1)), 'local.get 0 local.get 1 f32x4.lt'],
    [['v128', 'v128'], 'v128', f32x4.gt(V(0), V(1)), 'local.get 0 local.get 1 f32x4.gt'],
    [['v128', 'v128'], 'v128', f32x4.le(V(0), V(1)), 'local.get 0 local.get 1 f32x4.le'],
    [['v128', 'v128'], 'v128', f32x4.ge(V(0), V(1)), 'local.get 0 local.get 1 f32x4.ge'],
    [['v128'], 'v128', f32x4.abs(V(0)), 'local.get 0 f32x4.abs'],
    [['v128', 'v128'], 'v128', shuffle32(V(0), V(1), [0, 4, 1, 5]), 'local.get 0 local.get 1 i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23'],
    [['v128'], 'v128', f32x4.neg(V(0)), 'local.get 0 f32x4.neg'],
    [['v128'], 'v128', f32x4.sqrt(V(0)), 'local.get 0 f32x4.sqrt'],
    [['v128'], 'v128', f32x4.floor(V(0)), 'local.get 0 f32x4.floor'],
    [['v128'], 'v128', f32x4.ceil(V(0)), 'local.get 0 f32x4.ceil'],
    [['v128'], 'v128', f32x4.trunc(V(0)), 'local.get 0 f32x4.trunc'],
    [['v128'], 'v128', f32x4.nearest(V(0)), 'local.get 0 f32x4.nearest'],
    [['v128'], 'v128', f32x4.convert_i32x4_s(V(0)), 'local.get 0 f32x4.convert_i32x4_s'],
    [['f32'], 'v128', f32x4.splat(V(0)), 'local.get 0 f32x4.splat'],
    [['v128'], 'f32', f32x4.extract_lane(V(0), 3), 'local.get 0 f32x4.extract_lane 3'],
    [['v128', 'f32'], 'v128', f32x4.replace_lane(V(0), 2, V(1)), 'local.get 0 local.get 1 f32x4.replace_lane 2'],
    [[], 'v128', f32x4.const(1.5), 'v128.const f32x4 1.5 1.5 1.5 1.5'],
    [[], 'v128', v128.const([1, -2, 3, 0x7fffffff]), 'v128.const i32x4 1 -2 3 0x7fffffff'],
    [['v128', 'v128'], 'v128', v128.and(V(0), V(1)), 'local.get 0 local.get 1 v128.and'],
    [['v128', 'v128'], 'v128', v128.andnot(V(0), V(1)), 'local.get 0 local.get 1 v128.andnot'],
    [['v128', 'v128'], 'v128', v128.or(V(0), V(1)), 'local.get 0 local.get 1 v128.or'],
    [['v128', 'v128'], 'v128', v128.xor(V(0), V(1)), 'local.get 0 local.get 1 v128.xor'],
    [['v128'], 'v128', v128.not(V(0)), 'local.get 0 v128.not'],
    [['v128', 'v128', 'v128'], 'v128', v128.bitselect(V(0), V(1), V(2)), 'local.get 0 local.get 1 local.get 2 v128.bitselect'],
    [['v128'], 'i32', v128.any_true(V(0)), 'local.get 0 v128.any_true'],
    [['i32'], 'v128', v128.load(V(0), 32), 'local.get 0 v128.load offset=32'],
    [['i32'], 'v128', v128.load32_splat(V(0), 8), 'local.get 0 v128.load32_splat offset=8'],
    [['i32'], 'v128', v128.load32_zero(V(0)), 'local.get 0 v128.load32_zero'],
    [['i32', 'v128'], '', v128.store(V(0), V(1), 48), 'local.get 0 local.get 1 v128.store offset=48'],
    [['i32'], 'v128', i32x4.splat(V(0)), 'local.get 0 i32x4.splat'],
    [['v128'], 'i32', i32x4.extract_lane(V(0), 2), 'local.get 0 i32x4.extract_lane 2'],
    [['v128', 'v128'], 'v128', i32x4.add(V(0), V(1)), 'local.get 0 local.get 1 i32x4.add'],
    [['v128', 'v128'], 'v128', i32x4.sub(V(0), V(1)), 'local.get 0 local.get 1 i32x4.sub'],
    [['v128', 'v128'], 'v128', i32x4.mul(V(0), V(1)), 'local.get 0 local.get 1 i32x4.mul'],
    [['v128', 'v128'], 'v128', i32x4.eq(V(0), V(1)), 'local.get 0 local.get 1 i32x4.eq'],
    [['v128', 'v128'], 'v128', i32x4.ne(V(0), V(1)), 'local.get 0 local.get 1 i32x4.ne'],
    [['v128', 'v128'], 'v128', i32x4.lt_s(V(0), V(1)), 'local.get 0 local.get 1 i32x4.lt_s'],
    [['v128', 'v128'], 'v128', i32x4.gt_s(V(0), V(1)), 'local.get 0 local.get 1 i32x4.gt_s'],
    [['v128', 'v128'], 'v128', i32x4.le_s(V(0), V(1)), 'local.get 0 local.get 1 i32x4.le_s'],
    [['v128', 'v128'], 'v128', i32x4.ge_s(V(0), V(1)), 'local.get 0 local.get 1 i32x4.ge_s'],
    [['v128', 'v128'], 'v128', i32x4.min_s(V(0), V(1)), 'local.get 0 local.get 1 i32x4.min_s'],
    [['v128', 'v128'], 'v128', i32x4.max_s(V(0), V(1)), 'local.get 0 local.get 1 i32x4.max_s'],
    [['v128', 'i32'], 'v128', i32x4.shl(V(0), V(1)), 'local.get 0 local.get 1 i32x4.shl'],
    [['v128', 'i32'], 'v128', i32x4.shr_s(V(0), V(1)), 'local.get 0 local.get 1 i32x4.shr_s'],
    [['v128', 'i32'], 'v128', i32x4.shr_u(V(0), V(1)), 'local.get 0 local.get 1 i32x4.shr_u'],
    [['v128'], 'i32', i32x4.all_true(V(0)), 'local.get 0 i32x4.all_true'],
    [['v128'], 'i32', i32x4.bitmask(V(0)), 'local.get 0 i32x4.bitmask'],
    [['v128'], 'v128', i32x4.trunc_sat_f32x4_s(V(0)), 'local.get 0 i32x4.trunc_sat_f32x4_s'],
    [['i32'], 'f32', f32.load(V(0), 4), 'local.get 0 f32.load offset=4'],
    [['i32', 'f32'], '', f32.store(V(0), V(1), 12), 'local.get 0 local.get 1 f32.store offset=12'],
    [['f32', 'f32'], 'f32', f32.max(V(0), V(1)), 'local.get 0 local.get 1 f32.max'],
    [['f32'], 'i32', i32.trunc_sat_f32_s(V(0)), 'local.get 0 i32.trunc_sat_f32_s'],
    [['f32'], 'i32', i32.reinterpret_f32(V(0)), 'local.get 0 i32.reinterpret_f32'],
    [['i32'], 'f32', f32.reinterpret_i32(V(0)), 'local.get 0 f32.reinterpret_i32'],
    [['i32'], 'i32', i32.add(V(0), i32.const(-300)), 'local.get 0 i32.const -300 i32.add'],
    [['i32', 'i32'], 'i32', i32.atomic_rmw_add(V(0), V(1), 8), 'local.get 0 local.get 1 i32.atomic.rmw.add offset=8'],
    [['i32', 'i32', 'i32'], '', memoryCopy(V(0), V(1), V(2)), 'local.get 0 local.get 1 local.get 2 memory.copy'],
    [['i32', 'i32', 'i32'], '', memoryFill(V(0), V(1), V(2)), 'local.get 0 local.get 1 local.get 2 memory.fill'],
  ];

  it('encodes every instruction the kernels use exactly as wabt does', async () => {
    for (const [params, result, ours, wat] of cases) {
      const theirs = await wabtBody(params, result || null, wat);
      expect({ wat, bytes: ours }).toEqual({ wat, bytes: theirs });
    }
  });

  it('encodes relaxed fused multiply-add as wabt does', async () => {
    const theirs = await wabtBody(['v128', 'v128', 'v128'], 'v128', 'local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd', true);
    expect(f32x4.relaxed_madd(V(0), V(1), V(2))).toEqual(theirs);
    // the probe that decides whether kernels may use it must agree with WebAssembly itself
    expect(typeof hasRelaxedSimd()).toBe('boolean');
  });

  it('builds a module that runs (memory import, loops, calls)', () => {
    const mb = new ModuleBuilder();
    const sq = mb.func('sq', ['f32'], ['f32'], false);
    sq.emit(f32.mul(get(0), get(0)));
    const f = mb.func('sumsq', ['i32', 'i32'], ['f32']);
    const i = f.local('i32');
    const acc = f.local('f32');
    f.emit(
      forLoop(i, i32.const(0), get(1), 1, set(acc, f32.add(get(acc), call(sq.index, f32.load(i32.add(get(0), i32.shl(get(i), i32.const(2)))))))),
      get(acc),
    );
    const WA = wasmApi();
    const memory = new WA.Memory({ initial: 1, maximum: 2, shared: true });
    const bin = encodeModule({ initial: 1, maximum: 2, shared: true }, mb.funcs);
    const inst = new WA.Instance(new WA.Module(bin), { env: { memory } });
    new Float32Array(memory.buffer, 64, 5).set([1, 2, 3, 4, -5]);
    expect((inst.exports.sumsq as (p: number, n: number) => number)(64, 5)).toBe(55);
    expect(inst.exports.sq).toBeUndefined();
    expect(() => mb.func('sq', [])).toThrow(/defined twice/);
  });
});
