/**
 * Stand-ins for the Node built-ins the engine imports (node:fs, node:module, node:os, node:path,
 * node:worker_threads), used only when bundling the engine for the browser page (harness.ts
 * aliases every `node:*` import here). The engine touches them lazily — file I/O, the wasm
 * backend's worker pool, the gpujs backend's Node-only probes — so in the page they are never
 * called by the gpujs equivalence run; if one is, it throws saying which.
 */
function unavailable(what: string): never {
  throw new Error(`${what} is a Node API; not available in the browser page`);
}

// node:module
export function createRequire(): (id: string) => never {
  return (id: string) => unavailable(`require('${id}')`);
}
// node:fs
export const readFileSync = (): never => unavailable('fs.readFileSync');
export const writeFileSync = (): never => unavailable('fs.writeFileSync');
export const renameSync = (): never => unavailable('fs.renameSync');
export const unlinkSync = (): never => unavailable('fs.unlinkSync');
// node:worker_threads
export class Worker {
  constructor() {
    unavailable('worker_threads.Worker');
  }
}
// node:os and node:path (default imports)
const stub = {
  cpus: (): unknown[] => [],
  availableParallelism: (): number => 1,
  join: (...p: string[]): string => p.join('/'),
  dirname: (p: string): string => p.replace(/\/[^/]*$/, ''),
  basename: (p: string): string => p.replace(/^.*\//, ''),
};
export default stub;
