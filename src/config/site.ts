/**
 * `site:` — which site this host belongs to, and where the daemon keeps its own data. Written as a name
 * alone (`site: primary`, the older form) or as `{ name, data }`.
 */
import { defaultDataDir } from './defaults.ts';
import type { Path, Reader } from './reader.ts';
import type { SiteConfig } from './types.ts';

const SITE_NAME = /^[a-z0-9][a-z0-9-]*$/i;
const what = 'a site name (letters, digits, -)';

export function readSite(r: Reader, v: unknown): SiteConfig {
  const P: Path = ['site'];
  const data = (): string => defaultDataDir({ uid: r.opts.uid, env: r.opts.env, home: r.opts.home });
  if (typeof v === 'string') return { name: r.str(v, P, { pattern: SITE_NAME, what }), data: data() };
  const m = r.map(v, P, ['name', 'data']);
  return {
    name: r.str(m['name'], [...P, 'name'], { pattern: SITE_NAME, what }),
    data: m['data'] === undefined ? data() : r.path(m['data'], [...P, 'data'], 'a folder'),
  };
}
