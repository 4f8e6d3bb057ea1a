/** `lifeboat config check`: read lifeboat.yaml as the daemon will, and say what it configures or what is wrong. */
import { Option, type Command } from 'commander';
import type * as ConfigModule from '../../config/index.ts';
import type { ConfigSummary, ConfigWarning } from '../../config/index.ts';
import { LifeboatError } from '../../core/index.ts';
import { Session, type Runtime } from '../context.ts';

// The YAML parser and croner load only when this command runs.
const configModule = (): Promise<typeof ConfigModule> => import('../../config/index.ts');

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "YYYY-MM-DD hh:mm:ss" in the schedule's zone (the machine's when it names none), with the zone named. */
function when(iso: string, timezone: string | undefined): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    ...(timezone !== undefined ? { timeZone: timezone } : {}),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).formatToParts(new Date(iso));
  const p = (t: string): string => parts.find((x) => x.type === t)?.value ?? '';
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}:${p('second')} ${timezone ?? p('timeZoneName')}`;
}

function human(sum: ConfigSummary, c: typeof ConfigModule): string[] {
  const d = c.formatDurationMs;
  const lines = [`${sum.file}: valid`];
  if (sum.site) lines.push(`site          ${sum.site.name} (data in ${sum.site.data})`);
  for (const r of sum.repositories) lines.push(`repository    ${r.name}: ${r.path} (${r.password.from === 'inline' ? 'password written inline' : `password from ${r.password.from}`})`);
  for (const g of sum.groups) {
    lines.push(`group         ${g.name} → repository ${g.repository}${g.tags.length ? ` [${g.tags.join(', ')}]` : ''}`);
    for (const m of g.members) {
      if (m.kind === 'files') lines.push(`  files       ${m.paths.join(', ')}${m.excludes.length ? `, excluding ${m.excludes.join(', ')}` : ''}${m.one_file_system ? ', one file system' : ''}`);
      else if (m.kind === 'postgres') lines.push(`  postgres    ${m.mode}: ${m.conn}${m.jobs !== undefined ? `, ${m.jobs} jobs` : ''}`);
      else lines.push(`  sqlite      ${m.path}`);
    }
    const s = g.schedule;
    if (s) lines.push(`  schedule    ${s.cron}${s.timezone ? ` (${s.timezone})` : ''}, next run ${s.next_run ? when(s.next_run, s.timezone) : 'never'}${g.jitter_ms ? `, plus up to ${d(g.jitter_ms)}` : ''}`);
    else lines.push('  schedule    none: backups run on demand only');
    if (g.retention) {
      const r = g.retention;
      const rules = (['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const).filter((k) => r[k] !== undefined).map((k) => `${k} ${r[k] === -1 ? 'all' : r[k]}`);
      if (r.within !== undefined) rules.push(`within ${r.within}`);
      if (r.tags?.length) rules.push(`tags ${r.tags.map((t) => t.join('+')).join(', ')}`);
      lines.push(`  retention   ${rules.join(', ')}`);
    }
    if (g.replicate) lines.push(`  replicate   to ${g.replicate.to}, a checkpoint every ${d(g.replicate.every_ms)}`);
    if (g.hooks) lines.push(`  hooks       ${[g.hooks.pre !== undefined ? 'pre' : '', g.hooks.post !== undefined ? 'post' : ''].filter(Boolean).join(' and ')}${g.hooks.timeout_ms !== undefined ? `, timeout ${d(g.hooks.timeout_ms)}` : ''}`);
    if (g.rpo_ms !== undefined || g.rto_ms !== undefined) lines.push(`  objectives  ${[g.rpo_ms !== undefined ? `RPO ${d(g.rpo_ms)}` : '', g.rto_ms !== undefined ? `RTO ${d(g.rto_ms)}` : ''].filter(Boolean).join(', ')}`);
    if (g.check) {
      const k = g.check.schedule;
      lines.push(`  check       ${k.cron}${k.timezone ? ` (${k.timezone})` : ''}, next run ${k.next_run ? when(k.next_run, k.timezone) : 'never'}${g.check.read_data_subset ? `, reading ${g.check.read_data_subset} of the data` : ''}`);
    }
  }
  if (sum.api) {
    const a = sum.api;
    const tls = a.tls === false ? 'plain HTTP (loopback)' : a.tls === 'self-signed' ? 'HTTPS, self-signed certificate' : `HTTPS, certificate ${a.tls.cert}`;
    const byRole = (Object.entries(a.tokens_by_role) as Array<[string, number]>).filter(([, n]) => n > 0).map(([r, n]) => `${n} ${r}`);
    lines.push(`api           ${a.listen}, ${tls}; ${plural(a.tokens.length, 'token')}${byRole.length ? ` (${byRole.join(', ')})` : ''}; ${a.restore_paths.length ? `restores into ${a.restore_paths.join(', ')}` : 'no restores through the API'}`);
  }
  for (const x of sum.sites) lines.push(`site (peer)   ${x.name}: ${x.url}, ${x.fingerprint ? `certificate pinned (${x.fingerprint.slice(0, 19)}…)` : x.ca ? `certificate from CA ${x.ca}` : "certificate checked by the system's CAs"}; token from ${x.token.from}`);
  for (const j of sum.journals) lines.push(`journal       ${j.group}${j.from ? ` from ${j.from}` : ''}: ${j.path}${j.replica ? `, replica in ${j.replica}` : ''}`);
  lines.push(`notify        ${plural(sum.notify.webhooks.length, 'webhook')}${sum.notify.webhooks.length ? ` (${sum.notify.webhooks.map((w) => w.origin).join(', ')})` : ''}`);
  lines.push(`daemon        up to ${plural(sum.daemon.max_concurrent_jobs, 'job')} at once`);
  if (sum.dns) lines.push(`dns           ${plural(sum.dns.zones.length, 'zone')}, ${plural(sum.dns.services.length, 'service')}, listening on ${sum.dns.listen.join(', ')}${sum.dns.peers.length ? `, ${plural(sum.dns.peers.length, 'peer')}` : ''}`);
  return lines;
}

export function registerConfig(program: Command, rt: Runtime): void {
  const config = program
    .command('config')
    .summary('check the configuration file (lifeboat.yaml)')
    .description('Work with lifeboat.yaml, the configuration of the site daemon: sites, repositories, protection groups, the API, notifications and service discovery.')
    .addHelpText('after', '\nEXAMPLES\n  lifeboat config check -c /etc/lifeboat/lifeboat.yaml\n\nA commented sample with every field: docs/lifeboat.sample.yaml');

  config
    .command('check')
    .summary('validate the configuration and summarise it')
    .addOption(new Option('-c, --config <file>', 'the configuration file').env('LIFEBOAT_CONFIG'))
    .description(
      'Read the configuration as the daemon will: every field checked, secrets read from their files and environment ' +
        'variables, schedules parsed. Prints what it configures (site, repositories, groups with their members and next ' +
        'scheduled run, the API with its TLS and tokens by role, webhooks) or the first error, with the file, line, column ' +
        'and field. Warnings (a password written inline, a secret file every user can read, an RPO the schedule cannot ' +
        'keep) go to stderr. Secret values are never printed: only where they come from.',
    )
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat config check -c /etc/lifeboat/lifeboat.yaml
  LIFEBOAT_CONFIG=/etc/lifeboat/lifeboat.yaml lifeboat config check
  lifeboat --json config check -c lifeboat.yaml | jq '.groups[] | {name, next: .schedule.next_run}'

OUTPUT
  --json: {"ok": true, "file", "site", "repositories": [{"name","path","password": {"from"}}], "groups": [...],
  "api", "notify", "daemon", "dns", "warnings": [{"message","field","line","column"}]}; an error is the usual
  {"message_type": "exit_error", ...} with the line, column and field in its context.

EXIT STATUS
  0   the configuration is valid (warnings may have been printed)
  2   no configuration given, or it cannot be read or is not valid (the first error is printed)`,
    )
    .action(async (o: { config?: string }, c: Command) => {
      const s = Session.of(rt, c);
      const file = o.config ?? rt.env['LIFEBOAT_CONFIG'];
      if (!file) throw new LifeboatError('USAGE', 'no configuration given', { hint: 'pass --config FILE (or set LIFEBOAT_CONFIG)' });
      const mod = await configModule();
      const warnings: ConfigWarning[] = [];
      const cfg = mod.loadConfig(file, { env: rt.env, onWarning: (w) => warnings.push(w) });
      const summary = mod.describeConfig(cfg, new Date());
      s.out.emit({ ok: true, ...summary, warnings });
      for (const w of warnings) s.out.warn(w.message);
      for (const line of human(summary, mod)) s.out.print(line);
    });
}
