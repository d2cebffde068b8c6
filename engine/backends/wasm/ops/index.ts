/** Every wasm kernel driver by op name; ops missing here run the reference kernel on wasm memory. */
import type { WasmKernel } from '../backend.js';
import { elementwiseDrivers } from './elementwise.js';
import { gsaeTopkDrivers } from './gsae_topk.js';
import { indexingDrivers } from './indexing.js';
import { matmulBiasDriver, matmulDriver } from './matmul.js';
import { movementDrivers } from './movement.js';
import { reduceDrivers } from './reduce.js';
import { sparseDrivers } from './sparse.js';

export const wasmKernels: Record<string, WasmKernel> = {
  ...elementwiseDrivers,
  ...reduceDrivers,
  ...movementDrivers,
  ...indexingDrivers,
  ...sparseDrivers,
  ...gsaeTopkDrivers,
  matmul: matmulDriver,
  matmulBias: matmulBiasDriver,
};
