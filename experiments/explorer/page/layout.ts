/** What every page shares: the header with the view links, and the dictionary picker. */
import { h } from './dom.js';
import { manifest, withFeatures } from './state.js';

export function nav(active: string): HTMLElement {
  const first = withFeatures()[0]!;
  const links: [string, string][] = [];
  if (manifest.run) links.push(['results', '#/results']);
  links.push(['latents', `#/latents/${first.id}`]);
  if (manifest.comparisons.length) links.push(['compare', `#/compare/${manifest.comparisons[0]!.a}~${manifest.comparisons[0]!.b}`]);
  links.push(['steer', '#/steer']);
  return h('header', {}, h('h1', {}, manifest.title), ...links.map(([name, href]) => h('a', { href, class: active === name ? 'on' : '' }, name)));
}

export function dictPicker(current: string, onPick: (id: string) => void, all = false): HTMLSelectElement {
  const s = h('select', { 'data-test': 'dict-picker', onchange: () => onPick(s.value) }, ...(all ? manifest.dictionaries : withFeatures()).map((d) => h('option', { value: d.id }, d.label)));
  s.value = current;
  return s;
}
