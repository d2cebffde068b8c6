/** #/results: the run's results table, bar charts per metric, the run's own plots and report.md. */
import { loadJson, loadText } from './data.js';
import { fmt, h } from './dom.js';
import { draw, resultsBarSpec } from './plots.js';
import { manifest } from './state.js';

export async function resultsView(main: HTMLElement): Promise<void> {
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
