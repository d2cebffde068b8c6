/**
 * Serves the explorer site (site.ts) with Node's http module, on 127.0.0.1 unless told otherwise.
 * Every response carries the cross-origin isolation headers (COOP same-origin, COEP require-corp)
 * so the page may create SharedArrayBuffer memory, which the wasm backend needs.
 */
import { createServer, type Server } from 'node:http';
import { explorerHtml } from './html.js';
import { ExplorerInputError, fileBytes, type Site } from './site.js';

export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

export interface Served {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export function serveSite(site: Site, port: number, host: string): Promise<Served> {
  const html = explorerHtml(site.manifest.title, 'server');
  const cache = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!).replace(/^\/+/, '');
    if (path === '' || path === 'index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...ISOLATION_HEADERS }).end(html);
      return;
    }
    const f = site.files.get(path) ?? site.onDemand?.(path) ?? null;
    if (!f || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain', ...ISOLATION_HEADERS }).end(`not found: /${path}\n`);
      return;
    }
    try {
      let body = cache.get(path);
      if (!body) {
        body = fileBytes(f);
        if ('make' in f) cache.set(path, body);
      }
      res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store', ...ISOLATION_HEADERS }).end(body);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain', ...ISOLATION_HEADERS }).end(`${(e as Error).message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new ExplorerInputError(`port ${port} on ${host} is already in use (pick another with --port, or --port 0 for any free port)`));
      else if (e.code === 'EACCES') reject(new ExplorerInputError(`not allowed to listen on ${host}:${port} (ports below 1024 need privileges; pick another with --port)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') reject(new ExplorerInputError(`--host ${host} is not an address of this machine`));
      else reject(e);
    });
    server.listen(port, host, () => {
      const addr = server.address();
      const p = typeof addr === 'object' && addr ? addr.port : port;
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({ server, url: `http://${shown}:${p}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
