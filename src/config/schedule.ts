/**
 * Schedules: cron expressions (5 fields, or 6 with seconds first) or @hourly/@daily/@weekly/@monthly/
 * @yearly, in the machine's time zone or a named one. croner reads them, here to check them and to tell
 * when a schedule next runs; the daemon uses the same reading, so what `config check` accepts is what runs.
 */
import { Cron } from 'croner';
import type { ScheduleConfig } from './types.ts';

/** What an error says a schedule looks like. */
export const cronForm = 'expected cron with 5 or 6 fields ("0 */15 * * * *" = every 15 minutes, "30 2 * * *" = 02:30 daily) or @hourly, @daily, @weekly, @monthly, @yearly';

const nicknames = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

function cron(s: ScheduleConfig): Cron {
  // paused: no timer is armed; the object only reads the expression.
  return new Cron(s.cron, { paused: true, mode: '5-or-6-parts', ...(s.timezone !== undefined ? { timezone: s.timezone } : {}) });
}

/** Why a time zone name is not one, or undefined when it is an IANA name this Node knows. */
export function timezoneProblem(tz: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return undefined;
  } catch {
    return `unknown time zone "${tz}": expected an IANA name such as Europe/Paris, America/New_York or UTC`;
  }
}

/** Why `s` cannot run, or undefined. The time zone is taken as valid (see timezoneProblem). */
export function cronProblem(s: ScheduleConfig, now: Date): string | undefined {
  const expr = s.cron.trim();
  if (expr.startsWith('@')) {
    if (!nicknames.includes(expr.toLowerCase())) return `"${expr}" is not a known shorthand: ${cronForm}`;
  } else {
    const fields = expr.split(/\s+/).filter((f) => f !== '').length;
    if (fields !== 5 && fields !== 6) return `"${expr}" has ${fields} field${fields === 1 ? '' : 's'}: ${cronForm}`;
  }
  let c: Cron;
  try {
    c = cron(s);
  } catch (err) {
    const why = (err as Error).message.replace(/^Cron\w*:\s*/, '');
    return `"${expr}": ${why}; ${cronForm}`;
  }
  try {
    if (c.nextRun(now) === null) return `"${expr}" matches no date (such as the 30th of February), so it would never run`;
  } finally {
    c.stop();
  }
  return undefined;
}

/** When `s` next runs after `from`; undefined for a schedule that never does. */
export function nextRun(s: ScheduleConfig, from: Date): Date | undefined {
  const c = cron(s);
  try {
    return c.nextRun(from) ?? undefined;
  } finally {
    c.stop();
  }
}

/**
 * The longest wait between two runs among the next `n` (a weekday schedule waits over the weekend), for
 * comparing a schedule with the RPO it should keep.
 */
export function longestGapMs(s: ScheduleConfig, from: Date, n = 50): number {
  const c = cron(s);
  try {
    const runs = c.nextRuns(n, from);
    let gap = 0;
    for (let i = 1; i < runs.length; i++) gap = Math.max(gap, runs[i]!.getTime() - runs[i - 1]!.getTime());
    return gap;
  } finally {
    c.stop();
  }
}
