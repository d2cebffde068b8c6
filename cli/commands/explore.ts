/**
 * `gsae explore <run-dir|sae-dir>`: the feature explorer. Serves a single-page site on
 * 127.0.0.1 (Node's http module; --host to change) or, with --static, writes the same site as
 * files that open from disk. See experiments/explorer/README.md.
 */
import { rmSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { explorerBundle } from '../../experiments/explorer/bundle.js';
import { serveSite } from '../../experiments/explorer/server.js';
import { buildSite, setBundle } from '../../experiments/explorer/site.js';
import { writeStaticSite } from '../../experiments/explorer/static_site.js';
import { EXPLORE_STEERING, prepareFeatures } from '../../experiments/explorer/prepare.js';
import { InterruptedError, watchInterrupt } from '../interrupt.js';

interface ExploreArgs {
  dir: string;
  port: number;
  host: string;
  static?: string;
  model?: string;
  'match-threshold': number;
  'split-threshold': number;
  compute: boolean;
  all: boolean;
  store?: string;
  cache: string;
  'steering-contexts': number;
  'steering-len': number;
  progress: boolean;
}

export const exploreCommand: CommandModule<object, ExploreArgs> = {
  command: 'explore <dir>',
  describe: "Browse the latents of a run or an SAE: list, dashboards, comparison, live steering (computes missing 'gsae features' output over the run's held-out store first)",
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: "a run folder of 'gsae experiment', or an SAE folder" })
      .option('port', { type: 'number', default: 8765, describe: 'port to serve on (0: any free port)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (loopback by default; the site has no access control)' })
      .option('static', { type: 'string', describe: 'write the site as files into this folder (opens from disk) instead of serving' })
      .option('model', { type: 'string', describe: 'GPT-2 folder for live steering (default: the one the features or the run record)' })
      .option('match-threshold', { type: 'number', default: 0.7, describe: 'comparison: decoder cosine at which an assigned pair counts as matched' })
      .option('split-threshold', { type: 'number', default: 0.5, describe: 'comparison: cosine at which several partners make a latent a split' })
      .option('compute', { type: 'boolean', default: true, describe: "compute missing features first (--no-compute: refuse instead, as before; then run 'gsae features' yourself)" })
      .option('all', { type: 'boolean', default: false, describe: 'compute features for every SAE of the run, not only the comparison pairs (each g-SAE and the TopK of its k)' })
      .option('store', { type: 'string', describe: "held-out store to compute missing features over (default: the run's eval store, from its results.json)" })
      .option('cache', { type: 'string', default: '.cache', describe: 'the cache folder the run used (its stores; a default model)' })
      .option('steering-contexts', { type: 'number', default: EXPLORE_STEERING.contexts, describe: 'computed features: held-out sequences for the per-latent steering effect (0: skip it, the fastest)' })
      .option('steering-len', { type: 'number', default: EXPLORE_STEERING.len, describe: 'computed features: tokens per steering context' })
      .option('progress', { type: 'boolean', default: true, describe: 'progress bars on stderr while computing features' }),
  handler: async (a) => {
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be an integer in 0..65535, got ${a.port}`);
    for (const k of ['match-threshold', 'split-threshold'] as const) {
      if (!(a[k] > -1 && a[k] <= 1)) throw new Error(`--${k} must be a cosine in (-1, 1], got ${a[k]}`);
    }
    if (!Number.isInteger(a['steering-contexts']) || a['steering-contexts'] < 0) throw new Error(`--steering-contexts must be a non-negative integer (0 skips the steering effect), got ${a['steering-contexts']}`);
    if (!Number.isInteger(a['steering-len']) || a['steering-len'] < 1) throw new Error(`--steering-len must be a positive integer, got ${a['steering-len']}`);
    let prepared: string[] = [];
    if (a.compute) {
      const log = (s: string) => process.stderr.write(`${s}\n`);
      const interrupt = watchInterrupt(log, 'stopping after this batch and writing the checkpoint');
      try {
        const r = await prepareFeatures(a.dir, {
          all: a.all, store: a.store, cacheDir: a.cache, model: a.model, steeringContexts: a['steering-contexts'], steeringLen: a['steering-len'],
          progress: a.progress, log, shouldStop: interrupt.requested,
        });
        if (r.interrupted) throw new InterruptedError('interrupted; the features pass is checkpointed: run the same gsae explore command to resume it');
        prepared = r.summary;
        for (const line of prepared) console.log(line);
      } finally {
        interrupt.dispose();
      }
    }
    // the input is checked before the (slower) page bundle is built or read
    const site = buildSite(a.dir, { model: a.model, bundle: '', matchThreshold: a['match-threshold'], splitThreshold: a['split-threshold'], prepared });
    setBundle(site, await explorerBundle());
    for (const n of site.notes) process.stderr.write(`note: ${n}\n`);
    if (a.static) {
      rmSync(a.static, { recursive: true, force: true });
      const t0 = Date.now();
      const w = writeStaticSite(site, a.static);
      console.log(`wrote ${w.files} files (${(w.bytes / 1e6).toFixed(1)} MB) to ${a.static} in ${((Date.now() - t0) / 1000).toFixed(1)} s; open ${a.static}/index.html`);
      return;
    }
    const s = await serveSite(site, a.port, a.host);
    const d = site.manifest.dictionaries;
    console.log(`gsae explore: ${d.length} dictionar${d.length === 1 ? 'y' : 'ies'} (${d.filter((x) => x.hasFeatures).length} with features)${site.manifest.model ? `, model ${site.manifest.model.dir}` : ''}`);
    console.log(`serving ${s.url}  (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      const stop = () => void s.close().then(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
