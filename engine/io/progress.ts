/**
 * A progress bar for long loops (training, evaluation): position, rate (items/s and, when told
 * the items' size, tokens/s), the latest loss, elapsed time and ETA, then a final summary line.
 *
 * On a terminal it redraws one line in place (at most ~10 times a second); elsewhere (CI logs,
 * files) it prints a full line every `plainEverySeconds` so logs stay readable. Messages printed
 * through `log()` appear above the bar without breaking it. No dependency: a few lines of ANSI.
 */

export interface ProgressOptions {
  total: number;
  /** Shown before the bar, e.g. "train". */
  label?: string;
  /** Where to draw (default process.stderr). */
  stream?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean; columns?: number };
  /** Force in-place redrawing on or off (default: the stream is a TTY). */
  tty?: boolean;
  /** Without a TTY: seconds between printed lines (default 10). */
  plainEverySeconds?: number;
  /** Position to start from (resumed runs), so rates count only this session's work. */
  start?: number;
  /** Clock in milliseconds (for tests). */
  now?: () => number;
}

export interface ProgressUpdate {
  /** Items done in total (not an increment). */
  done: number;
  loss?: number;
  /** Tokens processed by each item (so the bar shows tokens/s). */
  tokensPerItem?: number;
  /** Extra "key value" text shown after the numbers. */
  extra?: string;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function formatRate(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (x >= 100) return x.toFixed(0);
  return x.toFixed(2);
}

export class Progress {
  private readonly total: number;
  private readonly label: string;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private readonly plainEvery: number;
  private readonly now: () => number;
  private readonly t0: number;
  private readonly start: number;
  private last: ProgressUpdate;
  private lastDraw = -Infinity;
  private drawn = false;
  private finished = false;

  constructor(opts: ProgressOptions) {
    if (!Number.isFinite(opts.total) || opts.total < 0) throw new Error(`progress: total must be a non-negative number, got ${opts.total}`);
    this.total = opts.total;
    this.label = opts.label ?? '';
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? Boolean((this.stream as { isTTY?: boolean }).isTTY);
    this.plainEvery = (opts.plainEverySeconds ?? 10) * 1000;
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.now();
    this.start = opts.start ?? 0;
    this.last = { done: this.start };
  }

  /** Seconds since the bar was created. */
  elapsed(): number {
    return (this.now() - this.t0) / 1000;
  }

  /** Items per second over this session. */
  rate(): number {
    const e = this.elapsed();
    return e > 0 ? (this.last.done - this.start) / e : NaN;
  }

  /** The status text (without the bar), e.g. for logs and tests. */
  status(): string {
    const u = this.last;
    const rate = this.rate();
    const eta = rate > 0 ? (this.total - u.done) / rate : NaN;
    const parts = [`${u.done}/${this.total}`];
    if (u.tokensPerItem) parts.push(`${formatRate(rate * u.tokensPerItem)} tok/s`);
    else parts.push(`${formatRate(rate)} it/s`);
    if (u.loss !== undefined) parts.push(`loss ${u.loss.toFixed(4)}`);
    if (u.extra) parts.push(u.extra);
    parts.push(`${formatDuration(this.elapsed())}<${formatDuration(eta)}`);
    return parts.join(' | ');
  }

  update(u: ProgressUpdate): void {
    if (this.finished) return;
    this.last = { ...this.last, ...u };
    const t = this.now();
    const final = u.done >= this.total;
    if (this.tty) {
      if (t - this.lastDraw >= 100 || final) this.draw(t);
    } else if (t - this.lastDraw >= this.plainEvery || final) {
      this.lastDraw = t;
      this.stream.write(`${this.prefix()}${this.status()}\n`);
    }
  }

  /** Prints a message on its own line, keeping the bar below it. */
  log(msg: string): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${msg}\n`);
    if (this.tty && this.drawn && !this.finished) this.draw(this.now());
  }

  /** Ends the bar and prints a summary line: count, time, rate, and any extra text. */
  finish(summary?: string): void {
    if (this.finished) return;
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.finished = true;
    const u = this.last;
    const rate = this.rate();
    const tok = u.tokensPerItem ? `, ${formatRate(rate * u.tokensPerItem)} tok/s` : '';
    const done = u.done - this.start;
    this.stream.write(`${this.prefix()}done ${done} in ${formatDuration(this.elapsed())} (${formatRate(rate)} it/s${tok})${summary ? ` — ${summary}` : ''}\n`);
  }

  private prefix(): string {
    return this.label ? `${this.label} ` : '';
  }

  private draw(t: number): void {
    this.lastDraw = t;
    this.drawn = true;
    const cols = (this.stream as { columns?: number }).columns ?? 100;
    const status = this.status();
    const width = Math.max(10, Math.min(40, cols - status.length - this.prefix().length - 4));
    const frac = this.total > 0 ? Math.min(1, this.last.done / this.total) : 1;
    const full = Math.floor(frac * width);
    const bar = `${'█'.repeat(full)}${full < width ? '░'.repeat(width - full) : ''}`;
    const line = `${this.prefix()}${bar} ${status}`;
    this.stream.write(`\r\x1b[2K${line.slice(0, Math.max(cols - 1, 20))}`);
  }
}
