/**
 * The address publisher: a service's address itself moves to the recovery host. Run on that host, it
 * checks that no other host still answers on the address (ARP duplicate address detection: a stale
 * primary that still holds it must be fenced first, never fought), adds it to the interface
 * (`ip addr add`), and announces it with gratuitous ARP so neighbours update their caches at once.
 * `release` removes it from this host (a planned move, or fencing the old primary).
 *
 * Needs CAP_NET_ADMIN (root). The commands run in a network namespace when one is configured (tests,
 * or a host that keeps services in a namespace).
 */
import { LifeboatError, run, stderrTail, type RunResult } from '../core/index.ts';
import { normalizeName } from './records.ts';
import { readState, writeState } from './state-file.ts';
import type { LiveState, PublishResult, Publisher } from './publisher.ts';

export interface ServiceAddress {
  /** IPv4 address with its prefix length: 198.51.100.100/24. */
  address: string;
}

export interface AddressPublisherOptions {
  /** The site this host is. */
  site: string;
  interface: string;
  netns?: string;
  services: Record<string, ServiceAddress>;
  /** Epochs, so a stale or replayed move is refused. */
  stateFile?: string;
  /** Duplicate detection: probes and how long to wait for an answer. Default 3 probes, 3 s. */
  probes?: number;
  probeSeconds?: number;
}

interface State {
  [service: string]: { site: string; epoch: number; changed: string };
}

function parseAddress(spec: string): { ip: string; prefix: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(spec.trim());
  if (!m || Number(m[2]) > 32 || m[1]!.split('.').some((o) => Number(o) > 255)) {
    throw new LifeboatError('CONFIG', `${spec} is not an IPv4 address with a prefix length (198.51.100.100/24)`);
  }
  return { ip: m[1]!, prefix: Number(m[2]) };
}

export class AddressPublisher implements Publisher {
  readonly kind = 'address';
  readonly #o: AddressPublisherOptions;

  constructor(opts: AddressPublisherOptions) {
    for (const a of Object.values(opts.services)) parseAddress(a.address);
    this.#o = opts;
  }

  async #cmd(file: string, args: string[]): Promise<RunResult> {
    const [f, a] = this.#o.netns ? ['ip', ['netns', 'exec', this.#o.netns, file, ...args]] : [file, args];
    return run(f, a as string[], { timeoutMs: 30_000 });
  }

  #spec(service: string): { name: string; ip: string; prefix: number } {
    const name = normalizeName(service);
    const s = this.#o.services[name];
    if (!s) throw new LifeboatError('NOT_FOUND', `no address configured for service ${name}`, { hint: `configured: ${Object.keys(this.#o.services).join(', ')}` });
    return { name, ...parseAddress(s.address) };
  }

  #load(): State {
    return readState<State>(this.#o.stateFile, {});
  }

  /** Is the address configured on this host's interface? */
  async holds(service: string): Promise<boolean> {
    const { ip } = this.#spec(service);
    const r = await this.#cmd('ip', ['-j', 'addr', 'show', 'dev', this.#o.interface]);
    if (r.code !== 0) throw new LifeboatError('SOURCE', `ip addr show dev ${this.#o.interface}: ${stderrTail(r.stderr)}`);
    const links = JSON.parse(r.stdout.toString() || '[]') as Array<{ addr_info?: Array<{ local: string }> }>;
    return links.some((l) => (l.addr_info ?? []).some((a) => a.local === ip));
  }

  /** Whether another host answers ARP for the address (duplicate address detection). */
  async answeredElsewhere(service: string): Promise<string | undefined> {
    const { ip } = this.#spec(service);
    const r = await this.#cmd('arping', ['-D', '-c', String(this.#o.probes ?? 3), '-w', String(this.#o.probeSeconds ?? 3), '-I', this.#o.interface, ip]);
    if (r.code === 0) return undefined;
    const out = r.stdout.toString();
    const mac = /\[([0-9a-f:]{17})\]/i.exec(out)?.[1];
    if (mac || /reply from/i.test(out) || /Received [1-9]/.test(out)) return mac?.toLowerCase() ?? 'another host';
    throw new LifeboatError('SOURCE', `arping -D on ${this.#o.interface} failed: ${stderrTail(r.stderr) || out.trim()}`, { hint: 'arping (Debian package iputils-arping) must be installed; run as root' });
  }

  async current(service: string): Promise<LiveState> {
    const { name } = this.#spec(service);
    const st = this.#load()[name];
    const here = await this.holds(name);
    return { service: name, site: here ? this.#o.site : st && st.site !== this.#o.site ? st.site : undefined, epoch: st?.epoch ?? 0 };
  }

  async publish(service: string, site: string, opts: { epoch?: number; signal?: AbortSignal } = {}): Promise<PublishResult> {
    const { name, ip, prefix } = this.#spec(service);
    if (site !== this.#o.site) {
      throw new LifeboatError('USAGE', `the address of ${name} is moved by the host that takes it: this host is site ${this.#o.site}, not ${site}`, {
        hint: `run the publish on the host of site ${site}`,
      });
    }
    const state = this.#load();
    const cur = state[name];
    const epoch = opts.epoch ?? (cur?.epoch ?? 0) + 1;
    if (cur && epoch <= cur.epoch) {
      throw new LifeboatError('OUT_OF_RANGE', `stale change for ${name}: epoch ${epoch} is not above the current epoch ${cur.epoch}`);
    }
    if (!(await this.holds(name))) {
      const other = await this.answeredElsewhere(name);
      if (other) {
        throw new LifeboatError('EXISTS', `${ip} is still answered by ${other}; not taking it over`, {
          hint: 'fence the old host first (stop it, or remove the address there: lifeboat dns release), then publish again',
          context: { service: name, address: ip, answered_by: other },
        });
      }
      const add = await this.#cmd('ip', ['addr', 'add', `${ip}/${prefix}`, 'dev', this.#o.interface]);
      if (add.code !== 0) throw new LifeboatError('SOURCE', `ip addr add ${ip}/${prefix} dev ${this.#o.interface}: ${stderrTail(add.stderr)}`, { hint: 'run as root (CAP_NET_ADMIN)' });
    }
    // Tell the neighbours (switches, routers, clients) where the address is now.
    const garp = await this.#cmd('arping', ['-U', '-c', '2', '-w', '2', '-I', this.#o.interface, ip]);
    if (garp.code !== 0 && garp.code !== 1) throw new LifeboatError('SOURCE', `gratuitous ARP for ${ip} failed: ${stderrTail(garp.stderr)}`);
    state[name] = { site, epoch, changed: new Date().toISOString() };
    if (this.#o.stateFile) writeState(this.#o.stateFile, state);
    return { service: name, site, epoch, verified: [{ server: `${this.#o.interface}${this.#o.netns ? '@' + this.#o.netns : ''}`, at: new Date().toISOString() }], max_cached_ttl: 0 };
  }

  /** Remove the address from this host (planned move away, or fencing). */
  async release(service: string): Promise<boolean> {
    const { ip, prefix } = this.#spec(service);
    if (!(await this.holds(service))) return false;
    const del = await this.#cmd('ip', ['addr', 'del', `${ip}/${prefix}`, 'dev', this.#o.interface]);
    if (del.code !== 0) throw new LifeboatError('SOURCE', `ip addr del ${ip}/${prefix} dev ${this.#o.interface}: ${stderrTail(del.stderr)}`);
    return true;
  }
}
