/**
 * What the explorer's page reads first (`manifest.json`): the dictionaries on show, where their
 * data lives inside the site, the model to run in the page, the run's results, and which pairs
 * the comparison view offers. Written by site.ts (Node), read by the page (page/, browser); plain
 * JSON, paths relative to the site root.
 */
import type { SaeSpec } from '../../sae/saelens.js';

export const MANIFEST_FILE = 'manifest.json';

export interface DictionaryEntry {
  /** short id, unique in the site (the run's SAE id, or the SAE folder's name) */
  id: string;
  /** what the user reads, e.g. "gsae-k16-b1 (g-SAE β=1)" */
  label: string;
  /** site path of the dictionary's folder: `<base>/sae.json`, `<base>/sae_weights.safetensors`, `<base>/features/...` */
  base: string;
  spec: SaeSpec;
  /** true when `gsae features` output is there (index.json complete) */
  hasFeatures: boolean;
  /** the folder on disk, shown to the user (and in the "run gsae features" hint) */
  dir: string;
}

export interface ComparisonEntry {
  a: string;
  b: string;
  /** site path of the ComparisonResult JSON */
  file: string;
}

export interface SiteManifest {
  format: 'gsae-explorer';
  version: 1;
  title: string;
  createdAt: string;
  /** the run folder's results (null for a single SAE folder) */
  run: { dir: string; results: string | null; report: string | null; plots: string[] } | null;
  /** `hasVocab`: the model folder has gsae_vocab.json (else the full GPT-2 BPE) */
  model: { dir: string; base: string; vocabSize: number; nLayer: number; nEmbd: number; hasVocab: boolean } | null;
  dictionaries: DictionaryEntry[];
  comparisons: ComparisonEntry[];
  /** cosine at or above which an assigned pair counts as matched */
  matchThreshold: number;
  /** cosine at or above which several partners of one latent make it a split */
  splitThreshold: number;
  /** what `gsae explore` computed before serving (one line each; absent or empty: nothing) */
  prepared?: string[];
}

export interface MatchedPair {
  a: number;
  b: number;
  cosine: number;
}

/** Decoder-cosine comparison of dictionaries A and B (see match.ts). */
export interface ComparisonResult {
  a: string;
  b: string;
  method: 'hungarian';
  threshold: number;
  splitThreshold: number;
  dSaeA: number;
  dSaeB: number;
  /** the optimal one-to-one assignment, every pair (cosine may be below the threshold) */
  pairs: MatchedPair[];
  /** pairs with cosine ≥ threshold */
  matched: number;
  /** A latents whose assigned partner is below the threshold (or that have none) */
  unmatchedA: number[];
  unmatchedB: number[];
  /** one latent of A whose decoder direction is close (≥ splitThreshold) to two or more of B, and vice versa */
  splitsA: { latent: number; partners: { index: number; cosine: number }[] }[];
  splitsB: { latent: number; partners: { index: number; cosine: number }[] }[];
  /** histogram of the assigned pairs' cosines, for the plot */
  cosineHistogram: { edges: number[]; counts: number[]; label: string };
}
