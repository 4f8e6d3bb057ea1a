import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ManualClock, isLifeboatError } from '../../src/core/index.ts';
import { applyPolicy, groupSnapshots, parseDuration, policyIsEmpty } from '../../src/repo/retention.ts';
import type { RetentionPolicy, SnapshotLike } from '../../src/repo/retention.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function snap(id: string, time: string, extra: Partial<SnapshotLike> = {}): SnapshotLike {
  return { id, time, hostname: 'db1', paths: ['/var/lib/pg'], ...extra };
}

/** The result as plain data: kept ids with reasons, removed ids. */
function outcome(r: { keep: Array<{ snapshot: SnapshotLike; reasons: string[] }>; remove: SnapshotLike[] }) {
  return { keep: r.keep.map((k) => [k.snapshot.id, k.reasons]), remove: r.remove.map((s) => s.id) };
}

function isUsage(err: unknown): boolean {
  return isLifeboatError(err, 'USAGE');
}

const clock = new ManualClock(Date.UTC(2030, 0, 1));

void test('hand-made set: last + daily, newest of each day, and the oldest kept while counts remain', () => {
  const snaps = [
    snap('s4', '2024-03-09T07:00:00Z'),
    snap('s1', '2024-03-10T18:00:00Z'),
    snap('s6', '2024-03-07T06:00:00Z'),
    snap('s3', '2024-03-09T20:00:00Z'),
    snap('s2', '2024-03-10T09:00:00Z'),
    snap('s5', '2024-03-07T12:00:00Z'),
  ];
  const before = snaps.map((s) => s.id);

  // Three days exist; daily 3 takes the newest of each, nothing is left for the oldest.
  assert.deepEqual(outcome(applyPolicy(snaps, { last: 2, daily: 3 }, clock)), {
    keep: [
      ['s1', ['last snapshot', 'daily snapshot']],
      ['s2', ['last snapshot']],
      ['s3', ['daily snapshot']],
      ['s5', ['daily snapshot']],
    ],
    remove: ['s4', 's6'],
  });
  // daily 4 has one count left at the oldest snapshot, which shares its day with s5: restic keeps it.
  assert.deepEqual(outcome(applyPolicy(snaps, { daily: 4 }, clock)), {
    keep: [
      ['s1', ['daily snapshot']],
      ['s3', ['daily snapshot']],
      ['s5', ['daily snapshot']],
      ['s6', ['oldest daily snapshot']],
    ],
    remove: ['s2', 's4'],
  });
  // daily 2 runs out at 9 March.
  assert.deepEqual(outcome(applyPolicy(snaps, { daily: 2 }, clock)), {
    keep: [
      ['s1', ['daily snapshot']],
      ['s3', ['daily snapshot']],
    ],
    remove: ['s2', 's4', 's5', 's6'],
  });
  assert.deepEqual(
    snaps.map((s) => s.id),
    before,
    'the input array is not reordered',
  );
});

void test('weekly buckets are ISO weeks, across year ends', () => {
  const days = [
    // 2020 has 53 ISO weeks: Mon 28 Dec 2020 .. Sun 3 Jan 2021 is 2020-W53.
    '2020-12-20', // Sun, 2020-W51 (oldest)
    '2020-12-28', // Mon, 2020-W53
    '2021-01-01', // Fri, 2020-W53
    '2021-01-03', // Sun, 2020-W53
    '2021-01-04', // Mon, 2021-W01
    '2021-01-10', // Sun, 2021-W01
    '2021-01-11', // Mon, 2021-W02
    // Mon 30 Dec 2024 is already 2025-W01.
    '2024-12-01', // Sun, 2024-W48
    '2024-12-23', // Mon, 2024-W52
    '2024-12-29', // Sun, 2024-W52
    '2024-12-30', // Mon, 2025-W01
    '2025-01-05', // Sun, 2025-W01
    '2025-01-06', // Mon, 2025-W02
  ];
  const snaps = days.map((d) => snap(d, `${d}T12:00:00Z`));
  const r = applyPolicy(snaps, { weekly: -1 }, clock);
  assert.deepEqual(
    r.keep.map((k) => k.snapshot.id),
    ['2025-01-06', '2025-01-05', '2024-12-29', '2024-12-01', '2021-01-11', '2021-01-10', '2021-01-03', '2020-12-20'],
  );
  assert.deepEqual(
    r.remove.map((s) => s.id),
    ['2024-12-30', '2024-12-23', '2021-01-04', '2021-01-01', '2020-12-28'],
  );
});

// --- Two years of snapshots against an independently computed expectation --------------------------------

/** Deterministic PRNG (mulberry32), so the data set is the same on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function twoYears(): SnapshotLike[] {
  const rand = rng(42);
  const out: SnapshotLike[] = [];
  const start = Date.UTC(2023, 0, 1);
  for (let day = 0; day < 731; day++) {
    // Gaps: three weeks in June 2023, most of February 2024, and three days near the end.
    if ((day >= 155 && day < 176) || (day >= 398 && day < 420) || (day >= 724 && day < 727)) continue;
    const count = Math.floor(rand() * 5); // 0..4 snapshots, so some single days are missing too
    const hours = new Set<number>();
    while (hours.size < count) hours.add(Math.floor(rand() * 24));
    for (const h of hours) {
      const t = start + day * DAY + h * HOUR + Math.floor(rand() * 60) * 60_000;
      out.push(snap(`t${t}`, new Date(t).toISOString()));
    }
  }
  // Listing order from a backend is arbitrary: shuffle.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as SnapshotLike, out[i] as SnapshotLike];
  }
  return out;
}

/** ISO week via the Monday of the week holding 4 January (a different route from the module's). */
function isoWeekKey(iso: string): string {
  const d = new Date(iso);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  const monday = day - ((new Date(day).getUTCDay() + 6) % 7) * DAY;
  const isoYear = new Date(monday + 3 * DAY).getUTCFullYear();
  const jan4 = Date.UTC(isoYear, 0, 4);
  const week1Monday = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY;
  return `${isoYear}-W${(monday - week1Monday) / (7 * DAY) + 1}`;
}

/**
 * The rule, stated directly: for a rule with count n, take the distinct buckets newest first, keep the
 * newest snapshot of each of the first n; if there are fewer than n buckets, keep the oldest snapshot too.
 */
function expected(snaps: SnapshotLike[], policy: RetentionPolicy): Array<[string, string[]]> {
  const sorted = [...snaps].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  const keyOf: Record<string, (s: SnapshotLike) => string> = {
    last: (s) => s.id,
    hourly: (s) => s.time.slice(0, 13),
    daily: (s) => s.time.slice(0, 10),
    weekly: (s) => isoWeekKey(s.time),
    monthly: (s) => s.time.slice(0, 7),
    yearly: (s) => s.time.slice(0, 4),
  };
  const reasons = new Map<string, string[]>(sorted.map((s) => [s.id, []]));
  for (const rule of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
    const n = policy[rule] ?? 0;
    if (n === 0) continue;
    const limit = n === -1 ? Infinity : n;
    const seen = new Set<string>();
    const newestOfBucket: SnapshotLike[] = [];
    for (const s of sorted) {
      const k = (keyOf[rule] as (s: SnapshotLike) => string)(s);
      if (!seen.has(k)) {
        seen.add(k);
        newestOfBucket.push(s);
      }
    }
    for (const s of newestOfBucket.slice(0, limit)) reasons.get(s.id)?.push(`${rule} snapshot`);
    const oldest = sorted[sorted.length - 1] as SnapshotLike;
    if (newestOfBucket.length < limit && !newestOfBucket.includes(oldest)) {
      reasons.get(oldest.id)?.push(`oldest ${rule} snapshot`);
    }
  }
  return sorted.filter((s) => (reasons.get(s.id) ?? []).length > 0).map((s) => [s.id, reasons.get(s.id) ?? []]);
}

void test('two years of snapshots: mixed policy keeps exactly the independently computed set', () => {
  const snaps = twoYears();
  assert.ok(snaps.length > 1000, `${snaps.length} snapshots generated`);
  const policies: RetentionPolicy[] = [
    { last: 3, daily: 7, weekly: 4, monthly: 12, yearly: 3 },
    { hourly: 24, daily: 30, weekly: 8, monthly: 6 },
    { last: 1, weekly: -1, yearly: 1 },
    { daily: 1000 }, // more days than exist: every day, plus the oldest snapshot
    { monthly: -1 },
  ];
  for (const policy of policies) {
    const r = applyPolicy(snaps, policy, clock);
    const exp = expected(snaps, policy);
    assert.deepEqual(outcome(r).keep, exp, JSON.stringify(policy));
    assert.equal(r.keep.length + r.remove.length, snaps.length);
    const kept = new Set(exp.map(([id]) => id));
    assert.deepEqual(
      r.remove.map((s) => s.id),
      [...snaps]
        .sort((a, b) => Date.parse(b.time) - Date.parse(a.time))
        .filter((s) => !kept.has(s.id))
        .map((s) => s.id),
    );
  }

  // Facts about the first policy that do not depend on the helper above.
  const r = applyPolicy(snaps, policies[0] as RetentionPolicy, clock);
  const count = (reason: string) => r.keep.filter((k) => k.reasons.includes(reason)).length;
  assert.equal(count('last snapshot'), 3);
  assert.equal(count('daily snapshot'), 7);
  assert.equal(count('weekly snapshot'), 4);
  assert.equal(count('monthly snapshot'), 12);
  // Only two years exist, so yearly 3 keeps one per year and, with a count left, the very oldest snapshot.
  assert.equal(count('yearly snapshot'), 2);
  const oldest = [...snaps].sort((a, b) => Date.parse(a.time) - Date.parse(b.time))[0] as SnapshotLike;
  assert.deepEqual(r.keep.at(-1), { snapshot: oldest, reasons: ['oldest yearly snapshot'] });
  const newest = r.keep[0];
  assert.deepEqual(newest?.reasons, ['last snapshot', 'daily snapshot', 'weekly snapshot', 'monthly snapshot', 'yearly snapshot']);
  // The gap near the end (days 724-726) means the 7 daily snapshots reach back past it.
  const dailyDays = r.keep.filter((k) => k.reasons.includes('daily snapshot')).map((k) => k.snapshot.time.slice(0, 10));
  assert.equal(new Set(dailyDays).size, 7);
  assert.ok(!dailyDays.some((d) => d >= '2024-12-25' && d <= '2024-12-27'), dailyDays.join(' '));
});

void test('-1 keeps every bucket: last -1 keeps everything, daily -1 one per day', () => {
  const snaps = [
    snap('a', '2024-05-03T10:00:00Z'),
    snap('b', '2024-05-03T08:00:00Z'),
    snap('c', '2024-05-02T23:59:59Z'),
    snap('d', '2024-05-01T00:00:00Z'),
  ];
  assert.deepEqual(outcome(applyPolicy(snaps, { last: -1 }, clock)).remove, []);
  assert.deepEqual(outcome(applyPolicy(snaps, { daily: -1 }, clock)), {
    keep: [
      ['a', ['daily snapshot']],
      ['c', ['daily snapshot']],
      ['d', ['daily snapshot']],
    ],
    remove: ['b'],
  });
  assert.deepEqual(outcome(applyPolicy(snaps, { hourly: -1, yearly: -1 }, clock)), {
    keep: [
      ['a', ['hourly snapshot', 'yearly snapshot']],
      ['b', ['hourly snapshot']],
      ['c', ['hourly snapshot']],
      ['d', ['hourly snapshot', 'oldest yearly snapshot']],
    ],
    remove: [],
  });
});

void test('within is measured from the newest snapshot, not from now, and strictly', () => {
  const snaps = [
    snap('w4', '2024-06-01T00:00:00Z'),
    snap('w1', '2024-06-30T12:00:00Z'),
    snap('w3', '2024-06-23T12:00:00Z'), // exactly 7 days before w1: not within
    snap('w2', '2024-06-23T12:00:00.001Z'),
  ];
  // Now is half a year later: measured from now, nothing would be kept.
  const later = new ManualClock(Date.UTC(2025, 0, 1));
  assert.deepEqual(outcome(applyPolicy(snaps, { within: '7d' }, later)), {
    keep: [
      ['w1', ['within 7d']],
      ['w2', ['within 7d']],
    ],
    remove: ['w3', 'w4'],
  });
  // The reason names the canonical duration.
  assert.deepEqual(applyPolicy(snaps, { within: '0y7d0h' }, later).keep[0]?.reasons, ['within 7d']);
  assert.deepEqual(applyPolicy(snaps, { within: '6d12h' }, later).keep.map((k) => k.snapshot.id), ['w1']);
});

void test('within ignores snapshots dated in the future when choosing its reference', () => {
  const snaps = [
    snap('future', '2031-01-01T00:00:00Z'),
    snap('w1', '2024-06-30T12:00:00Z'),
    snap('w2', '2024-06-25T00:00:00Z'),
    snap('old', '2024-01-01T00:00:00Z'),
  ];
  const now = new ManualClock(Date.UTC(2024, 6, 1));
  assert.deepEqual(outcome(applyPolicy(snaps, { within: '7d' }, now)), {
    keep: [
      ['future', ['within 7d']],
      ['w1', ['within 7d']],
      ['w2', ['within 7d']],
    ],
    remove: ['old'],
  });
  // Every snapshot in the future: there is no reference, and within keeps them all (as restic does).
  const past = new ManualClock(Date.UTC(2020, 0, 1));
  assert.deepEqual(outcome(applyPolicy(snaps, { within: '1d' }, past)).remove, []);
});

void test('within subtracts months on the calendar, as restic does', () => {
  // One month before 31 March 2024 is "31 February", which normalises to 2 March (2024 is a leap year).
  const snaps = [
    snap('m1', '2024-03-31T00:00:00Z'),
    snap('m2', '2024-03-02T00:00:00.001Z'),
    snap('m3', '2024-03-01T23:00:00Z'),
  ];
  assert.deepEqual(outcome(applyPolicy(snaps, { within: '1m' }, clock)).remove, ['m3']);
  // Years, months, days and hours together: 31 Mar 2024 - 1y1m1d = 30 Feb 2023 = 2 Mar 2023, then - 1h.
  const more = [snap('n1', '2024-03-31T00:00:00Z'), snap('n2', '2023-03-01T23:00:00.001Z'), snap('n3', '2023-03-01T23:00:00Z')];
  assert.deepEqual(outcome(applyPolicy(more, { within: '1y1m1d1h' }, clock)), {
    keep: [
      ['n1', ['within 1y1m1d1h']],
      ['n2', ['within 1y1m1d1h']],
    ],
    remove: ['n3'],
  });
  // A duration beyond the range of dates reaches past every snapshot.
  assert.deepEqual(outcome(applyPolicy(more, { within: '999999999999y' }, clock)).remove, []);
});

void test('keep-tag keeps snapshots having every tag of any one set, alongside other rules', () => {
  const snaps = [
    snap('new', '2024-06-05T00:00:00Z'),
    snap('ab', '2024-06-04T00:00:00Z', { tags: ['b', 'x', 'a'] }),
    snap('a', '2024-06-03T00:00:00Z', { tags: ['a'] }),
    snap('imp', '2024-06-02T00:00:00Z', { tags: ['important', 'a', 'b'] }),
    snap('untagged', '2024-06-01T00:00:00Z', { tags: [] }),
  ];
  const policy = { last: 1, tags: [['important'], ['a', 'b']] };
  assert.deepEqual(outcome(applyPolicy(snaps, policy, clock)), {
    keep: [
      ['new', ['last snapshot']],
      ['ab', ['has tags [a, b]']],
      ['imp', ['has tags [important]', 'has tags [a, b]']],
    ],
    remove: ['a', 'untagged'],
  });
  // As in restic, the empty tag matches snapshots without tags.
  assert.deepEqual(
    applyPolicy(snaps, { tags: [['']] }, clock).keep.map((k) => k.snapshot.id),
    ['new', 'untagged'],
  );
});

void test("tz 'local' puts snapshots in the local calendar day", () => {
  const snaps = [
    snap('a', '2024-03-10T23:30:00Z'), // Tokyo: 11 March 08:30
    snap('b', '2024-03-10T10:00:00Z'), // Tokyo: 10 March 19:00
    snap('c', '2024-03-05T12:00:00Z'),
  ];
  const saved = process.env.TZ;
  process.env.TZ = 'Asia/Tokyo';
  try {
    assert.deepEqual(outcome(applyPolicy(snaps, { daily: 5 }, clock)).remove, ['b'], 'UTC is the default');
    assert.deepEqual(outcome(applyPolicy(snaps, { daily: 5 }, clock, 'local')).remove, []);
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

void test('grouping by host and paths: each group is retained on its own', () => {
  const snaps = [
    snap('db1-3', '2024-06-03T00:00:00Z', { hostname: 'db1', paths: ['/etc', '/var/lib/pg'] }),
    snap('web-2', '2024-06-02T12:00:00Z', { hostname: 'web', paths: ['/srv'] }),
    snap('db1-2', '2024-06-02T00:00:00Z', { hostname: 'db1', paths: ['/var/lib/pg', '/etc'] }),
    snap('web-1', '2024-06-01T12:00:00Z', { hostname: 'web', paths: ['/srv'] }),
    snap('db1-1', '2024-06-01T00:00:00Z', { hostname: 'db1', paths: ['/etc', '/var/lib/pg'], tags: ['x'] }),
    snap('web-0', '2024-05-01T12:00:00Z', { hostname: 'web', paths: ['/srv'] }),
    snap('db1-other', '2024-06-04T00:00:00Z', { hostname: 'db1', paths: ['/home'] }),
  ];
  const groups = groupSnapshots(snaps);
  assert.deepEqual(
    groups.map((g) => ({ key: g.key, ids: g.snapshots.map((s) => s.id) })),
    [
      { key: { hostname: 'db1', paths: ['/etc', '/var/lib/pg'] }, ids: ['db1-3', 'db1-2', 'db1-1'] },
      { key: { hostname: 'db1', paths: ['/home'] }, ids: ['db1-other'] },
      { key: { hostname: 'web', paths: ['/srv'] }, ids: ['web-2', 'web-1', 'web-0'] },
    ],
  );
  assert.deepEqual(snaps[2]?.paths, ['/var/lib/pg', '/etc'], 'input paths are not sorted in place');

  // last 2 per group: the newer db1 snapshots do not push out web's.
  const removed = groups.flatMap((g) => applyPolicy(g.snapshots, { last: 2 }, clock).remove.map((s) => s.id));
  assert.deepEqual(removed, ['db1-1', 'web-0']);

  assert.deepEqual(
    groupSnapshots(snaps, { host: true, paths: false, tags: false }).map((g) => [g.key, g.snapshots.length]),
    [
      [{ hostname: 'db1' }, 4],
      [{ hostname: 'web' }, 3],
    ],
  );
  assert.deepEqual(
    groupSnapshots(snaps, { host: false, paths: false, tags: true }).map((g) => [g.key, g.snapshots.length]),
    [
      [{ tags: [] }, 6],
      [{ tags: ['x'] }, 1],
    ],
  );
  assert.deepEqual(
    groupSnapshots(snaps, { host: false, paths: false, tags: false }).map((g) => [g.key, g.snapshots.length]),
    [[{}, 7]],
  );
  assert.deepEqual(groupSnapshots([]), []);
});

void test('a policy without any rule is refused, even for an empty group', () => {
  const snaps = [snap('a', '2024-01-01T00:00:00Z')];
  for (const p of [{}, { daily: 0, last: 0 }, { within: '0d' }, { tags: [] }] as RetentionPolicy[]) {
    assert.equal(policyIsEmpty(p), true, JSON.stringify(p));
    for (const list of [snaps, []]) {
      assert.throws(
        () => applyPolicy(list, p, clock),
        (err: unknown) =>
          isUsage(err) &&
          (err as Error).message === 'refusing to forget every snapshot: no keep rule given' &&
          /lifeboat forget --keep-/.test((err as { hint?: string }).hint ?? ''),
      );
    }
  }
  for (const p of [{ last: 1 }, { yearly: -1 }, { within: '1h' }, { tags: [['a']] }] as RetentionPolicy[]) {
    assert.equal(policyIsEmpty(p), false, JSON.stringify(p));
  }
  assert.deepEqual(applyPolicy([], { daily: 7 }, clock), { keep: [], remove: [] });
});

void test('bad counts and bad snapshot times are errors', () => {
  const snaps = [snap('a', '2024-01-01T00:00:00Z')];
  for (const p of [{ daily: -2 }, { weekly: 1.5 }, { last: Number.NaN }, { monthly: Infinity }] as RetentionPolicy[]) {
    assert.throws(() => applyPolicy(snaps, p, clock), isUsage, JSON.stringify(p));
  }
  assert.throws(() => applyPolicy(snaps, { within: '7x' }, clock), isUsage);
  for (const time of ['yesterday', '2024-01-01T00:00:00', '2024-13-01T00:00:00Z', '']) {
    assert.throws(
      () => applyPolicy([snap('bad', time)], { last: 1 }, clock),
      (err: unknown) => isLifeboatError(err, 'CORRUPT') && err.message.includes('bad'),
      time,
    );
  }
  assert.equal(applyPolicy([snap('tz', '2024-01-01T09:00:00.123456789+09:00')], { last: 1 }, clock).keep.length, 1);
});

void test('parseDuration', () => {
  assert.deepEqual(parseDuration('1y2m3d4h'), { years: 1, months: 2, days: 3, hours: 4 });
  assert.deepEqual(parseDuration('4h3d'), { years: 0, months: 0, days: 3, hours: 4 });
  assert.deepEqual(parseDuration(' 7d '), { years: 0, months: 0, days: 7, hours: 0 });
  assert.deepEqual(parseDuration('0d'), { years: 0, months: 0, days: 0, hours: 0 });
  assert.deepEqual(parseDuration('36m'), { years: 0, months: 36, days: 0, hours: 0 });

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['7', /no unit after 7/],
    ['d', /expected a number/],
    ['7x', /unknown unit "x"/],
    ['7D', /unknown unit "D"/],
    ['30s', /unknown unit "s"/],
    ['-1d', /negative/],
    ['1d2d', /unit "d" given twice/],
    ['1.5d', /only whole numbers/],
    ['7 d', /no unit after 7/],
    ['7dd', /expected a number/],
    ['99999999999999999999y', /too large/],
  ];
  for (const [input, why] of bad) {
    assert.throws(
      () => parseDuration(input),
      (err: unknown) =>
        isUsage(err) &&
        why.test((err as Error).message) &&
        (err as Error).message.startsWith(`invalid duration ${JSON.stringify(input)}`) &&
        /m \(months\)/.test((err as { hint?: string }).hint ?? ''),
      input,
    );
  }
});
