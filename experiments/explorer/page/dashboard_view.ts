/**
 * #/latent/<dict>/<i>: one latent's dashboard: top contexts with per-token highlighting (and the
 * attribution f_i·a_i of a g-SAE), interval sections, histograms, logit effects, decoder neighbours.
 */
import type { TokenContext } from '../../features/schema.js';
import { fmt, h, showTok } from './dom.js';
import { draw, histogramSpec, pairedHistogramSpec, tokenBarsSpec } from './plots.js';
import { detailOf, dict, featuresOf, timings } from './state.js';

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

export async function latentView(main: HTMLElement, id: string, i: number): Promise<void> {
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
