/** #/steer: the live steering form (backend, dictionary, latent, coefficient, prompt) and its result. */
import { fmt, h, showTok } from './dom.js';
import { dictPicker } from './layout.js';
import * as live from './live.js';
import { ensureLive, liveSaes, runSteer, type SteerResult } from './live_session.js';
import { draw, tokenBarsSpec } from './plots.js';
import { manifest, withFeatures } from './state.js';

export async function steerView(main: HTMLElement, params: URLSearchParams): Promise<void> {
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
