/**
 * The explorer's site as a map from URL path to content, shared by the server (server.ts) and
 * the static writer (static_site.ts) so both deliver the same files.
 *
 * Input: a run folder of `gsae experiment` (results.json, plots/*.svg, runs/<id>-s<seed>/sae/), a
 * training folder holding `sae/`, or one SAE folder (cfg.json + sae_weights.safetensors). Each
 * dictionary's `features/` (written by `gsae features`) is served as it is; at least one must
 * have them. The model (for live steering in the page) is `--model`, else the features index's
 * model.dir, else the run's results.json model.dir.
 *
 * Layout of the site:
 *   index.html, explorer.js (the page bundle), manifest.json
 *   run/results.json, run/report.md, run/plots/<name>.svg
 *   model/config.json, model/model.safetensors, model/gsae_vocab.json
 *   d/<id>/sae.json (the parsed SaeSpec), d/<id>/sae_weights.safetensors, d/<id>/features/...
 *   cmp/<a>~<b>.json (decoder-cosine comparison, computed on first request)
 *   vendor/gpu-browser.min.js (gpu.js for the page's optional gpujs backend)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, relative, resolve } from 'node:path';
import { FEATURES_DIR, FEATURES_FORMAT, FEATURES_INDEX, FEATURES_VERSION, type FeaturesIndex } from '../features/schema.js';
import { readSaelens, SAE_CFG_FILENAME, SAE_WEIGHTS_FILENAME, type SaeSpec } from '../../sae/saelens.js';
import { loadConfig } from '../../models/gpt2/params.js';
import { compareDictionaries } from './match.js';
import { MANIFEST_FILE, type ComparisonEntry, type DictionaryEntry, type SiteManifest } from './manifest.js';
import { explorerHtml } from './html.js';

/** Site path of gpu.js's browser build (a classic script: written as is by --static). */
export const GPUJS_SCRIPT = 'vendor/gpu-browser.min.js';

export class ExplorerInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExplorerInputError';
  }
}

/** One file of the site: bytes now, a file on disk, or bytes computed on first request. */
export type SiteFile = { type: string } & ({ body: string | Buffer } | { path: string } | { make: () => Buffer });

export interface Site {
  manifest: SiteManifest;
  files: Map<string, SiteFile>;
  /** lines worth telling the user (dictionaries without features, no model) */
  notes: string[];
  /** files made on request that are not in `files` (the server's comparisons of any pair) */
  onDemand?: (path: string) => SiteFile | null;
}

export interface SiteOptions {
  model?: string;
  /** the page bundle (JavaScript source) */
  bundle: string;
  matchThreshold?: number;
  splitThreshold?: number;
  /** what `gsae explore` computed before building the site (shown on the page) */
  prepared?: string[];
}

const TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.md': 'text/markdown; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream',
  '.js': 'text/javascript',
  '.html': 'text/html; charset=utf-8',
  '.csv': 'text/csv',
};
const typeOf = (p: string): string => TYPES[p.slice(p.lastIndexOf('.'))] ?? 'application/octet-stream';

const isSaeDir = (d: string): boolean => existsSync(join(d, SAE_CFG_FILENAME)) && existsSync(join(d, SAE_WEIGHTS_FILENAME));

/** The SAE folders of a target and whether it is an experiment run. */
export function findDictionaries(target: string): { run: boolean; dirs: { id: string; dir: string }[] } {
  if (!existsSync(target) || !statSync(target).isDirectory()) throw new ExplorerInputError(`${target} is not a folder (give a run folder of 'gsae experiment' or an SAE folder)`);
  if (isSaeDir(target)) return { run: false, dirs: [{ id: basename(resolve(target)), dir: target }] };
  if (isSaeDir(join(target, 'sae'))) return { run: false, dirs: [{ id: basename(resolve(target)), dir: join(target, 'sae') }] };
  const runsDir = join(target, 'runs');
  if (existsSync(runsDir) && statSync(runsDir).isDirectory()) {
    const dirs = readdirSync(runsDir)
      .sort()
      .filter((n) => isSaeDir(join(runsDir, n, 'sae')))
      .map((n) => ({ id: n, dir: join(runsDir, n, 'sae') }));
    if (dirs.length) return { run: true, dirs };
  }
  throw new ExplorerInputError(
    `${target} is neither an SAE folder (${SAE_CFG_FILENAME} + ${SAE_WEIGHTS_FILENAME}) nor a run folder with runs/<id>/sae/ (from 'gsae experiment')`,
  );
}

/** The features index of an SAE folder, or null when `gsae features` has not run there (an unfinished pass is an error). */
export function readFeaturesIndex(saeDir: string): FeaturesIndex | null {
  const p = join(saeDir, FEATURES_DIR, FEATURES_INDEX);
  if (!existsSync(p)) return null;
  let j: FeaturesIndex;
  try {
    j = JSON.parse(readFileSync(p, 'utf8')) as FeaturesIndex;
  } catch (e) {
    throw new ExplorerInputError(`${p}: not valid JSON (${(e as Error).message})`);
  }
  if (j.format !== FEATURES_FORMAT) throw new ExplorerInputError(`${p}: format '${String(j.format)}' is not '${FEATURES_FORMAT}'`);
  if (j.version !== FEATURES_VERSION) throw new ExplorerInputError(`${p}: features version ${j.version}, this explorer reads version ${FEATURES_VERSION} (re-run 'gsae features')`);
  if (!j.complete) throw new ExplorerInputError(`${p}: the features pass is incomplete (resume it: 'gsae features ${saeDir} --store <the same store>')`);
  return j;
}

function groupLabel(spec: SaeSpec): string {
  if (spec.kind === 'gsae') return `g-SAE k=${spec.k} β=${spec.beta}`;
  if (spec.kind === 'topk') return `TopK k=${spec.k}`;
  return spec.variant ?? spec.kind;
}

/** Comparison pairs offered: each g-SAE against the TopK of the same k and d_sae (the run's question). */
export function defaultPairs(dicts: Pick<DictionaryEntry, 'id' | 'spec'>[]): [string, string][] {
  const out: [string, string][] = [];
  for (const g of dicts.filter((d) => d.spec.kind === 'gsae')) {
    const seed = g.id.match(/-s\d+$/)?.[0] ?? '';
    const t = dicts.find((d) => d.spec.kind === 'topk' && d.spec.k === g.spec.k && d.spec.dSae === g.spec.dSae && d.id.endsWith(seed))
      ?? dicts.find((d) => d.spec.kind === 'topk' && d.spec.k === g.spec.k && d.spec.dSae === g.spec.dSae);
    if (t) out.push([t.id, g.id]);
  }
  if (out.length === 0 && dicts.length >= 2) out.push([dicts[0]!.id, dicts[1]!.id]);
  return out;
}

function resolveModelDir(explicit: string | undefined, indexes: (FeaturesIndex | null)[], resultsPath: string | null): { dir: string | null; why: string } {
  if (explicit) {
    if (!existsSync(join(explicit, 'config.json')) || !existsSync(join(explicit, 'model.safetensors'))) {
      throw new ExplorerInputError(`--model ${explicit}: not a GPT-2 folder (needs config.json and model.safetensors)`);
    }
    return { dir: explicit, why: '--model' };
  }
  const candidates: [string, string][] = [];
  for (const ix of indexes) if (ix?.model?.dir) candidates.push([ix.model.dir, 'the features index']);
  if (resultsPath) {
    try {
      const r = JSON.parse(readFileSync(resultsPath, 'utf8')) as { meta?: { model?: { dir?: string } } };
      if (r.meta?.model?.dir) candidates.push([r.meta.model.dir, 'results.json']);
    } catch {
      /* a broken results.json is reported by the page; the model is optional */
    }
  }
  for (const [d, why] of candidates) if (existsSync(join(d, 'config.json')) && existsSync(join(d, 'model.safetensors'))) return { dir: d, why };
  return { dir: null, why: candidates.length ? `model folder ${candidates[0]![0]} (from ${candidates[0]![1]}) is not there` : 'no model recorded' };
}

/** Builds the site for a run or SAE folder; throws ExplorerInputError (one line) on bad input. */
export function buildSite(target: string, o: SiteOptions): Site {
  const found = findDictionaries(target);
  const files = new Map<string, SiteFile>();
  const notes: string[] = [];
  const without: string[] = [];
  const dicts: DictionaryEntry[] = [];
  const indexes: (FeaturesIndex | null)[] = [];
  const specs = new Map<string, SaeSpec>();
  for (const { id, dir } of found.dirs) {
    const { spec } = readSaelens(dir);
    const ix = readFeaturesIndex(dir);
    indexes.push(ix);
    specs.set(id, spec);
    const base = `d/${id}`;
    dicts.push({ id, label: `${id} (${groupLabel(spec)})`, base, spec, hasFeatures: ix !== null, dir });
    files.set(`${base}/sae.json`, { type: typeOf('.json'), body: JSON.stringify(spec) });
    files.set(`${base}/${SAE_WEIGHTS_FILENAME}`, { type: typeOf('.safetensors'), path: join(dir, SAE_WEIGHTS_FILENAME) });
    if (ix) {
      files.set(`${base}/${FEATURES_DIR}/${FEATURES_INDEX}`, { type: typeOf('.json'), path: join(dir, FEATURES_DIR, FEATURES_INDEX) });
      for (const b of ix.blocks) {
        const p = join(dir, FEATURES_DIR, b.file);
        if (!existsSync(p)) throw new ExplorerInputError(`${join(dir, FEATURES_DIR, FEATURES_INDEX)} lists ${b.file}, which is missing (re-run 'gsae features ${dir}')`);
        files.set(`${base}/${FEATURES_DIR}/${b.file}`, { type: typeOf('.json'), path: p });
      }
    } else {
      without.push(dir);
    }
  }
  // one note for all SAEs without features (a three-seed run has a dozen), naming the first
  if (without.length === 1) notes.push(`${without[0]}: no features yet (run 'gsae features ${without[0]} --store <held-out store>' to browse its latents)`);
  else if (without.length > 1) {
    notes.push(`${without.length} SAEs have no features yet (${without[0]}, …): 'gsae explore --all' computes them all, or run 'gsae features <sae-dir> --store <held-out store>' for one`);
  }
  if (!dicts.some((d) => d.hasFeatures)) {
    const one = found.dirs.length === 1 ? found.dirs[0]!.dir : '<sae-dir>';
    throw new ExplorerInputError(
      `no features under ${target} (${found.dirs.length} SAE folder${found.dirs.length === 1 ? '' : 's'}, none with ${FEATURES_DIR}/${FEATURES_INDEX}): run 'gsae features ${one} --store <held-out store>' first`,
    );
  }

  let run: SiteManifest['run'] = null;
  const resultsPath = found.run && existsSync(join(target, 'results.json')) ? join(target, 'results.json') : null;
  if (found.run) {
    const plots: string[] = [];
    if (resultsPath) files.set('run/results.json', { type: typeOf('.json'), path: resultsPath });
    if (existsSync(join(target, 'report.md'))) files.set('run/report.md', { type: typeOf('.md'), path: join(target, 'report.md') });
    const pdir = join(target, 'plots');
    if (existsSync(pdir)) {
      for (const n of readdirSync(pdir).sort().filter((n) => n.endsWith('.svg'))) {
        files.set(`run/plots/${n}`, { type: typeOf('.svg'), path: join(pdir, n) });
        plots.push(`run/plots/${n}`);
      }
    }
    run = { dir: target, results: resultsPath ? 'run/results.json' : null, report: files.has('run/report.md') ? 'run/report.md' : null, plots };
  }

  const m = resolveModelDir(o.model, indexes, resultsPath);
  let model: SiteManifest['model'] = null;
  if (m.dir) {
    const cfg = loadConfig(m.dir);
    const dIn = new Set(dicts.map((d) => d.spec.dIn));
    if (!dIn.has(cfg.n_embd)) throw new ExplorerInputError(`model ${m.dir} has n_embd ${cfg.n_embd}, but the SAEs read d_in ${[...dIn].join(', ')} (pass the model they were trained on with --model)`);
    model = { dir: m.dir, base: 'model', vocabSize: cfg.vocab_size, nLayer: cfg.n_layer, nEmbd: cfg.n_embd, hasVocab: existsSync(join(m.dir, 'gsae_vocab.json')) };
    for (const f of ['config.json', 'model.safetensors', 'gsae_vocab.json']) {
      if (existsSync(join(m.dir, f))) files.set(`model/${f}`, { type: typeOf(f), path: join(m.dir, f) });
    }
  } else {
    notes.push(`live steering off: ${m.why} (pass --model <GPT-2 folder>)`);
  }

  const matchThreshold = o.matchThreshold ?? 0.7;
  const splitThreshold = o.splitThreshold ?? 0.5;
  const comparisons: ComparisonEntry[] = [];
  for (const [a, b] of defaultPairs(dicts)) {
    const da = dicts.find((d) => d.id === a)!;
    const db = dicts.find((d) => d.id === b)!;
    if (da.spec.dIn !== db.spec.dIn) continue;
    const file = comparisonPath(a, b);
    comparisons.push({ a, b, file });
    files.set(file, comparisonFile(da, db, matchThreshold, splitThreshold));
  }
  // the server also answers any other pair of the same d_in on request (the static site holds only the pairs above)
  const anyPair = (path: string): SiteFile | null => {
    const m = /^cmp\/(.+)~(.+)\.json$/.exec(path);
    const da = m && dicts.find((d) => d.id === m[1]);
    const db = m && dicts.find((d) => d.id === m[2]);
    return da && db && da !== db && da.spec.dIn === db.spec.dIn ? comparisonFile(da, db, matchThreshold, splitThreshold) : null;
  };

  const manifest: SiteManifest = {
    format: 'gsae-explorer',
    version: 1,
    title: found.run ? `gsae explorer — ${relative(process.cwd(), resolve(target)) || target}` : `gsae explorer — ${found.dirs[0]!.id}`,
    createdAt: new Date().toISOString(),
    run,
    model,
    dictionaries: dicts,
    comparisons,
    matchThreshold,
    splitThreshold,
    prepared: o.prepared ?? [],
  };
  files.set(MANIFEST_FILE, { type: typeOf('.json'), body: JSON.stringify(manifest) });
  files.set('explorer.js', { type: typeOf('.js'), body: o.bundle });
  // gpu.js's browser build, loaded by the page only when the user asks for the gpujs backend
  try {
    files.set(GPUJS_SCRIPT, { type: typeOf('.js'), path: createRequire(import.meta.url).resolve('gpu.js/dist/gpu-browser.min.js') });
  } catch {
    notes.push("gpu.js's browser build is not installed: the page offers no gpujs backend");
  }
  return { manifest, files, notes, onDemand: anyPair };
}

export const comparisonPath = (a: string, b: string): string => `cmp/${a}~${b}.json`;

function comparisonFile(da: DictionaryEntry, db: DictionaryEntry, threshold: number, splitThreshold: number): SiteFile {
  return {
    type: typeOf('.json'),
    make: () => {
      const wa = readSaelens(da.dir).params.W_dec!;
      const wb = readSaelens(db.dir).params.W_dec!;
      const r = compareDictionaries({ id: da.id, wDec: wa.data as Float32Array, dSae: da.spec.dSae }, { id: db.id, wDec: wb.data as Float32Array, dSae: db.spec.dSae }, da.spec.dIn, threshold, splitThreshold);
      return Buffer.from(JSON.stringify(r));
    },
  };
}

/** Puts the page bundle into a site built with a placeholder. */
export function setBundle(site: Site, code: string): void {
  site.files.set('explorer.js', { type: typeOf('.js'), body: code });
}

/** The bytes of one site file. */
export function fileBytes(f: SiteFile): Buffer {
  if ('body' in f) return typeof f.body === 'string' ? Buffer.from(f.body) : f.body;
  if ('path' in f) return readFileSync(f.path);
  return f.make();
}

export { explorerHtml };
