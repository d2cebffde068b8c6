/**
 * The explorer's charts: Vega-Lite specs compiled and rendered by vega's View in the page (SVG
 * renderer), every one with labelled axes (units where there are any) and a legend where colour
 * carries meaning.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Histogram } from '../../features/schema.js';

type Spec = vl.TopLevelSpec;

const views = new WeakMap<HTMLElement, vega.View>();

/** Renders `spec` into `el` (replacing an earlier chart there). */
export async function draw(el: HTMLElement, spec: Spec): Promise<void> {
  views.get(el)?.finalize();
  el.textContent = '';
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'svg', container: el, hover: true });
  views.set(el, view);
  await view.runAsync();
  el.dataset.rendered = 'vega';
}

const base = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', width: 360, height: 180, background: 'white' } as const;

/** Bars of a fixed-bin histogram; `log` draws counts on a symlog scale. */
export function histogramSpec(h: Histogram, title: string, opts: { log?: boolean; color?: string } = {}): Spec {
  const values = h.counts.map((c, i) => ({ lo: h.edges[i]!, hi: h.edges[i + 1]!, count: c }));
  return {
    ...base,
    title,
    data: { values },
    mark: { type: 'bar', color: opts.color ?? '#4c78a8', tooltip: true },
    encoding: {
      x: { field: 'lo', type: 'quantitative', bin: { binned: true }, title: h.label },
      x2: { field: 'hi' },
      y: { field: 'count', type: 'quantitative', title: 'count', scale: opts.log ? { type: 'symlog' } : {} },
    },
  } as Spec;
}

/** Two overlaid histograms (activation and attribution) with a legend. */
export function pairedHistogramSpec(a: Histogram, b: Histogram, title: string): Spec {
  const rows = (h: Histogram, what: string) => h.counts.map((c, i) => ({ lo: h.edges[i]!, hi: h.edges[i + 1]!, count: c, what }));
  return {
    ...base,
    title,
    data: { values: [...rows(a, `activation f_i (${a.label})`), ...rows(b, `attribution f_i·a_i (${b.label})`)] },
    mark: { type: 'bar', opacity: 0.6, tooltip: true },
    encoding: {
      x: { field: 'lo', type: 'quantitative', bin: { binned: true }, title: 'value (activation units; attribution in loss units)' },
      x2: { field: 'hi' },
      y: { field: 'count', type: 'quantitative', title: 'firing tokens', stack: null },
      color: { field: 'what', type: 'nominal', title: 'quantity', legend: { orient: 'bottom', labelLimit: 360 } },
    },
  } as Spec;
}

/** Horizontal bars of token scores (logit effects, probabilities). */
export function tokenBarsSpec(rows: { token: string; value: number; series: string }[], title: string, xTitle: string, logX = false): Spec {
  return {
    ...base,
    height: { step: 14 },
    title,
    data: { values: rows.map((r) => ({ ...r, token: JSON.stringify(r.token) })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'token', type: 'nominal', sort: null, title: 'token' },
      yOffset: { field: 'series' },
      x: { field: 'value', type: 'quantitative', title: logX ? `${xTitle} (symlog scale)` : xTitle, scale: logX ? { type: 'symlog', constant: 1e-3 } : {} },
      color: { field: 'series', type: 'nominal', title: '', legend: { orient: 'bottom' } },
    },
  } as Spec;
}

/** Scatter of the latents: density against max activation, coloured by steering effect. */
export function latentScatterSpec(rows: { index: number; density: number; maxAct: number; steering: number | null }[], title: string): Spec {
  return {
    ...base,
    title,
    data: { values: rows.filter((r) => r.density > 0).map((r) => ({ ...r, log10density: Math.log10(r.density) })) },
    mark: { type: 'point', filled: true, size: 18, tooltip: true },
    encoding: {
      x: { field: 'log10density', type: 'quantitative', title: 'log10 firing density (fraction of held-out tokens)' },
      y: { field: 'maxAct', type: 'quantitative', title: 'max activation (activation units)' },
      color: { field: 'steering', type: 'quantitative', title: 'steering (Δp)', scale: { scheme: 'viridis' } },
    },
  } as Spec;
}

/** Bar chart of one metric over the run's SAEs. */
export function resultsBarSpec(rows: Record<string, unknown>[], field: string, title: string): Spec {
  return {
    ...base,
    title,
    data: { values: rows.map((r) => ({ run: String(r.id), group: String(r.group ?? ''), v: r[field] })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'run', type: 'nominal', title: 'SAE', sort: null, axis: { labelAngle: -40 } },
      y: { field: 'v', type: 'quantitative', title: field },
      color: { field: 'group', type: 'nominal', title: 'group' },
    },
  } as Spec;
}
