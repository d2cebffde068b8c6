/**
 * The one HTML page of the explorer. The bundle is a classic script (IIFE), not an ES module:
 * Chromium refuses module scripts from file://, and the static site must open from disk.
 * `mode` tells the page how to read data: 'server' fetches, 'static' loads `<path>.js` wrappers
 * by script tag (fetch is blocked on file:// too).
 */
export function explorerHtml(title: string, mode: 'server' | 'static'): string {
  const esc = title.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<script>window.GSAE_SITE = { mode: ${JSON.stringify(mode)} };</script>
<script src="explorer.js" defer></script>
</head><body><div id="app"><p id="loading">Loading the explorer…</p></div>
<noscript>The gsae explorer needs JavaScript.</noscript>
</body></html>
`;
}
