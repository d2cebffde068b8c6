/**
 * The gpujs backend's own guarantees, on every mode available here: immutable outputs,
 * deterministic release, exact-integer guards, size limits with clear errors, honest fallback
 * accounting, and the op inventory.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../../engine/index.js';
import { HOST_OPS, NATIVE_OPS, registerGpujsMode, type GpujsBackend } from '../../../engine/backends/gpujs/index.js';
import { modesUnderTest, onBackend, stopDisplay } from './modes.js';

const { modes, skipped } = await modesUnderTest();
for (const s of skipped) console.log(`[gpujs backend] mode skipped — ${s}`);
afterAll(stopDisplay);

it('every engine primitive is either a gpu.js kernel or a counted host fallback', () => {
  const ops = E.allOps().map((o) => o.name).sort();
  expect([...NATIVE_OPS, ...HOST_OPS].sort()).toEqual(ops);
});

describe.skipIf(modes.length === 0).each(modes)('mode $mode', (m) => {
  const backend = () => E.getBackend(m.backend) as GpujsBackend;
  const run = <T>(fn: () => T): T => onBackend(m.backend, fn);

  it('a kernel launch never overwrites an earlier output (saved activations stay intact)', () => {
    run(() =>
      E.tidy(() => {
        const ya = E.exp(E.tensor([0.5, -1, 2, 3], [2, 2]));
        const before = Array.from(ya.toArray());
        // the same compiled kernel runs again on other data, and on its own output
        const yb = E.exp(E.tensor([4, 5, -6, 7], [2, 2]));
        const yc = E.exp(ya);
        expect(Array.from(ya.toArray())).toEqual(before);
        expect(Array.from(yb.toArray())).not.toEqual(before);
        expect(yc.shape).toEqual([2, 2]);
        expect(Array.from(ya.toArray())).toEqual(before);
      }),
    );
  });

  it('frees device memory deterministically, aliases included', () => {
    run(() => {
      const before = { mem: E.memory().backend, dev: backend().deviceStats() };
      const kept = E.tidy(() => {
        const x = E.tensor(Float32Array.from({ length: 12 }, (_, i) => i), [3, 4]);
        const r = E.reshape(E.mul(x, 2), [4, 3]); // a changed last axis: an alias on host modes, a re-layout on GL
        const s = E.stopGradient(r); // shares storage with r
        const t = E.sum(E.matmul(x, s));
        expect(backend().deviceStats().storages).toBeGreaterThan(before.dev.storages);
        return E.keep(E.add(s, 1)); // survives the tidy; everything else is freed now
      });
      expect(Array.from(kept.toArray())).toEqual(Array.from({ length: 12 }, (_, i) => 2 * i + 1));
      kept.dispose();
      expect(E.memory().backend).toEqual(before.mem);
      expect(backend().deviceStats()).toEqual(before.dev);
    });
  });

  it('evicting compiled kernels never invalidates live outputs', () => {
    // a cache of 4 kernels and 24 distinct ones: kernels are evicted while outputs of others live on
    const name = registerGpujsMode(m.mode, { name: `${m.backend}-small-cache`, kernelCacheSize: 4 });
    const small = E.getBackend(name) as GpujsBackend;
    onBackend(name, () => {
      E.tidy(() => {
        const outs = Array.from({ length: 12 }, (_, n) => E.mul(E.arange(0, n + 1, 1, 'float32'), E.full([n + 1], n + 1)));
        for (let n = 0; n < 12; n++) E.tidy(() => void E.exp(E.full([n + 2, 3], 0.5)));
        outs.forEach((o, n) => expect(Array.from(o.toArray())).toEqual(Array.from({ length: n + 1 }, (_, i) => i * (n + 1))));
      });
      // with no live outputs left, the cache shrinks back to its bound as new kernels compile
      for (let n = 0; n < 6; n++) E.tidy(() => void E.exp(E.full([n + 1, 5], 0.5)));
      expect(small.compiledKernels()).toBeLessThanOrEqual(4);
    });
    small.shutdown();
  });

  it('addresses tensors beyond 2^24 elements exactly', () => {
    // 4097² > 2^24: flat offsets no longer fit float32 integers, rows and columns still do
    const n = 4097;
    const x = new Float32Array(n * n);
    for (let i = 0; i < x.length; i++) x[i] = i % 1021;
    const row = Float32Array.from({ length: n }, (_, j) => j * 1024);
    const got = run(() => E.tidy(() => E.sub(E.add(E.tensor(x, [n, n]), E.tensor(row, [n])), 0.5).toArray()));
    let bad = 0;
    for (let i = 0; i < x.length; i++) if (got[i] !== x[i]! + row[i % n]! - 0.5) bad++;
    expect(bad).toBe(0);
  });

  it('an alias stays readable after the tensor it came from is freed', () => {
    run(() => {
      const x = E.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
      const y = E.reshape(x, [3, 2]);
      x.dispose();
      expect(Array.from(y.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
      expect(Array.from(E.tidy(() => E.neg(y)).toArray())).toEqual([-1, -2, -3, -4, -5, -6]);
      y.dispose();
    });
  });

  it('int32 values are exact below 2^24 and refused at or beyond it', () => {
    run(() =>
      E.tidy(() => {
        expect(() => E.tensor(Int32Array.from([1, 2 ** 24]), [2], 'int32')).toThrow(/int32 value 16777216 at position 1 is outside ±2\^24/);
        const big = E.tensor(Int32Array.from([2 ** 23]), [1], 'int32');
        backend().resetCounters();
        // proven to stay below 2^24: runs on the device, exactly
        expect(Array.from(E.add(big, E.tensor(Int32Array.from([2 ** 23 - 1]), [1], 'int32')).toArray())).toEqual([2 ** 24 - 1]);
        expect(backend().fallbacks().add).toBeUndefined();
        // could reach 2^24: computed on the host, and its result refused with the value named
        expect(() => E.add(big, E.tensor(Int32Array.from([2 ** 23 + 7]), [1], 'int32'))).toThrow(/16777223/);
        expect(backend().fallbacks().add?.reason).toMatch(/beyond exact float32 integers/);
      }),
    );
  });

  it('indices not proven in range are checked on the host (clear error), proven ones run on the device', () => {
    run(() =>
      E.tidy(() => {
        const x = E.tensor([10, 20, 30], [3]);
        backend().resetCounters();
        expect(Array.from(E.gather(x, E.tensor(Int32Array.from([2, 0]), [2], 'int32')).toArray())).toEqual([30, 10]);
        expect(backend().fallbacks().gather).toBeUndefined();
        expect(() => E.gather(x, E.tensor(Int32Array.from([3]), [1], 'int32'))).toThrow(/index 3 is out of range for axis 0 of size 3/);
        expect(backend().fallbacks().gather?.reason).toMatch(/may be out of range/);
      }),
    );
  });

  it.skipIf(m.mode === 'cpu')('refuses tensors whose rows or columns reach 2^24, naming the shape', () => {
    run(() => {
      expect(() => E.tidy(() => E.full([2 ** 24, 1], 0))).toThrow(/\[16777216, 1\] has 16777216 rows of 1.*exact below 2\^24/);
      expect(() => E.tidy(() => E.full([1, 2 ** 24], 0))).toThrow(/rows of 16777216/);
    });
  });

  it.skipIf(!backend().maxElements || backend().maxElements === Number.MAX_SAFE_INTEGER)('refuses tensors larger than a texture holds', () => {
    const side = Math.sqrt(backend().maxElements);
    run(() => expect(() => E.tidy(() => E.full([side + 1, side], 0))).toThrow(/exceeds the .* a texture holds/));
  });

  it('counts host fallbacks per op with the reason', () => {
    run(() =>
      E.tidy(() => {
        backend().resetCounters();
        E.topk(E.tensor([3, 1, 2, 5], [1, 4]), 2);
        E.topk(E.tensor([3, 1, 2, 5], [2, 2]), 1);
        const f = backend().fallbacks();
        expect(Object.keys(f)).toEqual(['topkIndices']);
        expect(f.topkIndices!.count).toBe(2);
        expect(f.topkIndices!.reason).toMatch(/topk/);
        expect(backend().nativeRuns().takeAlongAxis).toBe(2);
      }),
    );
  });

  it('rejects float64 with a clear error', () => {
    run(() => expect(() => E.tensor(Float64Array.from([1]), [1], 'float64')).toThrow(/gpujs.*does not support float64|float64 is not supported/));
  });
});
