/**
 * The layout shows the architecture: every import of a non-test .ts file points down the layers
 *
 *   cli → experiments → (sae, models) → engine
 *
 * A file may import its own top-level folder and any folder below it. sae/ and models/ are
 * siblings and import neither each other: an SAE is trained on activations (a store or a tensor
 * file), never on a model; experiments/ is where the two meet (capture, splicing, steering).
 * Packages (`gpu.js`, `node:fs`, ...) are not layers and are not checked; test/ may import anything.
 *
 * Imports are read with TypeScript's own scanner (`ts.preProcessFile`: static and dynamic
 * imports, `import type`, `export ... from`, `typeof import(...)`), so comments and strings that
 * look like imports do not count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Each layered folder and the folders it may import (itself included). */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  engine: ['engine'],
  models: ['models', 'engine'],
  sae: ['sae', 'engine'],
  experiments: ['experiments', 'sae', 'models', 'engine'],
  cli: ['cli', 'experiments', 'sae', 'models', 'engine'],
};

/** Top-level entries that hold no layered source: tests, data, build output, tooling. */
const NOT_LAYERED = new Set(['test', 'data', 'bin', 'dist', 'node_modules', 'runs', 'shared']);
/** Tooling .ts files at the repository root. */
const ROOT_TOOLING = new Set(['vitest.config.ts']);

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

/** The top-level folder a repository-relative path lies in ('' for a file at the root). */
function topOf(rel: string): string {
  const parts = rel.split('/');
  return parts.length > 1 ? parts[0]! : '';
}

/**
 * The layering violations of one file. `file` is relative to the repository root (POSIX
 * separators); `source` is its text.
 */
export function checkImports(file: string, source: string): Violation[] {
  const from = topOf(file);
  const allowed = MAY_IMPORT[from];
  if (!allowed) return [{ file, line: 1, specifier: '', message: `${file} is not in a layered folder (${Object.keys(MAY_IMPORT).join(', ')})` }];
  const out: Violation[] = [];
  for (const ref of ts.preProcessFile(source, true, true).importedFiles) {
    const spec = ref.fileName;
    if (!spec.startsWith('.') && !spec.startsWith('/')) continue; // a package
    const target = path.posix.normalize(spec.startsWith('/') ? path.posix.relative(ROOT, spec) : path.posix.join(path.posix.dirname(file), spec));
    const to = target.startsWith('..') ? '(outside the repository)' : topOf(target) || '(repository root)';
    if (allowed.includes(to)) continue;
    const line = source.slice(0, ref.pos).split('\n').length;
    const why = MAY_IMPORT[to] && MAY_IMPORT[to]!.includes(from) ? 'points up' : 'crosses to a folder it may not import';
    out.push({ file, line, specifier: spec, message: `${file}:${line} imports '${spec}' (${to}/): ${why}; ${from}/ may import ${allowed.map((a) => `${a}/`).join(', ')}` });
  }
  return out;
}

/** Every non-test .ts file of the repository, relative to the root. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name.startsWith('.') || (!dir && NOT_LAYERED.has(e.name)) || e.name === 'node_modules') continue;
        walk(rel);
      } else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts') && !(dir === '' && ROOT_TOOLING.has(e.name))) {
        out.push(rel);
      }
    }
  };
  walk('');
  return out.sort();
}

describe('the checker', () => {
  it('flags an upward import, naming the file, line and import', () => {
    const v = checkImports('engine/backends/gpujs/bench.ts', "import * as E from '../../index.js';\nimport { makeConfig } from '../../../models/gpt2/config.js';\n");
    expect(v).toHaveLength(1);
    expect(v[0]!.line).toBe(2);
    expect(v[0]!.message).toContain("engine/backends/gpujs/bench.ts:2 imports '../../../models/gpt2/config.js' (models/): points up");
  });

  it('flags dynamic, type-only and re-exporting imports too', () => {
    const src = [
      "const m = await import('../cli/main.js');",
      "import type { Row } from '../experiments/runner.js';",
      "export { x } from '../cli/progress.js';",
      "type T = typeof import('../experiments/suites.js');",
    ].join('\n');
    expect(checkImports('sae/trainer.ts', src).map((v) => v.line)).toEqual([1, 2, 3, 4]);
  });

  it('flags imports between the siblings sae/ and models/', () => {
    expect(checkImports('sae/x.ts', "import { a } from '../models/gpt2/model.js';")[0]!.message).toContain('crosses');
    expect(checkImports('models/gpt2/x.ts', "import { a } from '../../sae/topk.js';")[0]!.message).toContain('crosses');
  });

  it('accepts imports down the layers, within a folder, and of packages; ignores comments and strings', () => {
    const src = [
      "import * as E from '../engine/index.js';",
      "import { topk } from '../sae/topk.js';",
      "import { load } from '../models/gpt2/params.js';",
      "import { run } from './runner.js';",
      "import yargs from 'yargs';",
      "import { readFileSync } from 'node:fs';",
      "// import { main } from '../cli/main.js';",
      "const s = \"import '../cli/main.js'\";",
    ].join('\n');
    expect(checkImports('experiments/x.ts', src)).toEqual([]);
    expect(checkImports('cli/commands/x.ts', "import { a } from '../../experiments/runner.js';")).toEqual([]);
  });

  it('flags a file outside the layered folders and an import that leaves the repository', () => {
    expect(checkImports('tools/x.ts', '')[0]!.message).toContain('not in a layered folder');
    expect(checkImports('engine/x.ts', "import { a } from '../../elsewhere/a.js';")[0]!.message).toContain('outside the repository');
  });
});

describe('the repository', () => {
  const files = sourceFiles();

  it('finds the source files', () => {
    // a sanity floor, so a broken walk cannot pass vacuously
    for (const top of Object.keys(MAY_IMPORT)) expect(files.some((f) => f.startsWith(`${top}/`))).toBe(true);
    expect(files.length).toBeGreaterThan(100);
  });

  it('every import points down the layers', () => {
    const violations = files.flatMap((f) => checkImports(f, readFileSync(path.join(ROOT, f), 'utf8')));
    expect(violations.map((v) => v.message), violations.map((v) => v.message).join('\n')).toEqual([]);
  });
});
