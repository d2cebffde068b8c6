/**
 * gsae engine: public API.
 *
 *   import * as E from './engine/index.js';
 *   const [loss, grads] = E.valueAndGrad(lossFn)(params, batch);   // reverse mode over a pytree
 *   const step = E.jit((p, s, b) => ...);                           // traced once per shapes, replayed
 *   E.tidy(() => ...); E.memory();                                  // deterministic freeing
 */
import './backends/reference/index.js';
import './backends/wasm/index.js';
import './backends/gpujs/index.js';

export type { DType, TypedArray } from './dtype.js';
export type { Shape } from './shape.js';
export type { Backend, BufferHandle, TensorRef, MemoryInfo } from './backend.js';
export { Tensor } from './tensor.js';
export * from './errors.js';
export {
  backend,
  backendNames,
  backendStatus,
  dispose,
  getBackend,
  keep,
  memory,
  registerBackend,
  setBackend,
  tidy,
  toBackend,
} from './engine.js';
export { tensor, scalar } from './create_host.js';
export { grad, valueAndGrad, vjp, vjpRetained, customVjp } from './autodiff.js';
export { jit } from './jit.js';
export { allOps, getOp } from './ops/registry.js';
export * from './ops/elementwise.js';
export { sum, max, argmax, sumToShape } from './ops/reduce.js';
export * from './ops/movement.js';
export { matmul } from './ops/matmul.js';
export * from './ops/indexing.js';
export * from './ops/create.js';
export * from './ops/topk.js';
export * from './ops/gsae_topk.js';
export * from './ops/sparse.js';
export * from './ops/optim.js';
export * from './nn/functional.js';
export { flatten, mapTensors, tensorLeaves } from './tree.js';
export * from './io/safetensors.js';
export * from './random.js';
export * from './random_torch.js';
