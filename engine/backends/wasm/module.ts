/** Assembles every kernel into one WebAssembly module over the shared memory. */
import { encodeModule, ModuleBuilder } from './encoder.js';
import { addElementwise } from './kernels/elementwise.js';
import { addGemm, addGemmDyn, DEFAULT_GEMM, type GemmConfig } from './kernels/gemm.js';
import { addBulk, addCopy, addMovement } from './kernels/movement.js';
import { addTopk } from './kernels/topk.js';
import { addGemv } from './kernels/gemv.js';
import { addTopkRadix } from './kernels/topk_radix.js';
import { addGsaeTopk } from './kernels/gsae_topk.js';
import { addSparse } from './kernels/sparse.js';
import { addArgmax, addReductions } from './kernels/reduce.js';

export interface KernelModule {
  bytes: Uint8Array;
  /** exported function names; a kernel's index here is its id for the worker pool */
  names: string[];
  gemm: GemmConfig;
}

export function buildKernelModule(opts: { relaxed: boolean; maxPages: number; gemm?: Partial<Omit<GemmConfig, 'relaxed'>> }): KernelModule {
  const gemm: GemmConfig = { ...DEFAULT_GEMM, ...opts.gemm, relaxed: opts.relaxed };
  const mb = new ModuleBuilder();
  const gemmFn = addGemm(mb, gemm);
  addGemv(mb, { relaxed: opts.relaxed, KC: gemm.KC });
  addElementwise(mb, opts.relaxed);
  addReductions(mb);
  addArgmax(mb);
  addMovement(mb);
  addCopy(mb);
  addBulk(mb);
  addGsaeTopk(mb, { relaxed: opts.relaxed, KC: gemm.KC, sift: addTopk(mb) });
  addSparse(mb);
  addTopkRadix(mb);
  addGemmDyn(mb, gemmFn);
  const bytes = encodeModule({ initial: 1, maximum: opts.maxPages, shared: true }, mb.funcs);
  return { bytes, names: mb.funcs.filter((f) => f.exported).map((f) => f.name), gemm };
}
