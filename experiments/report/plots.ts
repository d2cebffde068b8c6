/**
 * Figures as SVG through Vega-Lite (a maintained declarative plotting library that renders
 * headless in Node, no canvas or browser needed).
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';

import type { Row } from './tables.js';

export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const base = (title: string, data: Row[]) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title,
  width: 420,
  height: 280,
  // vega tags the objects it is given, so it gets copies
  data: { values: data.map((r) => ({ ...r })) },
  background: 'white',
});

/** Lines with points: `y` against `x`, one line per `series` (e.g. FVU vs k per β). */
export function linePlot(title: string, data: Row[], x: string, y: string, series: string, opts: { logX?: boolean; logY?: boolean } = {}): Promise<string> {
  return renderSvg({
    ...base(title, data),
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x, type: 'quantitative', scale: opts.logX ? { type: 'log', nice: false } : { zero: false } },
      y: { field: y, type: 'quantitative', scale: opts.logY ? { type: 'log' } : { zero: false } },
      color: { field: series, type: 'nominal' },
    },
  } as vl.TopLevelSpec);
}

/** Pareto frontier plot: points of `y` against `x` per variant, joined in order of `x`. */
export function paretoPlot(title: string, data: Row[], x: string, y: string, variant: string): Promise<string> {
  return renderSvg({
    ...base(title, data),
    mark: { type: 'line', point: { size: 60 } },
    encoding: {
      x: { field: x, type: 'quantitative', scale: { zero: false } },
      y: { field: y, type: 'quantitative', scale: { zero: false } },
      color: { field: variant, type: 'nominal' },
      order: { field: x, type: 'quantitative' },
    },
  } as vl.TopLevelSpec);
}

/** Bars of `y` per `category` with error bars from `lo` to `hi` (confidence intervals). */
export function barsWithIntervals(title: string, data: Row[], category: string, y: string, lo: string, hi: string): Promise<string> {
  return renderSvg({
    ...base(title, data),
    layer: [
      { mark: 'bar', encoding: { x: { field: category, type: 'nominal', sort: null }, y: { field: y, type: 'quantitative' } } },
      {
        mark: { type: 'errorbar', ticks: true },
        encoding: { x: { field: category, type: 'nominal', sort: null }, y: { field: lo, type: 'quantitative', title: y }, y2: { field: hi } },
      },
    ],
  } as vl.TopLevelSpec);
}

/** Histogram of one numeric field, coloured by a series field. */
export function histogram(title: string, data: Row[], field: string, series: string): Promise<string> {
  return renderSvg({
    ...base(title, data),
    mark: { type: 'bar', opacity: 0.6 },
    encoding: {
      x: { field, type: 'quantitative', bin: { maxbins: 30 } },
      y: { aggregate: 'count', type: 'quantitative', stack: null },
      color: { field: series, type: 'nominal' },
    },
  } as vl.TopLevelSpec);
}
