/** #/latents/<dict>: every latent of a dictionary, sortable by a column, searchable by promoted token. */
import type { LatentSummary } from '../../features/schema.js';
import { fmt, h, showTok } from './dom.js';
import { dictPicker } from './layout.js';
import { draw, histogramSpec, latentScatterSpec } from './plots.js';
import { dict, featuresOf } from './state.js';

type SortKey = 'index' | 'density' | 'maxAct' | 'meanAct' | 'steering' | 'meanAbsAttr';

export async function latentsView(main: HTMLElement, id: string, params: URLSearchParams): Promise<void> {
  const d = dict(id);
  const ix = await featuresOf(d);
  const sort = (params.get('sort') ?? 'maxAct') as SortKey;
  const q = params.get('q') ?? '';
  const go = (p: Record<string, string>) => {
    const s = new URLSearchParams({ sort, q, ...p });
    location.hash = `#/latents/${id}?${s}`;
  };
  const search = h('input', { type: 'search', placeholder: "token, e.g. ' king' (quotes: exact token)", value: q, size: 32, 'data-test': 'token-search' });
  search.addEventListener('change', () => go({ q: search.value }));
  main.append(
    h('h2', {}, 'Latents of ', dictPicker(id, (v) => (location.hash = `#/latents/${v}`))),
    h('p', { class: 'muted' }, `${ix.sae.architecture}${ix.sae.needsGrad ? ' (g-SAE: attributions shown)' : ''}, d_sae ${ix.sae.dSae}, k ${ix.sae.k ?? '—'}, hook ${ix.sae.hook}; ${ix.tokens.toLocaleString()} held-out tokens; ${ix.deadLatents} dead latents`),
    h('p', {}, 'Which latents promote a token? ', search, ' ', h('span', { class: 'muted' }, 'searches each latent’s top promoted tokens (W_U·d_i)')),
  );
  const plots = h('div', { class: 'grid' });
  main.append(plots);
  const p1 = h('div', { class: 'card' });
  const p2 = h('div', { class: 'card' });
  plots.append(p1, p2);
  await draw(p1, histogramSpec(ix.densityHistogram, `firing density over latents (${ix.deadLatents} dead not shown)`));
  await draw(p2, latentScatterSpec(ix.latents, 'latents: density vs max activation'));

  let rows = ix.latents.slice();
  if (q) {
    const exact = /^(["']).*\1$/.test(q) && q.length >= 2 ? q.slice(1, -1) : null;
    const needle = q.toLowerCase();
    rows = rows.filter((l) => l.topPromoted.some((t) => (exact !== null ? t.token === exact : t.token.toLowerCase().includes(needle))));
    rows.sort((a, b) => rank(b, exact, needle) - rank(a, exact, needle));
  } else {
    const key = sort;
    rows.sort((a, b) => (key === 'index' ? a.index - b.index : ((b[key] as number | null | undefined) ?? -Infinity) - ((a[key] as number | null | undefined) ?? -Infinity)));
  }
  const cols: [SortKey | 'promoted', string][] = [['index', 'latent'], ['density', 'density'], ['maxAct', 'max act'], ['meanAct', 'mean act'], ['steering', 'steering Δp']];
  if (ix.sae.needsGrad) cols.push(['meanAbsAttr', 'mean |f·a|']);
  cols.push(['promoted', 'top promoted tokens']);
  const table = h('table', { 'data-test': 'latent-table' });
  table.append(h('tr', {}, ...cols.map(([k, t]) => h('th', { class: k === 'promoted' ? 'l' : '', 'data-sort': k, onclick: () => k !== 'promoted' && go({ sort: k, q: '' }) }, t + (k === sort && !q ? ' ▼' : '')))));
  const shown = rows.slice(0, 400);
  for (const l of shown) {
    table.append(
      h('tr', { 'data-latent': l.index },
        h('td', {}, h('a', { href: `#/latent/${id}/${l.index}` }, String(l.index))),
        h('td', {}, fmt(l.density)), h('td', {}, fmt(l.maxAct)), h('td', {}, fmt(l.meanAct)), h('td', {}, fmt(l.steering)),
        ix.sae.needsGrad ? h('td', {}, fmt(l.meanAbsAttr)) : null,
        h('td', { class: 'l' }, ...l.topPromoted.slice(0, 5).map((t) => h('span', { class: 'pill' }, showTok(t.token))))),
    );
  }
  main.append(h('p', { class: 'muted', 'data-test': 'latent-count' }, q ? `${rows.length} latents promote tokens matching ${JSON.stringify(q)}` : `${rows.length} latents, sorted by ${sort}`, rows.length > shown.length ? ` (first ${shown.length} shown)` : ''), h('div', { class: 'card' }, table));
}

function rank(l: LatentSummary, exact: string | null, needle: string): number {
  const hit = l.topPromoted.find((t) => (exact !== null ? t.token === exact : t.token.toLowerCase().includes(needle)));
  return hit ? hit.value : -Infinity;
}
