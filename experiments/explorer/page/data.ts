/**
 * Reading the site's files in the page. Served (http): fetch. From disk (file://, the static
 * site): browsers block fetch there, so each file `p` was written as the script `p.js`, which
 * calls `gsaeStatic(p, kind, payload)`; we add the script tag and wait for that call.
 */
type Payload = { kind: 'json'; value: unknown } | { kind: 'text'; value: string } | { kind: 'base64'; value: string };

const mode = ((globalThis as { GSAE_SITE?: { mode?: string } }).GSAE_SITE?.mode ?? 'server') as 'server' | 'static';
const waiting = new Map<string, { resolve: (p: Payload) => void; reject: (e: Error) => void }>();
const done = new Map<string, Promise<Payload>>();

(globalThis as { gsaeStatic?: unknown }).gsaeStatic = (path: string, kind: Payload['kind'], value: unknown) => {
  const w = waiting.get(path);
  if (w) {
    waiting.delete(path);
    w.resolve({ kind, value } as Payload);
  }
};

export const siteMode = mode;

/** Total bytes the page has read through this module (page weight of the data). */
export let bytesRead = 0;

function loadStatic(path: string): Promise<Payload> {
  let p = done.get(path);
  if (!p) {
    p = new Promise<Payload>((resolve, reject) => {
      waiting.set(path, { resolve, reject });
      const s = document.createElement('script');
      s.src = `${path}.js`;
      s.onerror = () => {
        waiting.delete(path);
        reject(new Error(`could not load ${path}.js (is the static site complete?)`));
      };
      document.head.appendChild(s);
    });
    done.set(path, p);
  }
  return p;
}

async function fetchOk(path: string): Promise<Response> {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${(await r.text()).trim()}`);
  return r;
}

export async function loadJson<T>(path: string): Promise<T> {
  if (mode === 'static') {
    const p = await loadStatic(path);
    if (p.kind !== 'json') throw new Error(`${path}: expected JSON, the static site holds ${p.kind}`);
    return p.value as T;
  }
  const text = await (await fetchOk(path)).text();
  bytesRead += text.length;
  return JSON.parse(text) as T;
}

export async function loadText(path: string): Promise<string> {
  if (mode === 'static') {
    const p = await loadStatic(path);
    return typeof p.value === 'string' ? p.value : JSON.stringify(p.value);
  }
  const text = await (await fetchOk(path)).text();
  bytesRead += text.length;
  return text;
}

export async function loadBytes(path: string): Promise<Uint8Array> {
  if (mode === 'static') {
    const p = await loadStatic(path);
    if (p.kind !== 'base64') throw new Error(`${path}: expected binary, the static site holds ${p.kind}`);
    const bin = atob(p.value);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const buf = new Uint8Array(await (await fetchOk(path)).arrayBuffer());
  bytesRead += buf.length;
  return buf;
}
