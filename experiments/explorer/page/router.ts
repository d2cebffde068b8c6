/**
 * Hash routes to views:
 *   #/results                 the run's results table and plots
 *   #/latents/<dict>          latent list: sortable by density / max activation / steering, searchable by token
 *   #/latent/<dict>/<i>       one latent's dashboard
 *   #/compare/<a>~<b>         two dictionaries matched by decoder cosine
 *   #/steer                   live steering: the model and an SAE running in the page
 * A view's error is shown in the page (and logged); `main[data-ready]` marks a finished route.
 */
import { compareView } from './compare_view.js';
import { latentView } from './dashboard_view.js';
import { h } from './dom.js';
import { nav } from './layout.js';
import { latentsView } from './latents_view.js';
import { resultsView } from './results_view.js';
import { manifest, timings, withFeatures } from './state.js';
import { steerView } from './steer_view.js';

export async function route(): Promise<void> {
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
