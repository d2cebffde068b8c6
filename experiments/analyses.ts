/**
 * The analyses a suite asks for after its SAEs are trained (SuiteConfig.analyses; the 'paper'
 * suite): the steering sweep of the chosen g-SAE vs TopK pairs (eval/steering_investigation.ts,
 * resumable per SAE) and the dictionary comparison of every grid pair (eval/feature_splitting.ts).
 * Reads the run folder the runner has just written (results.json) and writes `analyses.json`
 * beside it, which the report renders (report/paper.ts).
 */
import { join } from 'node:path';
import type { LoadedModel } from './default_model.js';
import { defaultPairs, readRun, type RunPair, type RunRow } from './eval/run_dir.js';
import { steeringInvestigation, type SteeringInvestigationResult } from './eval/steering_investigation.js';
import { featureSplittingRun, type PairSplitting } from './eval/feature_splitting.js';
import { writeFileAtomic } from '../sae/store/shard.js';
import { isGridRun, type SuiteConfig } from './suites.js';

export const ANALYSES_FILE = 'analyses.json';

export interface Analyses {
  steering: SteeringInvestigationResult;
  splitting: PairSplitting[];
  seconds: { steering: number; splitting: number };
}

/**
 * The g-SAE vs TopK pairs of the grid (suites.ts isGridRun; each g-SAE with the TopK of its k, as
 * run_dir.ts defaultPairs pairs them), keeping only k in `ks` and g-SAE β in `betas` (null: all).
 */
export function gridPairs(rows: readonly RunRow[], ks: readonly number[] | null, betas: readonly number[] | null): RunPair[] {
  const ids = rows
    .filter((r) => isGridRun(r.id) && (!ks || ks.includes(r.k)) && (r.variant !== 'gsae' || !betas || betas.includes(Number(r.beta))))
    .map((r) => r.id);
  return defaultPairs(rows, ids);
}

export function runAnalyses(outDir: string, cfg: NonNullable<SuiteConfig['analyses']>, model: LoadedModel, log: (s: string) => void): Analyses {
  const info = readRun(outDir);
  const t0 = Date.now();
  const st = cfg.steering;
  const steeringPairs = gridPairs(info.rows, st.ks, st.betas);
  if (steeringPairs.length === 0) throw new Error(`analyses: no g-SAE / TopK pair at k ∈ {${st.ks.join(', ')}}, β ∈ {${st.betas.join(', ')}} among the runs`);
  log(`steering sweep: ${steeringPairs.map((p) => `${p.gsae}/${p.topk}`).join(', ')}; c ∈ {${st.cs.join(', ')}}, ${st.latents} latents per sample`);
  const steering = steeringInvestigation(info, { pairs: steeringPairs, cs: st.cs, latents: st.latents, topN: st.topN, batchSeqs: st.batchSeqs, model, log });
  const t1 = Date.now();
  const splitting = featureSplittingRun(info, { pairs: gridPairs(info.rows, null, null), matchThreshold: cfg.splitting.tau, splitThreshold: cfg.splitting.tau, log });
  const out: Analyses = { steering, splitting, seconds: { steering: (t1 - t0) / 1000, splitting: (Date.now() - t1) / 1000 } };
  writeFileAtomic(join(outDir, ANALYSES_FILE), JSON.stringify(out));
  return out;
}
