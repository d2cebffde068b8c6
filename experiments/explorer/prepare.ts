/**
 * `gsae explore` computes the features it needs before serving, so one command opens the
 * explorer on a fresh run of `gsae experiment`: for the dictionaries on show by default (each
 * g-SAE and the TopK of the same k, the comparison view's pairs, of the first seed; every SAE
 * with `all`) whose
 * `features/` is missing or was interrupted, it runs `gsae features` (experiments/features/run.ts,
 * same files, same defaults except the steering effect's size) over the run's held-out eval
 * store, one SAE after the other, resuming an interrupted pass from its checkpoint.
 *
 * The eval store is the one the run evaluated on: results.json `meta.stores.eval` (recorded since
 * the runner wrote it), else the runner's cache layout rebuilt from meta (model id, hook, seqLen,
 * evalTokens) under the cache folder, as runs written before that recorded nothing. The held-out
 * check is runFeatures' own (it reads the suite's results.json for the training range), so a
 * store overlapping the SAE's training tokens is refused here exactly as in `gsae features`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { defaultModel, type LoadedModel } from '../default_model.js';
import { FEATURE_DEFAULTS, runFeatures } from '../features/run.js';
import { FEATURES_DIR, FEATURES_FORMAT, FEATURES_INDEX, FEATURES_VERSION } from '../features/schema.js';
import { STATE_FILE } from '../features/state.js';
import { storeDirFor } from '../runner.js';
import { readSaelens, SAE_CFG_FILENAME } from '../../sae/saelens.js';
import { MANIFEST } from '../../sae/store/manifest.js';
import { defaultPairs, ExplorerInputError, findDictionaries } from './site.js';

/** What state a dictionary's features/ is in. */
export type FeaturesState = 'complete' | 'interrupted' | 'missing';

export function featuresState(saeDir: string): FeaturesState {
  const ix = join(saeDir, FEATURES_DIR, FEATURES_INDEX);
  if (existsSync(join(saeDir, FEATURES_DIR, STATE_FILE))) return 'interrupted';
  if (!existsSync(ix)) return 'missing';
  try {
    const j = JSON.parse(readFileSync(ix, 'utf8')) as { format?: unknown; version?: unknown; complete?: unknown };
    // another format or version is left to buildSite, which names the problem
    if (j.format !== FEATURES_FORMAT || j.version !== FEATURES_VERSION) return 'complete';
    return j.complete === true ? 'complete' : 'interrupted';
  } catch {
    return 'complete'; // unreadable JSON: buildSite reports it as one line
  }
}

/**
 * The dictionaries explore needs features for: the members of the default comparison pairs (each
 * g-SAE and the TopK of its k) of the run's first seed — a three-seed run has every SAE in some
 * pair, and one seed's dictionaries are what the latent views need; the comparison view works on
 * decoders alone — or every SAE with `all`; a lone SAE itself.
 */
export function neededDictionaries(target: string, all: boolean): { id: string; dir: string }[] {
  const found = findDictionaries(target);
  if (all || found.dirs.length === 1) return found.dirs;
  const withSpec = found.dirs.map((d) => ({ ...d, spec: readSaelens(d.dir).spec }));
  const pairs = defaultPairs(withSpec);
  const seedOf = (id: string): number | null => {
    const m = /-s(\d+)$/.exec(id);
    return m ? Number(m[1]) : null;
  };
  const seeds = pairs.flat().map(seedOf).filter((v): v is number => v !== null);
  const first = seeds.length ? Math.min(...seeds) : null;
  const chosen = first === null ? pairs : pairs.filter(([a, b]) => seedOf(a) === first && seedOf(b) === first);
  const ids = new Set(chosen.flat());
  return found.dirs.filter((d) => ids.has(d.id));
}

interface RunMeta {
  model?: { id?: string; dir?: string };
  stores?: { eval?: string };
  config?: { hook?: string; seqLen?: number; evalTokens?: number };
}

/** The results.json of the run that holds `target` (a run folder, or an SAE inside one: <suite>/runs/<id>/sae). */
export function runResultsPath(target: string): string | null {
  const t = resolve(target);
  if (existsSync(join(t, 'results.json')) && existsSync(join(t, 'runs'))) return join(t, 'results.json');
  const saeDir = existsSync(join(t, 'sae', SAE_CFG_FILENAME)) ? join(t, 'sae') : t;
  const runsDir = dirname(dirname(saeDir));
  if (basename(runsDir) === 'runs' && existsSync(join(dirname(runsDir), 'results.json'))) return join(dirname(runsDir), 'results.json');
  return null;
}

function readMeta(results: string): RunMeta {
  try {
    return ((JSON.parse(readFileSync(results, 'utf8')) as { meta?: RunMeta }).meta ?? {}) as RunMeta;
  } catch (e) {
    throw new ExplorerInputError(`${results}: not valid JSON (${(e as Error).message})`);
  }
}

/** The run's held-out eval store, with how it was found; null when the target records no run. */
export function runEvalStore(target: string, cacheDir: string): { dir: string; why: string } | null {
  const results = runResultsPath(target);
  if (!results) return null;
  const meta = readMeta(results);
  if (meta.stores?.eval) return { dir: meta.stores.eval, why: `${results} meta.stores.eval` };
  const c = meta.config;
  if (meta.model?.id && c?.hook && c.seqLen && c.evalTokens) {
    return { dir: storeDirFor(cacheDir, meta.model.id, c.hook, 'val', c.seqLen, c.evalTokens), why: `the runner's cache layout under ${cacheDir}, from ${results}` };
  }
  return null;
}

export interface PrepareOptions {
  /** every SAE of the run, not only the comparison pairs' */
  all: boolean;
  /** a held-out store to use instead of the run's eval store */
  store?: string;
  cacheDir: string;
  /** GPT-2 folder the store was captured from (default: the run's results.json model, else the default model) */
  model?: string;
  steeringContexts: number;
  steeringLen: number;
  progress: boolean;
  log: (s: string) => void;
  shouldStop?: () => boolean;
}

export interface Computed {
  id: string;
  dir: string;
  /** true when an interrupted pass was resumed */
  resumed: boolean;
  seconds: number;
  tokens: number;
}

export interface PrepareResult {
  computed: Computed[];
  /** dictionaries whose features were already there */
  present: string[];
  store: string | null;
  /** true when the user stopped it (Ctrl-C): the last pass is checkpointed */
  interrupted: boolean;
  /** one line per computation, for the CLI and the page */
  summary: string[];
}

/**
 * Computes the missing features explore needs. Without a store (none given, none recorded by a
 * run) nothing is computed and the SAEs without features are left to buildSite's notes / error.
 */
export async function prepareFeatures(target: string, o: PrepareOptions): Promise<PrepareResult> {
  const needed = neededDictionaries(target, o.all);
  const todo = needed.map((d) => ({ ...d, state: featuresState(d.dir) })).filter((d) => d.state !== 'complete');
  const present = needed.filter((d) => !todo.some((t) => t.id === d.id)).map((d) => d.id);
  const res: PrepareResult = { computed: [], present, store: null, interrupted: false, summary: [] };
  const which = o.all || needed.length === 1 ? '' : ' (the TopK / g-SAE pairs of the first seed; --all: every SAE)';
  if (todo.length === 0) {
    o.log(`explore: features present for all ${needed.length} dictionar${needed.length === 1 ? 'y' : 'ies'} needed${which}`);
    return res;
  }

  let store: string;
  if (o.store) {
    if (!existsSync(join(o.store, MANIFEST))) throw new ExplorerInputError(`--store ${o.store}: not an activation store (no ${MANIFEST})`);
    store = o.store;
  } else {
    const found = runEvalStore(target, o.cacheDir);
    if (!found) {
      // nothing recorded to compute from: an SAE folder outside a run
      o.log(`explore: ${todo.map((t) => t.id).join(', ')} ha${todo.length === 1 ? 's' : 've'} no features and ${target} records no held-out store; pass --store <held-out store> to compute them here`);
      return res;
    }
    if (!existsSync(join(found.dir, MANIFEST))) {
      throw new ExplorerInputError(
        `the run's held-out eval store ${found.dir} (${found.why}) is not there, so the missing features cannot be computed: pass --store <held-out store> (or --cache <folder the run used>), or --no-compute`,
      );
    }
    store = found.dir;
    o.log(`explore: held-out store ${store} (${found.why})`);
  }
  res.store = store;

  const model = await loadModel(target, o);
  const steering = o.steeringContexts > 0 ? `steering effect on ${o.steeringContexts} × ${o.steeringLen} tokens` : 'no steering effect (--steering-contexts 0)';
  o.log(`explore: computing features for ${todo.length} of the ${needed.length} dictionar${needed.length === 1 ? 'y' : 'ies'} needed${which}: ${todo.map((t) => `${t.id}${t.state === 'interrupted' ? ' (resuming)' : ''}`).join(', ')}; ${steering}`);
  const t0 = Date.now();
  for (const [i, d] of todo.entries()) {
    const left = todo.length - i;
    const eta = i > 0 ? `, ETA ${Math.round(((Date.now() - t0) / 1000 / i) * left)} s for the ${left} left` : '';
    o.log(`explore: [${i + 1}/${todo.length}] features of ${d.id} → ${join(d.dir, FEATURES_DIR)}${eta}`);
    const ix = await runFeatures({
      saeDir: d.dir, storeDir: store, model, steeringContexts: o.steeringContexts, steeringLen: o.steeringLen,
      progress: o.progress, log: o.log, shouldStop: o.shouldStop,
    });
    if (!ix) {
      res.interrupted = true;
      return res;
    }
    const c: Computed = { id: d.id, dir: d.dir, resumed: d.state === 'interrupted', seconds: ix.timing.seconds, tokens: ix.tokens };
    res.computed.push(c);
    res.summary.push(
      `computed features of ${c.id}${c.resumed ? ' (resumed)' : ''} over ${c.tokens} held-out tokens of ${store} in ${c.seconds.toFixed(1)} s (${ix.steeringOptions ? `steering effect on ${ix.steeringOptions.contexts.length} × ${ix.steeringOptions.tokensPerContext} tokens` : 'no steering effect'})`,
    );
  }
  return res;
}

async function loadModel(target: string, o: PrepareOptions): Promise<LoadedModel> {
  let dir = o.model;
  if (!dir) {
    const results = runResultsPath(target);
    const recorded = results ? readMeta(results).model?.dir : undefined;
    if (recorded && existsSync(join(recorded, 'config.json'))) dir = recorded;
  }
  return defaultModel({ model: dir, cacheDir: o.cacheDir, log: o.log });
}

/** The explore defaults: the features defaults (the steering effect at its small 2 × 32-token default). */
export const EXPLORE_STEERING = { contexts: FEATURE_DEFAULTS.steeringContexts, len: FEATURE_DEFAULTS.steeringLen } as const;
