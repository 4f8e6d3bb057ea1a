/**
 * Hosts as network namespaces (see ../shared/recipes/sites-in-namespaces.md): a bridge in a namespace of
 * its own, one veth per host, documentation addresses (198.51.100.0/24), no route out. Every namespace
 * and every process started in one is removed after the test, also when it fails.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export interface Hosts {
  prefix: string;
  ns: (host: string) => string;
  /** Run a command in a host's namespace (to completion). */
  exec: (host: string, args: string[]) => string;
  /** Start a long-running process in a host's namespace; killed after the test. */
  spawn: (host: string, args: string[]) => ChildProcess;
  /** Cut a host off the network (its link on the bridge down), and back. */
  cut: (host: string) => void;
  heal: (host: string) => void;
}

export function makeHosts(t: { after: (fn: () => void | Promise<void>) => void }, hosts: Record<string, string>): Hosts {
  const prefix = `lbt${process.pid % 100000}${Math.floor(Math.random() * 1000)}`;
  const ns = (h: string): string => `${prefix}-${h}`;
  const made: string[] = [];
  const children: ChildProcess[] = [];
  const ip = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  t.after(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const n of made.reverse()) {
      try {
        ip('netns', 'del', n);
      } catch {
        /* already gone */
      }
    }
  });
  const lan = ns('lan');
  const vnameOf = (h: string): string => `${prefix.slice(-8)}${h}`.slice(0, 15);
  ip('netns', 'add', lan);
  made.push(lan);
  ip('netns', 'exec', lan, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
  ip('netns', 'exec', lan, 'ip', 'link', 'set', 'br0', 'up');
  for (const [h, addr] of Object.entries(hosts)) {
    const n = ns(h);
    ip('netns', 'add', n);
    made.push(n);
    const vname = vnameOf(h);
    ip('link', 'add', vname, 'type', 'veth', 'peer', 'name', 'e0', 'netns', n);
    ip('link', 'set', vname, 'netns', lan);
    ip('netns', 'exec', lan, 'ip', 'link', 'set', vname, 'master', 'br0');
    ip('netns', 'exec', lan, 'ip', 'link', 'set', vname, 'up');
    ip('netns', 'exec', n, 'ip', 'addr', 'add', addr, 'dev', 'e0');
    ip('netns', 'exec', n, 'ip', 'link', 'set', 'e0', 'up');
    ip('netns', 'exec', n, 'ip', 'link', 'set', 'lo', 'up');
  }
  return {
    prefix,
    ns,
    exec: (h, args) => execFileSync('ip', ['netns', 'exec', ns(h), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString(),
    cut: (h) => ip('netns', 'exec', lan, 'ip', 'link', 'set', vnameOf(h), 'down'),
    heal: (h) => ip('netns', 'exec', lan, 'ip', 'link', 'set', vnameOf(h), 'up'),
    spawn: (h, args) => {
      const c = spawn('ip', ['netns', 'exec', ns(h), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      return c;
    },
  };
}
