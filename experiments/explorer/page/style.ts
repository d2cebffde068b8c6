/** The page's one stylesheet (inserted by main.ts at start; the page has no CSS file). */

export const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3a5f;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header a{color:#dfe9f5;text-decoration:none;font-weight:600} header a.on{color:#fff;text-decoration:underline}
header h1{font-size:16px;margin:0 12px 0 0}
main{padding:12px 16px;max-width:1200px}
table{border-collapse:collapse;font-size:13px} td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
th{cursor:pointer;background:#eef2f7;position:sticky;top:0} td.l,th.l{text-align:left}
.ctx{font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;margin:3px 0;padding:3px;border-left:3px solid #ccc;background:#fff}
.ctx span{border-radius:2px} .ctx .centre{outline:1px solid #333}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:14px}
.card{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:10px;overflow:auto}
.muted{color:#777} .err{color:#b00020;font-weight:600} .note{background:#fff8e1;border:1px solid #f0d98a;padding:6px 10px;border-radius:4px}
input,select,button{font:inherit;padding:3px 6px} textarea{font:13px ui-monospace,monospace;width:100%;height:60px}
.pill{display:inline-block;background:#eef2f7;border-radius:10px;padding:0 6px;margin:1px;font-size:12px}
`;
