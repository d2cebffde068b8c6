/**
 * Writes the explorer site as files that open from disk (file://). Browsers block fetch() and
 * module scripts on file:// pages, so every data file is written as `<path>.js`, a classic script
 * that hands its content to the page (`gsaeStatic(path, kind, payload)`: JSON as JSON, text as a
 * string, binary as base64); the page loads them by script tag. Weights are copied this way too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { explorerHtml } from './html.js';
import { fileBytes, GPUJS_SCRIPT, type Site } from './site.js';

function wrapper(path: string, type: string, bytes: Buffer): string {
  const p = JSON.stringify(path);
  if (type.startsWith('application/json')) return `gsaeStatic(${p}, "json", ${bytes.toString('utf8')});\n`;
  if (type.startsWith('text/') || type.startsWith('image/svg')) return `gsaeStatic(${p}, "text", ${JSON.stringify(bytes.toString('utf8'))});\n`;
  return `gsaeStatic(${p}, "base64", "${bytes.toString('base64')}");\n`;
}

/** Writes the site under `out`; returns the files written and their total bytes. */
export function writeStaticSite(site: Site, out: string): { files: number; bytes: number } {
  mkdirSync(out, { recursive: true });
  let files = 0;
  let bytes = 0;
  const put = (rel: string, content: string | Buffer) => {
    const p = join(out, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    files++;
    bytes += typeof content === 'string' ? Buffer.byteLength(content) : content.length;
  };
  put('index.html', explorerHtml(site.manifest.title, 'static'));
  for (const [path, f] of site.files) {
    const b = fileBytes(f);
    // classic scripts load from file:// as they are
    if (path === 'explorer.js' || path === GPUJS_SCRIPT) put(path, b);
    else put(`${path}.js`, wrapper(path, f.type, b));
  }
  return { files, bytes };
}
