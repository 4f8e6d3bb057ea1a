/**
 * `sites:` (the other sites this one talks to: URL, pinned certificate or CA, the token we present) and
 * `journals:` (the groups this site is the hot site for: the token their primary presents, the journal's
 * folder, the group repository's password, the hot replica folder). A group's `replicate:` is read with
 * the group (groups.ts) and names a site from here.
 */
import { tokenHash } from './api.ts';
import { knownList, type Path, type Reader } from './reader.ts';
import type { JournalConfig, PeerSiteConfig, ReplicateConfig } from './types.ts';

export function readSites(r: Reader, v: unknown): PeerSiteConfig[] {
  const P: Path = ['sites'];
  if (v === undefined) return [];
  return Object.entries(r.named(v, P, 'site')).map(([name, x]) => {
    const sp = [...P, name];
    const m = r.map(x, sp, ['url', 'fingerprint', 'ca', 'token_file', 'token_env']);
    const url = r.str(m['url'], [...sp, 'url'], { what: 'the https:// address of its API (https://198.51.100.12:7420)' });
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      u = undefined;
    }
    if (!u || u.protocol !== 'https:' || u.username || u.password || (u.pathname !== '/' && u.pathname !== '')) r.fail([...sp, 'url'], 'expected https://HOST:PORT (its API address; no path, no credentials: the token goes in token_file)');
    const fingerprint = m['fingerprint'] === undefined ? undefined : r.str(m['fingerprint'], [...sp, 'fingerprint'], { pattern: /^sha256:[0-9a-fA-F]{64}$/, what: 'sha256: and 64 hex digits (the fingerprint that site printed at start)' }).toLowerCase();
    const ca = m['ca'] === undefined ? undefined : r.path(m['ca'], [...sp, 'ca'], 'a CA certificate file (PEM)');
    if (fingerprint === undefined && ca === undefined) r.warn([...sp, 'url'], "neither fingerprint nor ca is given: the system's CAs decide whether its certificate is trusted");
    const token = r.secret(m, sp, 'token', { required: true, inline: false, trim: true, what: 'token this site presents there' })!;
    return { name, url: u!.origin, ...(fingerprint ? { fingerprint } : {}), ...(ca ? { ca } : {}), token };
  });
}

export function readReplicate(r: Reader, v: unknown, p: Path, sites: PeerSiteConfig[]): ReplicateConfig {
  const m = typeof v === 'string' ? { to: v } : r.map(v, p, ['to', 'every']);
  const to = r.name(m['to'], typeof v === 'string' ? p : [...p, 'to'], 'site');
  const names = sites.map((s) => s.name);
  if (!names.includes(to)) r.fail(typeof v === 'string' ? p : [...p, 'to'], `no site "${to}" under sites${knownList(to, names)}`);
  return { to, everyMs: r.duration(m['every'], [...p, 'every'], 1000, { min: 100 }) };
}

export function readJournals(r: Reader, v: unknown, dataDir: string | undefined): JournalConfig[] {
  const P: Path = ['journals'];
  if (v === undefined) return [];
  return Object.entries(r.named(v, P, 'journal')).map(([group, x]) => {
    const jp = [...P, group];
    const m = r.map(x, jp, ['from', 'token_file', 'token_env', 'password_file', 'password_env', 'password', 'path', 'replica']);
    const from = m['from'] === undefined ? undefined : r.name(m['from'], [...jp, 'from'], 'site');
    const token = r.secret(m, jp, 'token', { required: true, inline: false, trim: true, what: 'token the primary presents for this journal' })!;
    if (token.value.length < 16) r.warn([...jp, 'token_file'], 'the token is shorter than 16 characters: easy to guess (openssl rand -hex 32 makes a good one)');
    const password = r.secret(m, jp, 'password', { required: true, inline: true, what: "group repository's password (the journal shares its key)" })!;
    let path: string;
    if (m['path'] !== undefined) path = r.path(m['path'], [...jp, 'path'], 'the journal folder');
    else if (dataDir) path = `${dataDir}/journals/${group}`;
    else r.fail([...jp, 'path'], 'missing: expected the journal folder (or a site.data to keep it under)');
    const replica = m['replica'] === undefined ? undefined : r.path(m['replica'], [...jp, 'replica'], 'the hot replica folder');
    return { group, ...(from ? { from } : {}), tokenHash: tokenHash(token.value), password, path, ...(replica ? { replica } : {}) };
  });
}
