/**
 * #/compare/<a>~<b>: two dictionaries matched by decoder cosine (Hungarian assignment, computed by
 * match.ts in Node): matched, unmatched and split latents, and the cosine histogram.
 */
import type { ComparisonResult, DictionaryEntry } from '../manifest.js';
import { loadJson, siteMode } from './data.js';
import { fmt, h } from './dom.js';
import { dictPicker } from './layout.js';
import { draw, histogramSpec } from './plots.js';
import { dict, manifest } from './state.js';

export async function compareView(main: HTMLElement, pair: string): Promise<void> {
  const [a, b] = pair.split('~') as [string, string];
  const picker = h('select', { 'data-test': 'compare-picker', onchange: () => (location.hash = `#/compare/${picker.value}`) },
    ...manifest.comparisons.map((c) => h('option', { value: `${c.a}~${c.b}` }, `${c.a}  vs  ${c.b}`)), h('option', { value: '' }, 'other…'));
  const entry = manifest.comparisons.find((c) => c.a === a && c.b === b);
  picker.value = entry ? pair : '';
  // any two dictionaries: the server computes the pair on request; the static site has only the listed ones
  const selA = dictPicker(a, () => undefined, true);
  const selB = dictPicker(b, () => undefined, true);
  const go = h('button', { 'data-test': 'compare-go', onclick: () => (location.hash = `#/compare/${selA.value}~${selB.value}`) }, 'compare');
  main.append(h('h2', {}, 'Compare dictionaries'), h('p', {}, picker, ' or A ', selA, ' B ', selB, ' ', go));
  if (!manifest.dictionaries.some((d) => d.id === a) || !manifest.dictionaries.some((d) => d.id === b)) {
    main.append(h('p', { class: 'err' }, `no dictionaries ${JSON.stringify(a)} and ${JSON.stringify(b)} in this site`));
    return;
  }
  if (a === b) {
    main.append(h('p', { class: 'err' }, 'pick two different dictionaries'));
    return;
  }
  if (!entry && siteMode === 'static') {
    main.append(h('p', { class: 'note' }, `this static site holds only the listed comparisons; serve it with 'gsae explore' to compare any pair`));
    return;
  }
  main.append(h('p', { class: 'muted' }, 'computing the assignment…'));
  const r = await loadJson<ComparisonResult>(entry?.file ?? `cmp/${a}~${b}.json`);
  main.lastChild!.remove();
  const da = dict(r.a);
  const db = dict(r.b);
  const link = (dd: DictionaryEntry, i: number) => (dd.hasFeatures ? h('a', { href: `#/latent/${dd.id}/${i}` }, String(i)) : String(i));
  main.append(
    h('p', { 'data-test': 'compare-summary' },
      `Latents matched one-to-one by decoder cosine with the Hungarian algorithm (optimal assignment maximising the summed cosine). `,
      h('b', {}, `${r.matched}`), ` of ${r.dSaeA} latents of A matched at cosine ≥ ${r.threshold}; `,
      h('b', {}, `${r.unmatchedA.length}`), ` unmatched in A, `, h('b', {}, `${r.unmatchedB.length}`), ` unmatched in B; `,
      h('b', {}, `${r.splitsA.length}`), ` latents of A split into ≥ 2 latents of B (cosine ≥ ${r.splitThreshold}), `, h('b', {}, `${r.splitsB.length}`), ' the other way.'),
    h('p', {}, `A = ${da.label}; B = ${db.label}`),
  );
  const grid = h('div', { class: 'grid' });
  main.append(grid);
  const hist = h('div', { class: 'card', 'data-test': 'cosine-histogram' });
  grid.append(hist);
  const splitCard = h('div', { class: 'card', 'data-test': 'splits' }, h('h3', {}, 'Splits (A latent ≈ several B latents)'));
  for (const s of r.splitsA.slice(0, 30)) splitCard.append(h('div', {}, 'A ', link(da, s.latent), ' → B ', ...s.partners.map((p) => h('span', { class: 'pill' }, link(db, p.index), ` ${fmt(p.cosine, 2)}`))));
  if (!r.splitsA.length) splitCard.append(h('p', { class: 'muted' }, 'none at this threshold'));
  splitCard.append(h('h3', {}, 'Splits the other way (B latent ≈ several A latents)'));
  for (const s of r.splitsB.slice(0, 30)) splitCard.append(h('div', {}, 'B ', link(db, s.latent), ' → A ', ...s.partners.map((p) => h('span', { class: 'pill' }, link(da, p.index), ` ${fmt(p.cosine, 2)}`))));
  if (!r.splitsB.length) splitCard.append(h('p', { class: 'muted' }, 'none at this threshold'));
  grid.append(splitCard);
  const matched = r.pairs.filter((p) => p.cosine >= r.threshold).sort((x, y) => y.cosine - x.cosine);
  const mt = h('table', { 'data-test': 'matched-table' }, h('tr', {}, h('th', {}, 'A'), h('th', {}, 'B'), h('th', {}, 'cosine')));
  for (const p of matched.slice(0, 200)) mt.append(h('tr', {}, h('td', {}, link(da, p.a)), h('td', {}, link(db, p.b)), h('td', {}, fmt(p.cosine))));
  const worst = r.pairs.filter((p) => p.cosine < r.threshold).sort((x, y) => x.cosine - y.cosine);
  const ut = h('table', { 'data-test': 'unmatched-table' }, h('tr', {}, h('th', {}, 'A'), h('th', {}, 'best assigned B'), h('th', {}, 'cosine')));
  for (const p of worst.slice(0, 200)) ut.append(h('tr', {}, h('td', {}, link(da, p.a)), h('td', {}, link(db, p.b)), h('td', {}, fmt(p.cosine))));
  const worstB = r.unmatchedB.map((j) => ({ b: j, pair: r.pairs.find((p) => p.b === j) ?? null })).sort((x, y) => (x.pair?.cosine ?? -2) - (y.pair?.cosine ?? -2));
  const ub = h('table', { 'data-test': 'unmatched-b-table' }, h('tr', {}, h('th', {}, 'B'), h('th', {}, 'assigned A'), h('th', {}, 'cosine')));
  for (const x of worstB.slice(0, 200)) ub.append(h('tr', {}, h('td', {}, link(db, x.b)), h('td', {}, x.pair ? link(da, x.pair.a) : '— (none: B is larger)'), h('td', {}, x.pair ? fmt(x.pair.cosine) : '—')));
  main.append(h('div', { class: 'grid' },
    h('div', { class: 'card' }, h('h3', {}, `Matched (${matched.length})`), mt),
    h('div', { class: 'card' }, h('h3', {}, `Unmatched in A (${r.unmatchedA.length})`), ut),
    h('div', { class: 'card' }, h('h3', {}, `Unmatched in B (${r.unmatchedB.length})`), ub)));
  await draw(hist, histogramSpec(r.cosineHistogram, 'cosine of the assigned pairs', { color: '#54a24b' }));
}
