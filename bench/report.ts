/**
 * Results: the JSON document, the Markdown tables and the SVG chart of Lifeboat's time relative to the
 * faster of its peers.
 */
import type { Measurement } from './measure.ts';
import type { ToolName } from './tools.ts';

export type CellStatus = 'ok' | 'error' | 'wrong-data' | 'skipped';

export interface Cell extends Partial<Measurement> {
  status: CellStatus;
  /** Why the cell is not ok, or a remark (borg warnings). */
  note?: string;
  /** Restore verification problems (paths), when the restored data differs from the source. */
  problems?: string[];
  /** Repository size (apparent bytes) after this step. */
  repoBytes?: number;
  /** Repository growth during this step (backups). */
  addedBytes?: number;
  /** Client-side cache and config size (outside the repository) after this step. */
  cacheBytes?: number;
  /** Wall times of every repetition (the cell itself is the median one). */
  wallRuns?: number[];
}

export interface RowResult {
  id: string;
  title: string;
  corpus: 'mixed' | 'tiny';
  /** Describes the data involved, for the table. */
  detail: string;
  /** Order the tools ran in (rotated row by row), in the first repetition; `orders` has them all. */
  order: ToolName[];
  orders?: ToolName[][];
  /** The median repetition of each tool (or its failure). */
  cells: Partial<Record<ToolName, Cell>>;
  /** Every repetition. */
  runs?: Partial<Record<ToolName, Cell[]>>;
}

export interface Results {
  schema: 1;
  date: string;
  command: string;
  durationS: number;
  pageCache: string;
  /** What of the harness's environment the commands got (runs before 2026-11-30 13:30: all of it). */
  environment?: string;
  machine: Record<string, string>;
  tools: Partial<Record<ToolName, { version: string; settings: string }>>;
  corpora: Record<string, unknown>;
  rows: RowResult[];
  failures: string[];
  warnings: string[];
}

const MiB = 2 ** 20;

export function fmtBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  if (Math.abs(n) >= 10 * 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (Math.abs(n) >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (Math.abs(n) >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

function fmtS(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '—';
  return s >= 100 ? `${s.toFixed(0)} s` : s >= 10 ? `${s.toFixed(1)} s` : `${s.toFixed(2)} s`;
}

/** The range of the repetitions' wall times, when there were several. */
function spread(c: Cell): string {
  const w = (c.wallRuns ?? []).filter((x) => Number.isFinite(x));
  if (w.length < 2) return '';
  return ` <sub>${Math.min(...w).toFixed(1)}–${Math.max(...w).toFixed(1)}</sub>`;
}

function failed(c: Cell | undefined): string | undefined {
  if (c === undefined) return undefined;
  if (c.status === 'wrong-data') return '**WRONG DATA**';
  if (c.status === 'error') return `error${c.exitCode !== undefined ? ` (exit ${c.exitCode})` : ''}`;
  if (c.status === 'skipped') return 'skipped';
  return undefined;
}

/** Lifeboat's wall time over the faster peer's, when both ran correctly. */
export function ratio(row: RowResult): { ratio: number; peer: ToolName } | undefined {
  const lb = row.cells.lifeboat;
  if (lb?.status !== 'ok' || lb.wallS === undefined) return undefined;
  let best: { ratio: number; peer: ToolName } | undefined;
  for (const peer of ['restic', 'borg'] as const) {
    const c = row.cells[peer];
    if (c?.status !== 'ok' || c.wallS === undefined) continue;
    const r = lb.wallS / c.wallS;
    if (best === undefined || r > best.ratio) best = { ratio: r, peer };
  }
  return best;
}

function table(
  r: Results,
  tools: ToolName[],
  value: (c: Cell, row: RowResult) => string,
  opts: { rows?: (row: RowResult) => boolean; ratio?: boolean } = {},
): string {
  const head = ['row', ...tools];
  if (opts.ratio) head.push('Lifeboat / faster peer');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of r.rows.filter(opts.rows ?? (() => true))) {
    const cells = tools.map((t) => {
      const c = row.cells[t];
      return failed(c) ?? (c === undefined ? '' : value(c, row));
    });
    const line = [`${row.title} <br><sub>${row.detail}</sub>`, ...cells];
    if (opts.ratio) {
      const q = ratio(row);
      line.push(q === undefined ? '—' : `${q.ratio < 0.95 || q.ratio > 1.05 ? `**${q.ratio.toFixed(2)}×**` : `${q.ratio.toFixed(2)}×`} (${q.peer})`);
    }
    lines.push(`| ${line.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function markdown(r: Results, svgName: string): string {
  const tools = (['lifeboat', 'restic', 'borg'] as const).filter((t) => r.tools[t] !== undefined);
  const isBackup = (row: RowResult): boolean => row.id.includes('backup');
  const out: string[] = [];
  out.push(`# Backup benchmark, ${r.date}`);
  out.push('');
  out.push(`\`${r.command}\` — ${(r.durationS / 60).toFixed(1)} min in all. ${r.pageCache}${r.environment !== undefined ? ` ${r.environment}` : ''}`);
  out.push('');
  out.push('Machine: ' + Object.entries(r.machine).map(([k, v]) => `${k} ${v}`).join('; ') + '.');
  out.push('');
  for (const t of tools) {
    const info = r.tools[t];
    if (info !== undefined) out.push(`- **${t}**: ${info.version} — ${info.settings}`);
  }
  out.push('');
  for (const [name, c] of Object.entries(r.corpora)) out.push(`- corpus **${name}**: ${String((c as { summary?: string }).summary ?? '')}`);
  out.push('');
  if (r.failures.length > 0) {
    out.push('## Failures');
    out.push('');
    for (const f of r.failures) out.push(`- ${f}`);
    out.push('');
  }
  out.push('## Wall time');
  out.push('');
  out.push('Ratio > 1: Lifeboat is slower than the faster peer by that factor (bold when off by more than 5 %).');
  out.push('');
  out.push(table(r, tools, (c) => fmtS(c.wallS) + spread(c), { ratio: tools.includes('lifeboat') && tools.length > 1 }));
  out.push('');
  if (tools.includes('lifeboat') && tools.length > 1) {
    out.push(`![Lifeboat / faster peer](${svgName})`);
    out.push('');
  }
  out.push('## CPU time (user + sys)');
  out.push('');
  out.push(table(r, tools, (c) => fmtS(c.cpuS)));
  out.push('');
  out.push('## Peak RSS (largest process)');
  out.push('');
  out.push(table(r, tools, (c) => (c.maxRssMiB !== undefined && Number.isFinite(c.maxRssMiB) ? `${c.maxRssMiB.toFixed(0)} MiB` : '—')));
  out.push('');
  out.push('## Repository size after each backup (added by that backup)');
  out.push('');
  out.push(table(r, tools, (c) => `${fmtBytes(c.repoBytes)} (+${fmtBytes(c.addedBytes)})`, { rows: isBackup }));
  out.push('');
  out.push('## Client cache outside the repository, after each backup');
  out.push('');
  out.push(table(r, tools, (c) => fmtBytes(c.cacheBytes), { rows: isBackup }));
  out.push('');
  out.push('## Page-cache flush after the command (`sync`), seconds');
  out.push('');
  out.push(table(r, tools, (c) => fmtS(c.flushS)));
  out.push('');
  if (r.warnings.length > 0) {
    out.push('## Warnings');
    out.push('');
    for (const w of r.warnings) out.push(`- ${w}`);
    out.push('');
  }
  return out.join('\n');
}

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Horizontal bars of log2(ratio) around 1×: red where Lifeboat is slower, green where it is faster. */
export function svg(r: Results): string {
  const rows = r.rows;
  const labelW = 300;
  const plotW = 460;
  const rowH = 26;
  const top = 56;
  const width = labelW + plotW + 90;
  const height = top + rows.length * rowH + 40;
  const maxLog = 2; // 1/4× .. 4×
  const x = (q: number): number => labelW + plotW / 2 + (Math.max(-maxLog, Math.min(maxLog, Math.log2(q))) / maxLog) * (plotW / 2);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="10" y="20" font-size="15" font-weight="bold">Lifeboat wall time / faster of restic and borg — ${esc(r.date)}</text>`);
  parts.push(`<text x="10" y="38" fill="#555">left of 1×: Lifeboat faster; right: slower (log scale, clamped at 1/4× and 4×)</text>`);
  for (const t of [1 / 4, 1 / 2, 1, 2, 4]) {
    const xt = x(t).toFixed(1);
    parts.push(`<line x1="${xt}" y1="${top - 6}" x2="${xt}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? '#000' : '#ddd'}"/>`);
    parts.push(`<text x="${xt}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${t >= 1 ? `${t}×` : `1/${1 / t}×`}</text>`);
  }
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(row.title)}</text>`);
    const q = ratio(row);
    if (q === undefined) {
      const why = failed(row.cells.lifeboat)?.replaceAll('*', '') ?? 'no comparison';
      parts.push(`<text x="${x(1) + 6}" y="${y + rowH / 2 + 4}" fill="#999">${esc(why)}</text>`);
      return;
    }
    const x0 = x(1);
    const x1 = x(q.ratio);
    const color = q.ratio > 1.05 ? '#d9534f' : q.ratio < 0.95 ? '#5cb85c' : '#999';
    parts.push(
      `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 4}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`,
    );
    const clamped = Math.abs(Math.log2(q.ratio)) > maxLog ? ' (off scale)' : '';
    const tx = q.ratio >= 1 ? x1 + 4 : x1 - 4;
    parts.push(
      `<text x="${tx.toFixed(1)}" y="${y + rowH / 2 + 4}" text-anchor="${q.ratio >= 1 ? 'start' : 'end'}">${q.ratio.toFixed(2)}× ${q.peer}${clamped}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
