/** `lifeboat dns serve|publish|status|ttl`: service discovery from the `dns` section of lifeboat.yaml. */
import { Option, type Command } from 'commander';
import type { Config } from '../../config/index.ts';
import { LifeboatError } from '../../core/index.ts';
import type * as Discovery from '../../discovery/index.ts';
import type { DiscoverySettings, LiveState } from '../../discovery/index.ts';
import { Session, type Runtime } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatTable } from '../output.ts';

interface DnsFlags {
  config?: string;
  site?: string;
}

// The YAML parser and the DNS code load only when a dns command runs (~90 ms that every other command
// would pay at start otherwise).
const discovery = (): Promise<typeof Discovery> => import('../../discovery/index.ts');

async function settings(o: DnsFlags, rt: Runtime): Promise<{ cfg: Config; dns: DiscoverySettings }> {
  const file = o.config ?? rt.env['LIFEBOAT_CONFIG'];
  if (!file) throw new LifeboatError('USAGE', 'no configuration given', { hint: 'pass --config FILE (or set LIFEBOAT_CONFIG); `lifeboat dns --help` shows an example' });
  const { loadConfig } = await import('../../config/index.ts');
  const cfg = loadConfig(file);
  if (!cfg.dns) throw new LifeboatError('CONFIG', `${file} has no dns section`, { hint: '`lifeboat dns --help` shows an example' });
  return { cfg, dns: cfg.dns };
}

const configOption = (): Option => new Option('-c, --config <file>', 'the configuration file').env('LIFEBOAT_CONFIG');

const example = `
CONFIGURATION (lifeboat.yaml)
  site: primary
  dns:
    listen: [198.51.100.11:53]           # this site's server
    peers: [198.51.100.12:53]            # the other sites' servers: they pull each other's state
    state: /var/lib/lifeboat/dns.json    # live sites and epochs survive restarts
    keys:                                # TSIG keys (tsig-keygen -a hmac-sha256 NAME)
      lb-control: { secret_file: /etc/lifeboat/control.key }
      lb-transfer: { secret: "base64..." }
      lb-update: { secret: "base64..." }
    control_key: lb-control              # signs dns publish / dns ttl
    transfer_key: lb-transfer            # signs the peers' pulls
    zones:
      - name: app.example
        ns: [ns1.app.example, ns2.app.example]
        update_keys: [lb-update]         # RFC 2136 updates (nsupdate) allowed with these keys
    services:
      www.app.example:
        ttl: 5
        sites:
          primary: { a: [198.51.100.80] }
          hotsite: { a: [203.0.113.80] }
    publishers:                          # where dns publish makes the change (default: builtin, listen)
      - { kind: builtin, servers: [198.51.100.11:53, 198.51.100.12:53] }
      - { kind: rfc2136, server: 192.0.2.53, zone: app.example, key: lb-update, services: [www.app.example] }
      - { kind: address, interface: eth0, services: { www.app.example: 198.51.100.100/24 } }`;

export function registerDns(program: Command, rt: Runtime): void {
  const dns = program
    .command('dns')
    .summary('service discovery: serve, publish and inspect the records that follow the active site')
    .description(
      'Users reach a service by name; after a failover the name must lead to the recovery site. Lifeboat runs its own ' +
        'authoritative DNS server at each site (the servers pull each other\'s state, signed, and agree), updates external ' +
        'servers (BIND, Knot, PowerDNS) with signed RFC 2136 updates, and can move a service address to the recovery host. ' +
        'Every change carries an epoch that only grows: a stale or replayed change is refused.',
    )
    .addHelpText('after', `${example}\n\nEXAMPLES\n  lifeboat dns serve -c /etc/lifeboat/lifeboat.yaml\n  lifeboat dns publish www.app.example --site hotsite\n  lifeboat dns status\n\nEXIT STATUS\n  see each subcommand`);

  dns
    .command('serve')
    .summary('run the built-in authoritative DNS server')
    .addOption(configOption())
    .description(
      'Serve the configured zones over UDP and TCP on every `dns.listen` address until interrupted: live service records, ' +
        '`_epoch.<service>` TXT records with the live site and epoch, RFC 2136 updates signed with the zone\'s update keys, ' +
        'and state pulls from peers signed with the transfer key. Events are logged on stderr (JSON lines on stdout with --json).',
    )
    .addHelpText('after', '\nEXAMPLES\n  lifeboat dns serve -c /etc/lifeboat/lifeboat.yaml\n  lifeboat --json dns serve -c lifeboat.yaml | jq .\n\nEXIT STATUS\n  0   stopped by SIGINT or SIGTERM\n  1   could not start (address in use, no permission for port 53)\n  2   configuration error (file, line and field named)')
    .action(async (o: DnsFlags, c: Command) => {
      const s = Session.of(rt, c);
      const { dns: d } = await settings(o, rt);
      const { discoveryService, endpointName } = await discovery();
      const log = (e: Record<string, unknown>): void => {
        if (s.opts.json) s.out.emit({ time: new Date().toISOString(), ...e });
        else if (!s.opts.quiet) process.stderr.write(`${new Date().toISOString()} ${Object.entries(e).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}\n`);
      };
      const { service, store } = discoveryService(d, { log });
      await service.start(s.signal);
      log({ event: 'serving', zones: store.zones.map((z) => z.name).join(','), listen: d.listen.map(endpointName).join(','), peers: d.peers.map(endpointName).join(',') });
      await new Promise<void>((resolve) => {
        if (s.signal.aborted) resolve();
        s.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await service.stop();
      log({ event: 'stopped' });
    });

  dns
    .command('publish')
    .summary('make a site\'s answers the live ones for a service')
    .argument('<service>', 'the service name (www.app.example)')
    .requiredOption('--site <site>', 'the site whose answers go live')
    .option('--epoch <n>', 'the epoch of this change (default: the next one); a change not above the current is refused')
    .addOption(configOption())
    .description(
      'Publish through every configured publisher, in order, and return when the change is visible: on every built-in ' +
        'server (peers included), on the external server (asked after the update), or on the interface. Prints the longest ' +
        'time a client may still hold the old answer (its TTL), which belongs in any RTO estimate.',
    )
    .addHelpText('after', '\nEXAMPLES\n  lifeboat dns publish www.app.example --site hotsite\n  lifeboat --json dns publish www.app.example --site primary --epoch 42\n\nEXIT STATUS\n  0   visible everywhere\n  1   a publisher failed (the others may have changed: see dns status)\n  2   the epoch is stale, or the service or site is unknown; configuration error')
    .action(async (service: string, o: DnsFlags & { epoch?: string }, c: Command) => {
      const s = Session.of(rt, c);
      const { cfg, dns: d } = await settings(o, rt);
      const { publishers } = await discovery();
      const epoch = o.epoch === undefined ? undefined : Number(o.epoch);
      if (epoch !== undefined && (!Number.isSafeInteger(epoch) || epoch < 1)) throw new LifeboatError('USAGE', `--epoch takes a whole number, not ${o.epoch}`);
      // What the configuration does not know is a usage error (exit 2), not "is dns serve running?".
      const svc = d.services.find((x) => x.name === service.toLowerCase().replace(/\.$/, ''));
      if (!svc) throw new LifeboatError('USAGE', `no service ${service} in the configuration`, { hint: `configured: ${d.services.map((x) => x.name).join(', ')}` });
      if (!svc.sites[o.site!]) throw new LifeboatError('USAGE', `service ${svc.name} has no answers for site ${o.site}`, { hint: `its sites: ${Object.keys(svc.sites).join(', ')}` });
      const results = [];
      for (const p of publishers(d, o.site ?? cfg.site?.name)) {
        const r = await p.publish(service, o.site!, { ...(epoch !== undefined ? { epoch } : {}), signal: s.signal });
        results.push({ publisher: p.kind, ...r });
        s.out.print(`${p.kind}: ${r.service} → ${r.site} (epoch ${r.epoch}), visible on ${r.verified.map((v) => v.server).join(', ')}`);
        if (r.max_cached_ttl > 0) s.out.print(`  clients may hold the previous answer for up to ${r.max_cached_ttl} s`);
      }
      s.out.emit(results);
    });

  dns
    .command('status')
    .summary('show the live records, epochs and cache times')
    .argument('[service...]', 'services to show (default: all configured)')
    .addOption(configOption())
    .description(
      'Ask every publisher what is live for each service: the site, the epoch (per built-in server, so drift between sites ' +
        'shows), the TTL, and the longest a client may still be caching an older answer.',
    )
    .addHelpText('after', '\nEXAMPLES\n  lifeboat dns status -c lifeboat.yaml\n  lifeboat --json dns status www.app.example\n\nEXIT STATUS\n  0   all servers agree\n  1   fatal error\n  13  servers disagree (drift) or a server does not answer')
    .action(async (services: string[], o: DnsFlags, c: Command) => {
      const s = Session.of(rt, c);
      const { cfg, dns: d } = await settings(o, rt);
      const { publishers } = await discovery();
      const names = services.length ? services : d.services.map((x) => x.name);
      const rows: string[][] = [];
      const out: Array<LiveState & { publisher: string; drift: boolean }> = [];
      let problems = 0;
      for (const p of publishers(d, o.site ?? cfg.site?.name)) {
        for (const n of names) {
          const st = await p.current(n);
          const answered = (st.servers ?? []).filter((x) => x.epoch !== undefined);
          const drift = (st.servers ?? []).some((x) => x.error !== undefined) || new Set(answered.map((x) => `${x.site}/${x.epoch}`)).size > 1;
          if (drift) problems++;
          out.push({ publisher: p.kind, ...st, drift });
          rows.push([
            p.kind,
            st.service,
            st.site ?? '?',
            String(st.epoch),
            st.ttl !== undefined ? `${st.ttl} s` : '-',
            st.max_cached !== undefined ? `${st.max_cached} s` : '-',
            (st.servers ?? []).map((x) => `${x.server}: ${x.error ?? `${x.site}/${x.epoch}`}`).join('\n'),
          ]);
        }
      }
      s.out.emit(out);
      s.out.print(formatTable(['Publisher', 'Service', 'Site', 'Epoch', 'TTL', 'Max cached', 'Servers (site/epoch)'], rows));
      if (problems) {
        s.out.warn(`${problems} service(s) where servers disagree or do not answer`);
        s.exitWith(ExitCode.integrity);
      }
    });

  dns
    .command('ttl')
    .summary('lower a service\'s TTL ahead of a planned move, or restore it')
    .argument('<service>', 'the service name')
    .addOption(new Option('--set <seconds>', 'the TTL to serve from now on').conflicts('default'))
    .addOption(new Option('--default', 'serve the configured TTL again'))
    .addOption(configOption())
    .description(
      'Lower the TTL of a service\'s records on the built-in servers before a planned move, so clients switch quickly; ' +
        'restore it afterwards. The lower TTL only helps once answers cached with the old one have expired: status shows when.',
    )
    .addHelpText('after', '\nEXAMPLES\n  lifeboat dns ttl www.app.example --set 5      # a day before the move\n  lifeboat dns ttl www.app.example --default    # after it\n\nEXIT STATUS\n  0   changed\n  1   failed\n  2   usage or configuration error')
    .action(async (service: string, o: DnsFlags & { set?: string; default?: boolean }, c: Command) => {
      const s = Session.of(rt, c);
      const { cfg, dns: d } = await settings(o, rt);
      const { BuiltinPublisher, publishers } = await discovery();
      if (o.set === undefined && !o.default) throw new LifeboatError('USAGE', 'give --set SECONDS or --default');
      const ttl = o.set === undefined ? undefined : Number(o.set);
      if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > 86400)) throw new LifeboatError('USAGE', `--set takes 0 to 86400 seconds, not ${o.set}`);
      const builtin = publishers(d, o.site ?? cfg.site?.name).filter((p): p is InstanceType<typeof BuiltinPublisher> => p instanceof BuiltinPublisher);
      if (!builtin.length) throw new LifeboatError('CONFIG', 'TTL changes go to the built-in servers, and none is configured');
      for (const p of builtin) {
        const st = await p.setTtl(service, ttl);
        s.out.emit(st);
        s.out.print(`${st.service}: TTL ${st.ttl ?? '?'} s (epoch ${st.epoch}); clients may hold older answers for up to ${st.max_cached ?? '?'} s`);
      }
    });
}
