/**
 * How the CLI talks: a `Printer` that knows the output mode (human, `--json`, `--quiet`, `-v`), and the
 * live progress displays for backup and restore.
 *
 * Streams: results go to stdout (human text, or JSON: one document per command, or JSON lines for streams
 * such as `ls`); warnings, errors, `-v` details and progress go to stderr in human mode, so a pipe such as
 * `lifeboat ls latest | grep` sees only results. With `--json`, stdout carries
 * only JSON, so a script can parse it whatever happens. Progress is drawn only on a terminal, and never
 * with `--json`, `--quiet` or `--no-progress`: a log file should not fill with carriage returns.
 */
import type cliProgress from 'cli-progress';
import { createRequire } from 'node:module';

/** cli-progress is loaded when a progress display starts (only on a terminal): ~30 ms of every start-up otherwise. */
const loadCliProgress = (): typeof cliProgress => createRequire(import.meta.url)('cli-progress') as typeof cliProgress;
import type { BackupProgress, RestoreProgress } from '../sources/files/index.ts';

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  progress: boolean;
}

/** The stream surface the printer uses (process.stdout / process.stderr in real runs). */
export interface OutStream {
  write(chunk: string | Uint8Array, cb?: (err?: Error | null) => void): boolean;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
  isTTY?: boolean;
  columns?: number;
  /** True once the stream failed (EPIPE): further writes are dropped. */
  destroyed?: boolean;
}

interface LogSink {
  log(text: string): void;
}

export class Printer {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly #progress: boolean;
  /** The progress display on screen, if any: stderr lines must go through it so they do not tear the bar. */
  #sink: LogSink | undefined;

  constructor(opts: OutputOptions, stdout: OutStream = process.stdout, stderr: OutStream = process.stderr) {
    this.json = opts.json;
    this.quiet = opts.quiet && !opts.json;
    this.verbose = opts.verbose && !opts.quiet;
    this.stdout = stdout;
    this.stderr = stderr;
    this.#progress = opts.progress && !opts.json && !opts.quiet && stderr.isTTY === true;
  }

  /** True when a live progress display may be drawn. */
  get showProgress(): boolean {
    return this.#progress;
  }

  /** A line of the human result on stdout (not with --json or --quiet). */
  print(text = ''): void {
    if (this.json || this.quiet || this.stdout.destroyed) return;
    this.stdout.write(text + '\n');
  }

  /** Detail shown with -v only (human mode). */
  detail(text: string): void {
    if (!this.verbose || this.json) return;
    this.#stderrLine(text);
  }

  /** One JSON document (or one line of a JSON-lines stream) on stdout; only with --json. */
  emit(value: unknown): void {
    if (!this.json || this.stdout.destroyed) return;
    this.stdout.write(JSON.stringify(value) + '\n');
  }

  /**
   * A warning as it happens: `lifeboat: warning: ...` on stderr in human and quiet mode; with --json, the
   * given JSON object as a line on stdout instead.
   */
  warn(text: string, json?: unknown): void {
    if (this.json) {
      if (json !== undefined) this.emit(json);
      return;
    }
    this.#stderrLine(`lifeboat: warning: ${text}`);
  }

  /** Write raw bytes to stdout (dump), waiting when the pipe is full. */
  async writeRaw(data: Uint8Array): Promise<void> {
    if (this.stdout.destroyed || this.stdout.write(data)) return;
    // Wait for the pipe to empty, or to close (EPIPE): then main.ts aborts the command.
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.stdout.off('drain', done);
        this.stdout.off('close', done);
        resolve();
      };
      this.stdout.on('drain', done);
      this.stdout.on('close', done);
    });
  }

  #stderrLine(text: string): void {
    if (this.#sink) this.#sink.log(text + '\n');
    else this.stderr.write(text + '\n');
  }

  /** @internal used by the progress displays. */
  attach(sink: LogSink | undefined): void {
    this.#sink = sink;
  }
}

// ---- formatting ----

const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 1536 → "1.50 KiB"; three significant digits, binary units as restic prints them. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (Math.abs(n) < 1024) return `${n} B`;
  let v = n;
  let unit: string = units[0];
  for (const u of units) {
    v /= 1024;
    unit = u;
    if (Math.abs(v) < 1024) break;
  }
  const digits = Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${unit}`;
}

/** A rate in bytes per second: "45.3 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** Elapsed time for humans: "850ms", "4.2s", "3m07s", "2h05m". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  return `${m}m${String(sec).padStart(2, '0')}s`;
}

/** A clock reading for progress lines: "0:07", "12:34", "1:02:03". */
export function formatClock(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** "2024-05-01 03:00:12" in the local zone, as restic's tables show times. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "-rw-r--r--" from a node type and permission bits (including setuid, setgid, sticky). */
export function formatMode(type: string, mode: number | undefined): string {
  const t: Record<string, string> = { dir: 'd', symlink: 'l', fifo: 'p', chardev: 'c', blockdev: 'b', socket: 's' };
  const m = mode ?? 0;
  const bit = (mask: number, c: string): string => (m & mask ? c : '-');
  const exec = (x: number, special: number, set: string, unset: string): string =>
    m & special ? (m & x ? set : unset) : m & x ? 'x' : '-';
  return (
    (t[type] ?? '-') +
    bit(0o400, 'r') + bit(0o200, 'w') + exec(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') + bit(0o020, 'w') + exec(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') + bit(0o002, 'w') + exec(0o001, 0o1000, 't', 'T')
  );
}

/**
 * A plain-text table: header, a rule, rows. A cell may hold several lines (a snapshot's paths); the row
 * then takes that many lines.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const split = rows.map((r) => headers.map((_, i) => (r[i] ?? '').split('\n')));
  const widths = headers.map((h, i) => Math.max(h.length, ...split.map((r) => Math.max(...(r[i] ?? ['']).map((l) => l.length)))));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(headers), '-'.repeat(widths.reduce((a, w) => a + w + 2, -2))];
  for (const r of split) {
    const height = Math.max(...r.map((c) => c.length));
    for (let k = 0; k < height; k++) out.push(line(r.map((c) => c[k] ?? '')));
  }
  return out.join('\n');
}

// ---- progress ----

/** Bytes per second over the last few seconds, so the rate follows the current speed, not the average. */
class RateMeter {
  readonly #samples: Array<{ t: number; bytes: number }> = [];
  readonly #windowMs: number;

  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  sample(t: number, bytes: number): number {
    this.#samples.push({ t, bytes });
    while (this.#samples.length > 2 && t - this.#samples[0]!.t > this.#windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const dt = (t - first.t) / 1000;
    return dt > 0 ? (bytes - first.bytes) / dt : 0;
  }
}

interface ProgressLine {
  files: number;
  totalFiles?: number;
  bytes: number;
  totalBytes?: number;
  errors: number;
  current?: string;
}

export interface ProgressView {
  start(): void;
  stop(): void;
}

/**
 * A one-line live display on stderr, redrawn from `render(elapsedMs)` a few times a second: the library
 * only counts, drawing and timing are the CLI's business. Warnings printed meanwhile appear above it.
 */
class LiveLine implements ProgressView {
  readonly #printer: Printer;
  readonly #render: (elapsedMs: number) => string;
  #multi: cliProgress.MultiBar | undefined;
  #bar: cliProgress.SingleBar | undefined;
  #timer: NodeJS.Timeout | undefined;
  #start = 0;

  constructor(printer: Printer, render: (elapsedMs: number) => string) {
    this.#printer = printer;
    this.#render = render;
  }

  start(): void {
    if (!this.#printer.showProgress) return;
    this.#start = performance.now();
    const stream = this.#printer.stderr as unknown as NodeJS.WritableStream;
    this.#multi = new (loadCliProgress().MultiBar)({
      stream,
      format: (_o, _p, payload: { line: string }) => payload.line,
      hideCursor: true,
      clearOnComplete: true,
      linewrap: false,
      fps: 5,
    });
    this.#bar = this.#multi.create(1, 0, { line: this.#line() });
    this.#printer.attach({ log: (t) => this.#multi?.log(t) });
    this.#timer = setInterval(() => this.#bar?.update(0, { line: this.#line() }), 200);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#printer.attach(undefined);
    this.#multi?.stop();
    this.#multi = undefined;
    this.#bar = undefined;
  }

  #line(): string {
    const line = this.#render(performance.now() - this.#start);
    const cols = this.#printer.stderr.columns;
    const width = (cols !== undefined && cols >= 20 ? cols : 80) - 1;
    return line.length > width ? line.slice(0, width) : line;
  }
}

/** Files and bytes with rate, and percentage and ETA when the totals are known. */
function transferLine(read: () => ProgressLine, width: () => number): (elapsedMs: number) => string {
  const meter = new RateMeter();
  return (elapsed) => {
    const p = read();
    const rate = meter.sample(elapsed, p.bytes);
    const parts = [`[${formatClock(elapsed)}]`];
    const total = p.totalBytes !== undefined && p.totalBytes > 0 ? p.totalBytes : undefined;
    if (total !== undefined) parts.push(`${((100 * p.bytes) / total).toFixed(1)}%`);
    parts.push(p.totalFiles !== undefined ? `${p.files} / ${p.totalFiles} files` : `${p.files} files`);
    parts.push(total !== undefined ? `${formatBytes(p.bytes)} / ${formatBytes(total)}` : formatBytes(p.bytes));
    parts.push(formatRate(rate));
    if (total !== undefined && rate > 0) parts.push(`ETA ${formatClock((1000 * Math.max(0, total - p.bytes)) / rate)}`);
    if (p.errors > 0) parts.push(`${p.errors} errors`);
    let line = parts.join('  ');
    const room = width() - line.length - 3;
    if (p.current && room > 10) line += '  ' + (p.current.length > room ? '…' + p.current.slice(p.current.length - room + 1) : p.current);
    return line;
  };
}

function columns(printer: Printer): () => number {
  return () => {
    const cols = printer.stderr.columns;
    return cols !== undefined && cols >= 20 ? cols : 80;
  };
}

/**
 * Backup progress: files, bytes, rate, and the file being read. An ETA needs the total to be known before
 * the walk ends; `total` is for when the library offers a pre-scan (it does not yet).
 */
/**
 * Backup progress. `total` is filled by a concurrent pre-scan; it is shown (with an ETA) once the scan has
 * finished, since a partial count would promise too early an end.
 */
export function backupProgressView(printer: Printer, p: BackupProgress, total?: { files: number; bytes: number; done?: boolean }): ProgressView {
  const read = (): ProgressLine => ({
    files: p.files,
    bytes: p.bytes,
    errors: p.errors,
    current: p.current,
    ...(total && total.done !== false ? { totalFiles: Math.max(total.files, p.files), totalBytes: Math.max(total.bytes, p.bytes) } : {}),
  });
  return new LiveLine(printer, transferLine(read, columns(printer)));
}

/** Restore progress: files and bytes against the totals the restore plan knows, rate, ETA. */
export function restoreProgressView(printer: Printer, p: RestoreProgress): ProgressView {
  const read = (): ProgressLine => ({ files: p.files, totalFiles: p.totalFiles, bytes: p.bytes, totalBytes: p.totalBytes, errors: p.errors });
  return new LiveLine(printer, transferLine(read, columns(printer)));
}

/** Runs `fn` with the display drawn, and always takes it down again. */
export async function withProgress<T>(view: ProgressView, fn: () => Promise<T>): Promise<T> {
  view.start();
  try {
    return await fn();
  } finally {
    view.stop();
  }
}

/** The shape of the library's `onProgress` for multi-phase operations (check, prune). */
export interface PhaseProgress {
  phase: string;
  done: number;
  total: number;
}

/**
 * Progress of a multi-phase operation: "[0:12] data 5 / 12". `update` is the library's onProgress callback.
 * `units` names what each phase counts, e.g. { data: 'packs', trees: 'trees' }.
 */
export function phaseProgressView(printer: Printer, units: Record<string, string> = {}): ProgressView & { update(p: PhaseProgress): void } {
  let last: PhaseProgress | undefined;
  const view = new LiveLine(printer, (elapsed) => {
    if (!last) return `[${formatClock(elapsed)}] starting`;
    const unit = units[last.phase] ?? '';
    const count = last.total > 0 ? `${last.done} / ${last.total}` : `${last.done}`;
    return `[${formatClock(elapsed)}] ${last.phase}: ${count}${unit ? ` ${unit}` : ''}`;
  });
  return {
    start: () => view.start(),
    stop: () => view.stop(),
    update: (p) => {
      last = p;
    },
  };
}

/** A library result with camelCase keys as JSON with restic-style snake_case keys (packsRemoved → packs_removed). */
export function snakeKeys(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  return out;
}
