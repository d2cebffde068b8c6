/**
 * `node dist/experiments/bench/gpu/dawn_probe.js`: does WebGPU (Dawn, the `webgpu` npm package)
 * reach a real GPU here? Loads Dawn the way the gpujs backend does (gpujs_module.loadDawn),
 * requests an adapter, and runs one compute shader (y = a·x + y over 2^20 floats, timed) whose
 * result is checked on the host. Prints one JSON object; never throws (every failure becomes a
 * `stage` + `error`), so the GPU check (run_gpu_check.sh) records it and goes on.
 *
 * This is the route the engine's gpujs backend would take on a GPU machine (webgpu mode); that
 * mode is asynchronous and cannot back the synchronous engine yet (gpujs/README.md), so the check
 * proves the device path separately from the equivalence suite.
 */
import { loadDawn } from '../../../engine/backends/gpujs/gpujs_module.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- WebGPU's types are not in this project's lib */
type Any = any;

const N = 1 << 20;
const WGSL = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i < arrayLength(&y)) { y[i] = 2.5 * x[i] + y[i]; }
}`;

async function probe(): Promise<Record<string, unknown>> {
  const loaded = loadDawn();
  if ('error' in loaded) return { ok: false, stage: 'load', error: loaded.error };
  const { dawn, file } = loaded;
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]) as Any;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { ok: false, stage: 'adapter', file, error: 'requestAdapter returned null (no WebGPU adapter: no Vulkan driver / loader?)' };
  const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : {});
  const adapterInfo = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, isFallbackAdapter: adapter.isFallbackAdapter ?? info.isFallbackAdapter };
  const device = await adapter.requestDevice();
  const U = (globalThis as Any).GPUBufferUsage, M = (globalThis as Any).GPUMapMode;
  const x = new Float32Array(N), y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    x[i] = (i % 97) / 8;
    y[i] = (i % 13) - 6;
  }
  const mk = (data: Float32Array, usage: number) => {
    const b = device.createBuffer({ size: data.byteLength, usage });
    device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const bx = mk(x, U.STORAGE | U.COPY_DST), by = mk(y, U.STORAGE | U.COPY_DST | U.COPY_SRC);
  const read = device.createBuffer({ size: 4 * N, usage: U.MAP_READ | U.COPY_DST });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: WGSL }), entryPoint: 'main' } });
  const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: bx } }, { binding: 1, resource: { buffer: by } }] });
  const dispatch = (reps: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(Math.ceil(N / 256));
    pass.end();
    device.queue.submit([enc.finish()]);
    return device.queue.onSubmittedWorkDone();
  };
  await dispatch(1); // y = 2.5x + y once; the check below expects exactly one application before the timing
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(by, 0, read, 0, 4 * N);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(M.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  read.unmap();
  let bad = 0;
  // float32 with or without a fused multiply-add: within one rounding of the exact value
  for (let i = 0; i < N; i++) {
    const exact = 2.5 * x[i]! + y[i]!;
    if (!(Math.abs(got[i]! - exact) <= 2 ** -23 * Math.max(1, Math.abs(exact)))) bad++;
  }
  const reps = 100;
  const t0 = performance.now();
  await dispatch(reps);
  const sec = (performance.now() - t0) / 1000;
  device.destroy?.();
  return {
    ok: bad === 0, stage: 'done', file, adapter: adapterInfo, mismatches: bad,
    // 3 float32 words moved per element (read x, read y, write y)
    saxpy: { n: N, reps, seconds: sec, gbPerS: (12 * N * reps) / sec / 1e9 },
  };
}

probe()
  .then((r) => {
    console.log(JSON.stringify(r));
    process.exit(0);
  })
  .catch((e: unknown) => {
    console.log(JSON.stringify({ ok: false, stage: 'run', error: e instanceof Error ? e.message : String(e) }));
    process.exit(0);
  });
