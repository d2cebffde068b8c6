/** Pytrees: nested arrays and plain objects whose leaves are tensors (or other values). */
import { Tensor } from './tensor.js';

export type Tree<T = Tensor> = T | readonly Tree<T>[] | { readonly [k: string]: Tree<T> };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
}

export interface Flat {
  leaves: unknown[];
  /** A string describing the structure (keys and nesting), for caches. */
  structure: string;
  rebuild(leaves: readonly unknown[]): unknown;
}

export function flatten(tree: unknown): Flat {
  const leaves: unknown[] = [];
  const walk = (x: unknown): { s: string; build: (it: Iterator<unknown>) => unknown } => {
    if (Array.isArray(x)) {
      const kids = x.map(walk);
      return { s: `[${kids.map((k) => k.s).join(',')}]`, build: (it) => kids.map((k) => k.build(it)) };
    }
    if (isPlainObject(x)) {
      const keys = Object.keys(x).sort();
      const kids = keys.map((k) => walk(x[k]));
      return {
        s: `{${keys.map((k, i) => `${JSON.stringify(k)}:${kids[i]!.s}`).join(',')}}`,
        build: (it) => Object.fromEntries(keys.map((k, i) => [k, kids[i]!.build(it)])),
      };
    }
    leaves.push(x);
    return { s: '*', build: (it) => it.next().value };
  };
  const root = walk(tree);
  return { leaves, structure: root.s, rebuild: (ls) => root.build(ls[Symbol.iterator]()) };
}

export function tensorLeaves(tree: unknown): Tensor[] {
  return flatten(tree).leaves.filter((l): l is Tensor => l instanceof Tensor);
}

/** Maps every tensor leaf through `fn`, keeping the structure. */
export function mapTensors<R>(tree: unknown, fn: (t: Tensor) => R): unknown {
  const f = flatten(tree);
  return f.rebuild(f.leaves.map((l) => (l instanceof Tensor ? fn(l) : l)));
}
