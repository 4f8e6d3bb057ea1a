/** What the commands that talk to the daemon share: the configuration, the token and the pinned certificate. */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Config } from '../config/index.ts';
import { LifeboatError } from '../core/index.ts';
import type { ApiEndpoint } from '../daemon/index.ts';
import type { Runtime } from './context.ts';

export interface DaemonFlags {
  config?: string;
  tokenFile?: string;
  fingerprint?: string;
}

export const configOption = (): Option => new Option('-c, --config <file>', 'the configuration file').env('LIFEBOAT_CONFIG');

export function addDaemonOptions(cmd: Command): Command {
  return cmd
    .addOption(configOption())
    .option('--token-file <file>', 'the API token (default: LIFEBOAT_TOKEN, else the daemon\'s local token when readable)')
    .option('--fingerprint <sha256>', 'accept only the daemon certificate with this SHA-256 fingerprint (default: its certificate file, when readable)');
}

export async function loadDaemonConfig(o: DaemonFlags, rt: Runtime): Promise<Config> {
  const file = o.config ?? rt.env['LIFEBOAT_CONFIG'];
  if (!file) throw new LifeboatError('USAGE', 'no configuration given', { hint: 'pass -c FILE (or set LIFEBOAT_CONFIG); docs/lifeboat.sample.yaml is an example' });
  const { loadConfig } = await import('../config/index.ts');
  return loadConfig(file);
}

export async function endpoint(o: DaemonFlags, rt: Runtime): Promise<ApiEndpoint> {
  const cfg = await loadDaemonConfig(o, rt);
  let token = rt.env['LIFEBOAT_TOKEN'] || undefined;
  if (o.tokenFile !== undefined) {
    try {
      token = readFileSync(o.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new LifeboatError('USAGE', `cannot read the token file ${o.tokenFile}: ${(err as Error).message}`);
    }
  }
  const { daemonEndpoint } = await import('../daemon/index.ts');
  return daemonEndpoint(cfg, { ...(token ? { token } : {}), ...(o.fingerprint ? { fingerprint: o.fingerprint } : {}) });
}
