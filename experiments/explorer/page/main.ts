/**
 * The explorer page: one script, plain DOM, hash routes.
 *   #/results                 the run's results table and plots
 *   #/latents/<dict>          latent list: sortable by density / max activation / steering, searchable by token
 *   #/latent/<dict>/<i>       one latent's dashboard
 *   #/compare/<a>~<b>         two dictionaries matched by decoder cosine
 *   #/steer                   live steering: the model and an SAE running in the page
 * `globalThis.gsaeExplorer` exposes hooks for the browser test (forward logits, timings).
 */
import type { FeatureBlock, FeaturesIndex, LatentDetail, LatentSummary, TokenContext } from '../../features/schema.js';
import type { ComparisonResult, DictionaryEntry, SiteManifest } from '../manifest.js';
import { bytesRead, loadBytes, loadJson, loadText, siteMode } from './data.js';
import { draw, histogramSpec, latentScatterSpec, pairedHistogramSpec, resultsBarSpec, tokenBarsSpec } from './plots.js';
import * as live from './live.js';

// ------------------------------------------------------------------------------- DOM helpers

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean | ((e: Event) => void)> = {}, ...kids: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v as EventListener);
    else if (v === false) continue;
    else el.setAttribute(k, String(v));
  }
  for (const c of kids) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
const fmt = (v: number | null | undefined, digits = 3): string => {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a < 1e-3 || a >= 1e5 ? v.toExponential(digits - 1) : String(Number(v.toPrecision(digits)));
};
const showTok = (t: string): string => JSON.stringify(t).slice(1, -1);

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3a5f;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header a{color:#dfe9f5;text-decoration:none;font-weight:600} header a.on{color:#fff;text-decoration:underline}
header h1{font-size:16px;margin:0 12px 0 0}
main{padding:12px 16px;max-width:1200px}
table{border-collapse:collapse;font-size:13px} td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
th{cursor:pointer;background:#eef2f7;position:sticky;top:0} td.l,th.l{text-align:left}
.ctx{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;margin:3px 0;padding:3px;border-left:3px solid #ccc;background:#fff}
.ctx span{border-radius:2px} .ctx .centre{outline:1px solid #333}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:14px}
.card{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:10px;overflow:auto}
.muted{color:#777} .err{color:#b00020;font-weight:600} .note{background:#fff8e1;border:1px solid #f0d98a;padding:6px 10px;border-radius:4px}
input,select,button{font:inherit;padding:3px 6px} textarea{font:13px ui-monospace,monospace;width:100%;height:60px}
.pill{display:inline-block;background:#eef2f7;border-radius:10px;padding:0 6px;margin:1px;font-size:12px}
`;

// ------------------------------------------------------------------------------- state

let manifest: SiteManifest;
const indexes = new Map<string, Promise<FeaturesIndex>>();
const blocks = new Map<string, Promise<FeatureBlock>>();
const timings: Record<string, number> = { scriptStartMs: performance.now() };

function dict(id: string): DictionaryEntry {
  const d = manifest.dictionaries.find((x) => x.id === id);
  if (!d) throw new Error(`no dictionary '${id}' in this site`);
  return d;
}
function featuresOf(d: DictionaryEntry): Promise<FeaturesIndex> {
  if (!d.hasFeatures) throw new Error(`${d.id} has no features: run 'gsae features ${d.dir} --store <held-out store>'`);
  let p = indexes.get(d.id);
  if (!p) indexes.set(d.id, (p = loadJson<FeaturesIndex>(`${d.base}/features/index.json`)));
  return p;
}
async function detailOf(d: DictionaryEntry, i: number): Promise<LatentDetail> {
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
const withFeatures = (): DictionaryEntry[] => manifest.dictionaries.filter((d) => d.hasFeatures);

// ------------------------------------------------------------------------------- layout

function nav(active: string): HTMLElement {
  const first = withFeatures()[0]!;
  const links: [string, string][] = [];
  if (manifest.run) links.push(['results', '#/results']);
  links.push(['latents', `#/latents/${first.id}`]);
  if (manifest.comparisons.length) links.push(['compare', `#/compare/${manifest.comparisons[0]!.a}~${manifest.comparisons[0]!.b}`]);
  links.push(['steer', '#/steer']);
  return h('header', {}, h('h1', {}, manifest.title), ...links.map(([name, href]) => h('a', { href, class: active === name ? 'on' : '' }, name)));
}

function dictPicker(current: string, onPick: (id: string) => void, all = false): HTMLSelectElement {
  const s = h('select', { 'data-test': 'dict-picker', onchange: () => onPick(s.value) }, ...(all ? manifest.dictionaries : withFeatures()).map((d) => h('option', { value: d.id }, d.label)));
  s.value = current;
  return s;
}

// ------------------------------------------------------------------------------- results

async function resultsView(main: HTMLElement): Promise<void> {
  const run = manifest.run!;
  main.append(h('h2', {}, 'Run results'), h('p', { class: 'muted' }, run.dir));
  if (!run.results) {
    main.append(h('p', { class: 'note' }, 'This run has no results.json yet (the experiment is still running, or was interrupted).'));
  } else {
    const r = await loadJson<{ meta: Record<string, unknown>; rows: Record<string, unknown>[] }>(run.results);
    const cols = ['id', 'group', 'seed', 'k', 'beta', 'fvu', 'l0', 'dead_fraction', 'loss_added', 'loss_recovered_zero', 'steer_mean'].filter((c) => r.rows.some((x) => x[c] !== undefined));
    const table = h('table', { 'data-test': 'results-table' }, h('tr', {}, ...cols.map((c) => h('th', { class: c === 'id' || c === 'group' ? 'l' : '' }, c))));
    for (const row of r.rows) table.append(h('tr', {}, ...cols.map((c) => h('td', { class: c === 'id' || c === 'group' ? 'l' : '' }, typeof row[c] === 'number' ? fmt(row[c] as number, 4) : String(row[c] ?? '')))));
    main.append(h('div', { class: 'card' }, table));
    const charts = h('div', { class: 'grid' });
    main.append(h('h3', {}, 'Metrics per SAE'), charts);
    for (const [f, t] of [['fvu', 'FVU (fraction of variance unexplained)'], ['loss_added', 'loss added (nats/token)'], ['l0', 'L0 (latents per token)']] as const) {
      if (!r.rows.some((x) => typeof x[f] === 'number')) continue;
      const el = h('div', { class: 'card' });
      charts.append(el);
      await draw(el, resultsBarSpec(r.rows, f, t));
    }
  }
  if (run.plots.length) {
    main.append(h('h3', {}, "The run's plots (report/plots, rendered by vega at report time)"));
    const g = h('div', { class: 'grid' });
    for (const p of run.plots) {
      const svg = await loadText(p);
      g.append(h('div', { class: 'card' }, h('img', { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, alt: p, style: 'max-width:100%' })));
    }
    main.append(g);
  }
  if (run.report) main.append(h('h3', {}, 'report.md'), h('pre', { class: 'card', style: 'white-space:pre-wrap' }, await loadText(run.report)));
}

// ------------------------------------------------------------------------------- latent list

type SortKey = 'index' | 'density' | 'maxAct' | 'meanAct' | 'steering' | 'meanAbsAttr';

async function latentsView(main: HTMLElement, id: string, params: URLSearchParams): Promise<void> {
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

// ------------------------------------------------------------------------------- dashboard

function contextLine(c: TokenContext, max: number, what: 'acts' | 'attr'): HTMLElement {
  const vals = what === 'acts' ? c.acts : c.attr ?? [];
  const line = h('div', { class: 'ctx', 'data-test': 'context', 'data-kind': what }, h('b', { class: 'muted', style: 'display:inline-block;width:2.6em' }, what === 'acts' ? 'f' : 'f·a'));
  c.tokens.forEach((t, j) => {
    const v = vals[j] ?? 0;
    const a = max > 0 ? Math.min(1, Math.abs(v) / max) : 0;
    const colour = what === 'acts' ? `rgba(255,140,0,${a.toFixed(3)})` : v >= 0 ? `rgba(0,120,255,${a.toFixed(3)})` : `rgba(220,0,60,${a.toFixed(3)})`;
    line.append(h('span', { style: `background:${colour}`, title: `${JSON.stringify(t)}: ${what === 'acts' ? 'f' : 'f·a'} = ${fmt(v, 4)}`, class: j === c.centre ? 'centre' : '' }, showTok(t)));
  });
  return line;
}

async function latentView(main: HTMLElement, id: string, i: number): Promise<void> {
  const t0 = performance.now();
  const d = dict(id);
  const ix = await featuresOf(d);
  const l = await detailOf(d, i);
  const prev = i > 0 ? h('a', { href: `#/latent/${id}/${i - 1}` }, '◀ prev') : null;
  const next = i < ix.sae.dSae - 1 ? h('a', { href: `#/latent/${id}/${i + 1}` }, 'next ▶') : null;
  main.append(
    h('h2', { 'data-test': 'latent-title' }, `Latent ${i} `, h('span', { class: 'muted' }, `of ${d.label}`)),
    h('p', {}, prev, ' ', next, ' · ', h('a', { href: `#/latents/${id}` }, 'all latents'), ' · ', h('a', { href: `#/steer?dict=${id}&latent=${i}` }, 'steer with it')),
    h('p', {}, `density ${fmt(l.density)} · max activation ${fmt(l.maxAct)} · mean activation (firing) ${fmt(l.meanAct)} · steering Δp ${fmt(l.steering)}`, ix.sae.needsGrad ? ` · mean |f·a| ${fmt(l.meanAbsAttr)}` : ''),
  );
  const grid = h('div', { class: 'grid' });
  main.append(grid);
  const hist = h('div', { class: 'card', 'data-test': 'act-histogram' });
  grid.append(hist);
  const logits = h('div', { class: 'card', 'data-test': 'logit-table' });
  grid.append(logits);
  const tab = (rows: { token: string; value: number }[], title: string) =>
    h('table', {}, h('tr', {}, h('th', { class: 'l' }, title), h('th', {}, 'logit effect')), ...rows.map((t) => h('tr', {}, h('td', { class: 'l' }, h('code', {}, showTok(t.token))), h('td', {}, fmt(t.value)))));
  logits.append(h('div', { style: 'display:flex;gap:16px' }, tab(l.logits.promoted.slice(0, 12), 'promoted'), tab(l.logits.suppressed.slice(0, 12), 'suppressed')));
  const bars = h('div');
  logits.append(bars);
  const neigh = h('div', { class: 'card', 'data-test': 'neighbours' }, h('h3', {}, 'Decoder neighbours (cosine)'),
    h('table', {}, ...l.neighbours.map((n) => h('tr', {}, h('td', {}, h('a', { href: `#/latent/${id}/${n.index}` }, `latent ${n.index}`)), h('td', {}, fmt(n.cosine))))));
  grid.append(neigh);
  const ctx = h('div', { class: 'card' }, h('h3', {}, `Top activating contexts`), h('p', { class: 'muted' }, 'orange: activation f_i at each token (hover for the value); outlined: the position read', l.top[0]?.attr ? '; below each, blue/red: attribution f_i·a_i (+/−)' : ''));
  for (const c of l.top) {
    ctx.append(contextLine(c, l.maxAct, 'acts'));
    if (c.attr) ctx.append(contextLine(c, Math.max(...l.top.flatMap((x) => (x.attr ?? []).map(Math.abs)), 1e-12), 'attr'));
  }
  main.append(ctx);
  for (const s of l.quantiles) {
    if (!s.contexts.length) continue;
    const sec = h('div', { class: 'card' }, h('h3', {}, `${s.label} `, h('span', { class: 'muted' }, `activation ${fmt(s.lo)}–${fmt(s.hi)}, ${s.count} firing tokens`)));
    for (const c of s.contexts) sec.append(contextLine(c, l.maxAct, 'acts'));
    main.append(sec);
  }
  if (l.attrHistogram) await draw(hist, pairedHistogramSpec(l.actHistogram, l.attrHistogram, 'activation and attribution over firing tokens'));
  else await draw(hist, histogramSpec(l.actHistogram, 'activation over firing tokens', { log: true }));
  await draw(bars, tokenBarsSpec([...l.logits.promoted.slice(0, 8).map((t) => ({ ...t, series: 'promoted' })), ...l.logits.suppressed.slice(0, 8).map((t) => ({ ...t, series: 'suppressed' }))], 'direct logit effect W_U·d_i', 'logit change per unit activation (nats)'));
  timings.lastDashboardMs = performance.now() - t0;
}

// ------------------------------------------------------------------------------- comparison

async function compareView(main: HTMLElement, pair: string): Promise<void> {
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

// ------------------------------------------------------------------------------- live steering

let liveModel: live.LiveModel | null = null;
const liveSaes = new Map<string, live.LiveSae>();

async function ensureLive(id: string): Promise<{ m: live.LiveModel; s: live.LiveSae }> {
  if (!manifest.model) throw new Error('no model in this site (start gsae explore with --model <GPT-2 folder>)');
  if (!liveModel) {
    const mb = manifest.model.base;
    const [cfg, w, vocab] = await Promise.all([
      loadJson<unknown>(`${mb}/config.json`),
      loadBytes(`${mb}/model.safetensors`),
      manifest.model.hasVocab ? loadJson<unknown>(`${mb}/gsae_vocab.json`) : Promise.resolve(null),
    ]);
    liveModel = live.loadLiveModel(cfg, w, vocab);
  }
  let s = liveSaes.get(id);
  if (!s) {
    const d = dict(id);
    s = live.loadLiveSae(id, d.spec, await loadBytes(`${d.base}/sae_weights.safetensors`));
    liveSaes.set(id, s);
  }
  if (!live.currentBackend()) live.useBackend(live.pageBackends().find((b) => b.available)!.name, liveModel, [...liveSaes.values()]);
  else if (!s.model) live.attachSae(s);
  return { m: liveModel, s };
}

interface SteerResult {
  dict: string;
  hasFeatures: boolean;
  backend: string;
  alpha: number;
  meanNorm: number;
  normSource: string;
  clean: { token: string; clean: number; steered: number }[];
  steered: { token: string; clean: number; steered: number }[];
  continuationClean: string;
  continuationSteered: string;
  promptLatents: live.TokenLatents[];
  ms: number;
}

async function runSteer(id: string, prompt: string, latent: number, c: number, n: number, temperature: number, seed: number): Promise<SteerResult> {
  const t0 = performance.now();
  const { m, s } = await ensureLive(id);
  if (!Number.isInteger(latent) || latent < 0 || latent >= s.spec.dSae) throw new Error(`latent must be an integer in 0..${s.spec.dSae - 1}, got ${latent}`);
  if (!Number.isFinite(c)) throw new Error(`the coefficient must be a number, got ${c}`);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`tokens must be an integer in 1..256, got ${n}`);
  if (!(temperature >= 0)) throw new Error(`temperature must be ≥ 0, got ${temperature}`);
  const ids = m.tokenizer.encode(prompt);
  if (ids.length === 0) throw new Error('the prompt is empty');
  const d = dict(id);
  const recorded = d.hasFeatures ? (await featuresOf(d)).meanNorm : undefined;
  const norm = typeof recorded === 'number' && recorded > 0 ? recorded : live.promptMeanNorm(m, ids, s.spec.hookName);
  const steer: live.Steer = { sae: s, latent, coef: c, meanNorm: norm };
  const change = live.nextTokenChange(live.lastLogits(m, ids), live.lastLogits(m, ids, steer), 10);
  const named = (r: { id: number; clean: number; steered: number }) => ({ token: m.tokenizer.decode([r.id]), clean: r.clean, steered: r.steered });
  const contC = await live.sampleContinuation(m, ids, n, temperature, seed, null);
  const contS = await live.sampleContinuation(m, ids, n, temperature, seed, steer);
  const pl = live.promptLatents(m, s, ids);
  return {
    dict: id, hasFeatures: d.hasFeatures, backend: live.currentBackend(), alpha: c * norm, meanNorm: norm, normSource: recorded ? 'held-out mean from the features index' : 'mean over the prompt',
    clean: change.clean.map(named), steered: change.steered.map(named),
    continuationClean: m.tokenizer.decode(contC), continuationSteered: m.tokenizer.decode(contS), promptLatents: pl, ms: performance.now() - t0,
  };
}

async function steerView(main: HTMLElement, params: URLSearchParams): Promise<void> {
  main.append(h('h2', {}, 'Live steering in the page'));
  if (!manifest.model) {
    main.append(h('p', { class: 'note' }, 'Live steering is off: this site has no model. Start it with ', h('code', {}, 'gsae explore <dir> --model <GPT-2 folder>'), '.'));
    return;
  }
  await live.prepareGpujs('vendor/gpu-browser.min.js');
  const backends = live.pageBackends();
  const bsel = h('select', { 'data-test': 'backend-picker' }, ...backends.map((b) => h('option', { value: b.name, disabled: !b.available }, `${b.name}${b.available ? '' : ' (unavailable)'}`)));
  bsel.value = live.currentBackend() || backends.find((b) => b.available)!.name;
  const why = h('div', { class: 'muted', 'data-test': 'backend-why' });
  const showWhy = () => {
    why.textContent = '';
    for (const b of backends) why.append(h('div', {}, h('b', {}, b.name), `: ${b.available ? 'available' : 'unavailable'} — ${b.why}`));
  };
  showWhy();
  const first = params.get('dict') ?? withFeatures().find((d) => d.spec.kind === 'gsae')?.id ?? manifest.dictionaries[0]!.id;
  const dsel = dictPicker(first, () => undefined, true);
  const prompt = h('textarea', { 'data-test': 'prompt' }, params.get('prompt') ?? 'First Citizen:\nBefore we proceed any further, hear me speak.');
  const latent = h('input', { type: 'number', min: 0, value: params.get('latent') ?? '0', 'data-test': 'latent-input', style: 'width:6em' });
  const coef = h('input', { type: 'number', step: '0.5', value: params.get('c') ?? '4', 'data-test': 'coef-input', style: 'width:5em' });
  const ntok = h('input', { type: 'number', min: 1, max: 64, value: '12', style: 'width:4em', 'data-test': 'ntok-input' });
  const temp = h('input', { type: 'number', min: 0, step: '0.1', value: '0.8', style: 'width:4em' });
  const status = h('p', { 'data-test': 'steer-status', class: 'muted' }, 'ready');
  const inUse = h('span', { 'data-test': 'backend-in-use' }, `in use: ${live.currentBackend() || '(starts on the first run)'}`);
  const out = h('div', { 'data-test': 'steer-output' });
  const runBtn = h('button', { 'data-test': 'steer-run' }, 'Run');
  runBtn.addEventListener('click', async () => {
    runBtn.disabled = true;
    out.textContent = '';
    status.className = 'muted';
    try {
      status.textContent = 'loading the model and SAE…';
      const { m } = await ensureLive(dsel.value);
      if (bsel.value !== live.currentBackend()) live.useBackend(bsel.value, m, [...liveSaes.values()]);
      status.textContent = `running on ${live.currentBackend()}…`;
      await new Promise((r) => setTimeout(r, 0));
      const r = await runSteer(dsel.value, prompt.value, Number(latent.value), Number(coef.value), Number(ntok.value), Number(temp.value), 1234);
      status.textContent = `backend ${r.backend} · α = c·E‖x‖ = ${fmt(Number(coef.value))} × ${fmt(r.meanNorm)} = ${fmt(r.alpha)} (E‖x‖: ${r.normSource}) · ${r.ms.toFixed(0)} ms`;
      status.dataset.done = '1';
      inUse.textContent = `in use: ${r.backend}`;
      renderSteer(out, r);
    } catch (e) {
      status.className = 'err';
      status.textContent = `error: ${(e as Error).message}`;
      status.dataset.done = 'error';
    } finally {
      runBtn.disabled = false;
    }
  });
  main.append(
    h('div', { class: 'card' },
      h('p', {}, 'backend ', bsel, ' ', inUse), why),
    h('div', { class: 'card' },
      h('p', {}, 'dictionary ', dsel, ' latent ', latent, ' coefficient c ', coef, ' tokens ', ntok, ' temperature ', temp, ' ', runBtn),
      prompt, status),
    out,
  );
}

function renderSteer(out: HTMLElement, r: SteerResult): void {
  const grid = h('div', { class: 'grid' });
  out.append(grid);
  const tbl = (rows: SteerResult['clean'], title: string, test: string, key: 'clean' | 'steered') =>
    h('table', { 'data-test': test }, h('tr', {}, h('th', { class: 'l' }, title), h('th', {}, 'p'), h('th', {}, key === 'clean' ? 'p steered' : 'p clean')),
      ...rows.map((x) => h('tr', {}, h('td', { class: 'l' }, h('code', {}, showTok(x.token))), h('td', {}, fmt(x[key])), h('td', { class: 'muted' }, fmt(key === 'clean' ? x.steered : x.clean)))));
  grid.append(h('div', { class: 'card' }, h('h3', {}, 'Next token: top 10 clean and top 10 steered'), h('div', { style: 'display:flex;gap:16px' }, tbl(r.clean, 'clean', 'next-clean', 'clean'), tbl(r.steered, 'steered', 'next-steered', 'steered'))));
  const chart = h('div', { class: 'card', 'data-test': 'next-chart' });
  grid.append(chart);
  out.append(h('div', { class: 'card' }, h('h3', {}, 'Sampled continuation (same seed)'),
    h('p', {}, h('b', {}, 'clean: '), h('span', { class: 'ctx', 'data-test': 'cont-clean' }, r.continuationClean)),
    h('p', {}, h('b', {}, 'steered: '), h('span', { class: 'ctx', 'data-test': 'cont-steered' }, r.continuationSteered))));
  const pl = h('div', { class: 'card', 'data-test': 'prompt-latents' }, h('h3', {}, 'Latents firing on each prompt token'), h('p', { class: 'muted' }, 'latent: activation f', r.promptLatents.some((t) => t.latents.some((l) => l.attr !== null)) ? ' (attribution f·a, from a backward pass in the page)' : ''));
  const t = h('table', {});
  for (const tok of r.promptLatents) {
    t.append(h('tr', {}, h('td', { class: 'l' }, h('code', {}, showTok(tok.token))), h('td', { class: 'l' }, ...tok.latents.map((l) => {
      const text = `${l.index}: ${fmt(l.act, 2)}${l.attr !== null ? ` (${fmt(l.attr, 2)})` : ''}`;
      return h('span', { class: 'pill' }, r.hasFeatures ? h('a', { href: `#/latent/${r.dict}/${l.index}` }, text) : text);
    }))));
  }
  pl.append(t);
  out.append(pl);
  const rows = new Map<string, { clean: number; steered: number }>();
  for (const x of [...r.clean, ...r.steered]) rows.set(x.token, { clean: x.clean, steered: x.steered });
  void draw(chart, tokenBarsSpec([...rows].flatMap(([tk, v]) => [{ token: tk, value: v.clean, series: 'clean' }, { token: tk, value: v.steered, series: 'steered' }]), 'next-token probability, clean vs steered (top 10 of each)', 'probability', true));
}

// ------------------------------------------------------------------------------- router

async function route(): Promise<void> {
  const t0 = performance.now();
  const [path, query] = (location.hash.replace(/^#\/?/, '') || (manifest.run ? 'results' : `latents/${withFeatures()[0]!.id}`)).split('?');
  const parts = path!.split('/').map(decodeURIComponent);
  const params = new URLSearchParams(query ?? '');
  const view = parts[0] ?? '';
  const app = document.getElementById('app')!;
  app.textContent = '';
  const active = view === 'latent' ? 'latents' : view;
  app.append(nav(active));
  const main = h('main', { 'data-view': view });
  app.append(main);
  // what `gsae explore` computed before serving, on the landing page (the CLI printed it too)
  if (manifest.prepared?.length && (view === 'results' || (!manifest.run && view === 'latents'))) {
    main.append(h('div', { class: 'note', 'data-test': 'prepared' }, h('b', {}, 'gsae explore computed before serving:'), ...manifest.prepared.map((l) => h('div', {}, l))));
  }
  try {
    if (view === 'results' && manifest.run) await resultsView(main);
    else if (view === 'latents') await latentsView(main, parts[1] ?? withFeatures()[0]!.id, params);
    else if (view === 'latent') await latentView(main, parts[1]!, Number(parts[2]));
    else if (view === 'compare') await compareView(main, parts[1] ?? '');
    else if (view === 'steer') await steerView(main, params);
    else main.append(h('p', { class: 'err' }, `unknown page #/${path}`));
  } catch (e) {
    main.append(h('p', { class: 'err', 'data-test': 'error' }, `error: ${(e as Error).message}`));
    console.error(e);
  }
  main.dataset.ready = '1';
  timings.lastRouteMs = performance.now() - t0;
}

async function start(): Promise<void> {
  const style = document.createElement('style');
  style.textContent = STYLE;
  document.head.append(style);
  try {
    manifest = await loadJson<SiteManifest>('manifest.json');
  } catch (e) {
    document.getElementById('app')!.textContent = `could not load the explorer's manifest: ${(e as Error).message}`;
    return;
  }
  window.addEventListener('hashchange', () => void route());
  await route();
  timings.firstContentMs = performance.now();
}

/** Hooks for the browser test and measurements. */
(globalThis as { gsaeExplorer?: unknown }).gsaeExplorer = {
  timings,
  siteMode,
  bytesRead: () => bytesRead,
  async backends() {
    await live.prepareGpujs('vendor/gpu-browser.min.js');
    return live.pageBackends();
  },
  /** logits [T·V] of `ids` on `backend`, as a plain array */
  async forwardLogits(ids: number[], backend: string, dictId?: string): Promise<number[]> {
    await live.prepareGpujs('vendor/gpu-browser.min.js');
    const { m } = await ensureLive(dictId ?? manifest.dictionaries[0]!.id);
    live.useBackend(backend, m, [...liveSaes.values()]);
    return Array.from(live.logitsOf(m, ids));
  },
  async forwardRate(ids: number[], backend: string, reps: number): Promise<number> {
    await live.prepareGpujs('vendor/gpu-browser.min.js');
    const { m } = await ensureLive(manifest.dictionaries[0]!.id);
    live.useBackend(backend, m, [...liveSaes.values()]);
    return live.forwardRate(m, ids, reps);
  },
};

void start();
