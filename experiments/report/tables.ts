/** Results as CSV, Markdown and fixed-width console tables. */

export type Cell = string | number | boolean | null | undefined;
export type Row = Record<string, Cell>;

export interface Column {
  key: string;
  title?: string;
  /** significant digits for numbers (default 4) */
  digits?: number;
}

export function formatCell(v: Cell, digits = 4): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(digits - 1) : Number(v.toPrecision(digits)).toString();
  }
  return String(v);
}

function csvEscape(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV with a header row; numbers at full precision. */
export function toCSV(rows: readonly Row[], columns?: readonly string[]): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const lines = [cols.map(csvEscape).join(',')];
  for (const r of rows) lines.push(cols.map((c) => csvEscape(r[c] === undefined || r[c] === null ? '' : String(r[c]))).join(','));
  return lines.join('\n') + '\n';
}

export function markdownTable(rows: readonly Row[], columns: readonly Column[]): string {
  const head = `| ${columns.map((c) => c.title ?? c.key).join(' | ')} |`;
  const sep = `|${columns.map(() => '---').join('|')}|`;
  const body = rows.map((r) => `| ${columns.map((c) => formatCell(r[c.key], c.digits)).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

export function consoleTable(rows: readonly Row[], columns: readonly Column[]): string {
  const cells = rows.map((r) => columns.map((c) => formatCell(r[c.key], c.digits)));
  const titles = columns.map((c) => c.title ?? c.key);
  const widths = titles.map((t, i) => Math.max(t.length, ...cells.map((row) => row[i]!.length)));
  const fmt = (xs: string[]) => xs.map((x, i) => x.padStart(widths[i]!)).join('  ');
  return [fmt(titles), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(fmt)].join('\n');
}
