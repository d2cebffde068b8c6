/**
 * Stand-ins for the Node built-ins that the engine, GPT-2 and SAE modules import, used only when
 * they are bundled for a browser page: the explorer's page (experiments/explorer/bundle.ts) and the
 * gpujs browser equivalence harness (test/backends/gpujs/browser/harness.ts) alias every `node:*`
 * import here. The pages read no files and start no worker threads; if code reaches one of these
 * it throws saying which. One file for both bundles, so a new Node import in the engine is stubbed once.
 */
function unavailable(what: string): never {
  throw new Error(`${what} is a Node API; not available in a browser page`);
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
export const existsSync = (): boolean => false;
export const mkdirSync = (): never => unavailable('fs.mkdirSync');
export const statSync = (): never => unavailable('fs.statSync');
export const readdirSync = (): never => unavailable('fs.readdirSync');
export const openSync = (): never => unavailable('fs.openSync');
export const closeSync = (): never => unavailable('fs.closeSync');
export const fsyncSync = (): never => unavailable('fs.fsyncSync');
export const writeSync = (): never => unavailable('fs.writeSync');
export const readSync = (): never => unavailable('fs.readSync');
export const rmSync = (): never => unavailable('fs.rmSync');
// node:url
export const fileURLToPath = (u: string): string => String(u).replace(/^file:\/\//, '');
export const pathToFileURL = (p: string): URL => new URL(`file://${p}`);
// node:crypto
export const createHash = (): never => unavailable('crypto.createHash');
// node:worker_threads
export class Worker {
  constructor() {
    unavailable('worker_threads.Worker');
  }
}
// node:os and node:path (named and default imports)
export const cpus = (): unknown[] => [];
export const availableParallelism = (): number => 1;
export const join = (...p: string[]): string => p.join('/');
export const dirname = (p: string): string => p.replace(/\/[^/]*$/, '');
export const basename = (p: string): string => p.replace(/^.*\//, '');
export const resolve = (...p: string[]): string => p.join('/');
export const relative = (_a: string, b: string): string => b;
export const sep = '/';
const stub = { cpus, availableParallelism, join, dirname, basename, resolve, relative, sep, setFlagsFromString: (): never => unavailable('v8.setFlagsFromString') };
export default stub;
