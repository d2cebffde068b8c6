/**
 * The wasm backend as a whole: the heap allocator, memory accounting and leaks, the reference
 * fallback for ops without a wasm kernel, gradients through wasm kernels, worker threads
 * (shutdown, single-thread fallback) and the error paths (missing features, bad environment).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../../engine/index.js';
import { registerBackend, setBackend, dispatch, getBackend } from '../../../engine/engine.js';
import { registerOp } from '../../../engine/ops/registry.js';
import { referenceKernels } from '../../../engine/backends/reference/index.js';
import { HeapAllocator, sizeClass, PAGE } from '../../../engine/backends/wasm/allocator.js';
import { createWasmBackend, WasmBackend, wasmOptionsFromEnv } from '../../../engine/backends/wasm/index.js';
import { wasmApi } from '../../../engine/backends/wasm/wasm_api.js';
import { expectClose, on, randn, WASM } from './helpers.js';

const REF = 'reference';

describe('heap allocator', () => {
  const memory = () => new (wasmApi().Memory)({ initial: 1, maximum: 64, shared: true });

  it('size classes: 16-byte aligned, at most 12.5% rounding above 1 KiB, monotone', () => {
    let prev = 0;
    for (let b = 1; b < 1 << 20; b = Math.ceil(b * 1.37) + 1) {
      const c = sizeClass(b);
      expect(c % 16).toBe(0);
      expect(c).toBeGreaterThanOrEqual(b);
      if (b > 1024) expect(c / b).toBeLessThanOrEqual(1.125 + 1e-9);
      expect(c).toBeGreaterThanOrEqual(prev);
      prev = c;
    }
  });

  it('reuses freed blocks of the same class, coalesces neighbours before growing, accounts live bytes', () => {
    const mem = memory();
    const h = new HeapAllocator(mem, 1024, 64);
    const a = h.alloc(1000), b = h.alloc(1000);
    expect(a % 16).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 1000);
    h.release(a, 1000);
    expect(h.alloc(995)).toBe(a); // same class (1008 bytes)
    expect(h.stats()).toMatchObject({ buffers: 2, bytes: 1995 });
    // fill the page with 4 KiB blocks, free two neighbours, ask for 8 KiB: served from them, no growth
    const blocks = Array.from({ length: 14 }, () => h.alloc(4096));
    const pages = mem.buffer.byteLength / PAGE;
    h.release(blocks[3]!, 4096);
    h.release(blocks[4]!, 4096);
    const top = h.stats().peakTop;
    const big = h.alloc(8192);
    expect(big).toBe(blocks[3]);
    expect(mem.buffer.byteLength / PAGE).toBe(pages);
    expect(h.stats().peakTop).toBe(top);
  });

  it('grows the memory on demand and fails with a clear error at the maximum', () => {
    const mem = memory();
    const h = new HeapAllocator(mem, 1024, 64);
    h.alloc(3 * PAGE);
    expect(mem.buffer.byteLength).toBeGreaterThanOrEqual(3 * PAGE + 1024);
    expect(() => h.alloc(64 * PAGE)).toThrow(/wasm heap exhausted: .* at most 4 MiB/);
  });
});

describe('wasm backend', () => {
  afterAll(() => setBackend(REF));

  it('memory(): live buffers and bytes return to where they were after a step (no leaks), heap stops growing', () => {
    setBackend(WASM);
    const be = getBackend(WASM) as WasmBackend;
    const w = E.keep(E.tensor(randn(64 * 32, 1), [64, 32]));
    const step = () =>
      E.tidy(() => {
        const x = E.tensor(randn(16 * 64, 2), [16, 64]);
        const [loss, g] = E.valueAndGrad((p: { w: E.Tensor }) => E.mean(E.gelu(E.matmul(x, p.w))))({ w });
        return E.sub(w, E.mul(g.w, loss)).dispose();
      });
    step();
    const before = E.memory();
    const heapBefore = be.memory().heapBytes;
    for (let i = 0; i < 3; i++) step();
    const after = E.memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.backend.buffers).toBe(before.backend.buffers);
    expect(after.backend.bytes).toBe(before.backend.bytes);
    expect(be.memory().heapBytes).toBe(heapBefore);
    w.dispose();
    expect(E.memory().backend.bytes).toBe(before.backend.bytes - 64 * 32 * 4);
  });

  it('the profiler counts and times kernel launches by op', () => {
    const be = getBackend(WASM) as WasmBackend;
    be.startProfile();
    on(WASM, () => E.sum(E.exp(E.add(E.tensor([1, 2, 3]), E.tensor([1, 1, 1]))), 0));
    const prof = be.stopProfile();
    expect(prof.map((p) => [p.op, p.calls]).sort()).toEqual([['add', 1], ['exp', 1], ['sum', 1]]);
    expect(prof.every((p) => p.ms >= 0 && !p.fallback)).toBe(true);
    expect(be.stopProfile()).toEqual([]);
  });

  it('a freed buffer cannot be freed or used again', () => {
    const be = getBackend(WASM) as WasmBackend;
    const b = be.alloc('float32', 4);
    be.free(b);
    expect(() => be.free(b)).toThrow(/freed twice/);
    expect(() => be.download(b, 'float32', 4)).toThrow(/used after free/);
    expect(() => be.alloc('float64', 4)).toThrow(/float32 and int32 only/);
  });

  it('tensors survive memory growth (views are re-made after memory.grow)', () => {
    const be = new WasmBackend({ threads: 1 });
    const x = be.alloc('float32', 4);
    be.upload(x, Float32Array.from([1, 2, 3, 4]));
    const before = be.memory().heapBytes;
    const big = be.alloc('float32', 8 << 20); // 32 MiB: beyond the initial 16 MiB heap
    expect(be.memory().heapBytes).toBeGreaterThan(before);
    expect(Array.from(be.download(x, 'float32', 4) as Float32Array)).toEqual([1, 2, 3, 4]);
    be.run('full', [], [{ buf: big, shape: [8 << 20], dtype: 'float32' }], { value: 2 });
    expect((be.download(big, 'float32', 8 << 20) as Float32Array)[(8 << 20) - 1]).toBe(2);
    be.shutdown();
  });

  it('at the heap maximum, live buffers are compacted so fragmented free space serves a large request', () => {
    const be = new WasmBackend({ threads: 1, maxMiB: 64 });
    const MiB = 1 << 18; // floats per MiB
    // 13 blocks of 4 MiB with distinct contents; freeing every other (the last stays) leaves
    // 24 MiB in 4 MiB gaps that no coalescing can join
    const blocks = Array.from({ length: 13 }, (_, i) => {
      const b = be.alloc('float32', 4 * MiB);
      be.run('full', [], [{ buf: b, shape: [4 * MiB], dtype: 'float32' }], { value: i });
      return b;
    });
    blocks.forEach((b, i) => i % 2 === 1 && be.free(b));
    const big = be.alloc('float32', 16 * MiB); // needs 64 MiB heap without compaction
    be.run('full', [], [{ buf: big, shape: [16 * MiB], dtype: 'float32' }], { value: -1 });
    blocks.forEach((b, i) => {
      if (i % 2 === 1) return;
      const d = be.download(b, 'float32', 4 * MiB) as Float32Array;
      expect([d[0], d[4 * MiB - 1]]).toEqual([i, i]);
    });
    expect(be.memory()).toMatchObject({ buffers: 8, bytes: (7 * 4 + 16) * MiB * 4 });
    expect(() => be.alloc('float32', 40 * MiB)).toThrow(/wasm heap exhausted/);
    be.shutdown();
  });

  it('an op with no wasm kernel runs the reference kernel on wasm memory', () => {
    registerOp({ name: 'wasmTestCube', infer: (ins) => [{ shape: ins[0]!.shape, dtype: ins[0]!.dtype }], notDifferentiable: 'test-only op' });
    referenceKernels.wasmTestCube = ([x], [y]) => {
      for (let i = 0; i < y!.data.length; i++) y!.data[i] = x!.data[i]! ** 3;
    };
    const be = getBackend(WASM) as WasmBackend;
    expect(be.has('wasmTestCube')).toBe(true);
    expect(be.has('noSuchOp')).toBe(false);
    const before = be.fallbacks.get('wasmTestCube') ?? 0;
    const [r] = on(WASM, () => dispatch('wasmTestCube', [E.tensor([1, -2, 3])])[0]!);
    expect(r!.data).toEqual([1, -8, 27]);
    expect(be.fallbacks.get('wasmTestCube')).toBe(before + 1);
    delete referenceKernels.wasmTestCube;
  });

  it('valueAndGrad of a small transformer-style block on wasm equals the reference', () => {
    const B = 3, T = 5, C = 8, V = 11;
    const params = () => ({
      wte: E.tensor(randn(V * C, 1), [V, C]),
      w1: E.tensor(randn(C * 4 * C, 2).map((v) => v * 0.3), [C, 4 * C]),
      w2: E.tensor(randn(4 * C * C, 3).map((v) => v * 0.3), [4 * C, C]),
      g: E.tensor(randn(C, 4).map((v) => 1 + 0.1 * v), [C]),
      b: E.tensor(randn(C, 5).map((v) => 0.1 * v), [C]),
    });
    const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % V);
    const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 3 + 1) % V);
    const run = () => {
      const p = params();
      const idx = E.tensor(tokens, [B, T], 'int32');
      const tgt = E.tensor(targets, [B, T], 'int32');
      const f = (q: ReturnType<typeof params>) => {
        const x = E.gather(q.wte, idx, 0);
        const att = E.softmax(E.causalMask(E.matmul(x, x, false, true)));
        const h = E.add(x, E.matmul(att, x));
        const n = E.layerNorm(h, q.g, q.b);
        const m = E.add(h, E.matmul(E.gelu(E.matmul(n, q.w1)), q.w2));
        return E.crossEntropy(E.matmul(m, q.wte, false, true), tgt);
      };
      const [loss, g] = E.valueAndGrad(f)(p);
      return [loss, g.wte, g.w1, g.w2, g.g, g.b];
    };
    const ref = on(REF, run);
    const got = on(WASM, run);
    ['loss', 'wte', 'w1', 'w2', 'g', 'b'].forEach((w, i) => expectClose(got[i]!, ref[i]!, { rel: 1e-4, atol: 1e-5 }, `grad ${w}`));
  });

  it('worker threads: same results with threads, after shutdown the backend runs single-threaded', () => {
    const be = new WasmBackend({ threads: 2 });
    registerBackend({ name: 'wasm-shutdown-test', priority: -1, create: () => be });
    const a = randn(200 * 300, 8), b = randn(300 * 150, 9);
    const build = () => E.gelu(E.matmul(E.tensor(a, [200, 300]), E.tensor(b, [300, 150])));
    const threaded = on('wasm-shutdown-test', build)[0]!;
    expect(be.threads).toBe(2);
    be.shutdown();
    expect(be.threads).toBe(1);
    expectClose(on('wasm-shutdown-test', build)[0]!, threaded, {}, 'after shutdown');
  });

  it('missing WebAssembly features and bad settings give clear BackendErrors', () => {
    expect(() => createWasmBackend({}, () => 'WebAssembly SIMD128 is not supported by this engine')).toThrow(E.BackendError);
    registerBackend({ name: 'wasm-no-simd', priority: -1, create: () => createWasmBackend({}, () => 'WebAssembly SIMD128 is not supported by this engine') });
    const st = E.backendStatus().find((s) => s.name === 'wasm-no-simd')!;
    expect(st.available).toBe(false);
    expect(st.reason).toMatch(/SIMD128 is not supported/);
    const old = process.env.GSAE_WASM_THREADS;
    process.env.GSAE_WASM_THREADS = 'two';
    try {
      expect(() => wasmOptionsFromEnv()).toThrow(/GSAE_WASM_THREADS=two must be an integer >= 1/);
    } finally {
      if (old === undefined) delete process.env.GSAE_WASM_THREADS;
      else process.env.GSAE_WASM_THREADS = old;
    }
    expect(() => new WasmBackend({ threads: 0 })).toThrow(/threads must be a positive integer/);
  });
});
