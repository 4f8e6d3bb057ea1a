/**
 * Durations of lifeboat.yaml (`30s`, `5m`, `1h30m`, `7d`): whole numbers with a unit, largest unit first.
 * A plain number is refused: `timeout: 30` could be seconds or milliseconds, and a wrong guess is silent.
 *
 * Retention's `within` is not one of these: it keeps restic's `--keep-within` syntax (y, m = months, d, h),
 * read by the repository's own parser (src/repo/retention.ts).
 */

/** What an error says a duration looks like. */
export const durationForm = 'a duration such as 30s, 5m, 1h30m or 7d (units d, h, m, s, largest first)';

const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!m || m.slice(1).every((x) => x === undefined)) return undefined;
  const [, d, h, min, s] = m;
  const ms = Number(d ?? 0) * unitMs.d + Number(h ?? 0) * unitMs.h + Number(min ?? 0) * unitMs.m + Number(s ?? 0) * unitMs.s;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** 5_400_000 → `1h30m`; the form parseDurationMs reads back (0 → `0s`). */
export function formatDurationMs(ms: number): string {
  let rest = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const [u, n] of Object.entries(unitMs)) {
    const q = Math.floor(rest / n);
    if (q > 0) out += `${q}${u}`;
    rest -= q * n;
  }
  return out || '0s';
}
