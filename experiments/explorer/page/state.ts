/**
 * The page's state: the site manifest (loaded once by main.ts), the features index and latent
 * blocks of each dictionary (fetched on first use and cached as promises, so concurrent views
 * share one request), and the timings the browser test reads.
 */
import type { FeatureBlock, FeaturesIndex, LatentDetail } from '../../features/schema.js';
import type { DictionaryEntry, SiteManifest } from '../manifest.js';
import { loadJson } from './data.js';

export let manifest: SiteManifest;
const indexes = new Map<string, Promise<FeaturesIndex>>();
const blocks = new Map<string, Promise<FeatureBlock>>();
/** main.ts sets it once, before the first route; every view reads it through the live binding. */
export function setManifest(m: SiteManifest): void {
  manifest = m;
}

// main.ts stamps scriptStartMs in its body, i.e. once every module (engine, vega) has been evaluated
export const timings: Record<string, number> = {};

export function dict(id: string): DictionaryEntry {
  const d = manifest.dictionaries.find((x) => x.id === id);
  if (!d) throw new Error(`no dictionary '${id}' in this site`);
  return d;
}
export function featuresOf(d: DictionaryEntry): Promise<FeaturesIndex> {
  if (!d.hasFeatures) throw new Error(`${d.id} has no features: run 'gsae features ${d.dir} --store <held-out store>'`);
  let p = indexes.get(d.id);
  if (!p) indexes.set(d.id, (p = loadJson<FeaturesIndex>(`${d.base}/features/index.json`)));
  return p;
}
export async function detailOf(d: DictionaryEntry, i: number): Promise<LatentDetail> {
  const ix = await featuresOf(d);
  const b = ix.blocks.find((x) => i >= x.first && i < x.first + x.count);
  if (!b) throw new Error(`${d.id}: latent ${i} is outside 0..${ix.sae.dSae - 1}`);
  const key = `${d.id}/${b.file}`;
  let p = blocks.get(key);
  if (!p) blocks.set(key, (p = loadJson<FeatureBlock>(`${d.base}/features/${b.file}`)));
  const block = await p;
  const l = block.latents[i - block.first];
  if (!l || l.index !== i) throw new Error(`${d.base}/features/${b.file}: latent ${i} missing or out of order`);
  return l;
}
export const withFeatures = (): DictionaryEntry[] => manifest.dictionaries.filter((d) => d.hasFeatures);
