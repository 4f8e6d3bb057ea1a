/**
 * The API's certificate: the configured pair, or a self-signed one made once in the data folder (ECDSA
 * P-256, ten years, the host's names and the listen address as subject alternative names). Clients pin it
 * by the SHA-256 fingerprint of its DER bytes, which the daemon prints at start and `lifeboat status`
 * checks (the same fingerprint `openssl x509 -fingerprint -sha256` shows).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LifeboatError, run } from '../core/index.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** `sha256:` and the hex of the certificate's DER bytes, lowercase, no colons. */
  fingerprint: string;
  selfSigned: boolean;
  certFile: string;
}

/** The fingerprint of a PEM certificate, in the form clients pin. */
export function fingerprintOf(pem: string): string {
  const der = new X509Certificate(pem).raw;
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** Accepts `sha256:AB:CD...`, `AB:CD...` or plain hex; returns the canonical form, or undefined. */
export function normalizeFingerprint(s: string): string | undefined {
  const hex = s.trim().replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? `sha256:${hex}` : undefined;
}

/**
 * What the child runs: selfsigned, given its module's path and the request on stdin (JSON, dates in ms),
 * writes `{ cert, key }` as JSON. Plain CommonJS for Node alone, so it runs the same from the bundle
 * (dist/) and from the sources under tsx.
 */
const generateScript = `
const { generate } = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8').on('data', (s) => (input += s)).on('end', () => {
  const { attrs, options } = JSON.parse(input);
  options.notBeforeDate = new Date(options.notBeforeDate);
  options.notAfterDate = new Date(options.notAfterDate);
  generate(attrs, options).then(
    (pems) => process.stdout.write(JSON.stringify({ cert: pems.cert, key: pems.private })),
    (err) => { process.stderr.write(String((err && err.stack) || err)); process.exitCode = 1; },
  );
});
`;

/**
 * Made in a short-lived child process: selfsigned and the X.509 and ASN.1 libraries under it, once loaded,
 * would stay in the daemon's memory for the rest of its life; the child gives all of it back when it exits.
 */
async function makeSelfSigned(names: string[], ips: string[]): Promise<{ cert: string; key: string }> {
  const now = Date.now();
  const attrs = [{ name: 'commonName', value: `lifeboat ${names[0] ?? 'daemon'}` }];
  const options = {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now - 3600_000,
    notAfterDate: now + 10 * 365 * 86400_000,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...names.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))] },
    ],
  };
  const fail = (why: string, cause?: unknown): never => {
    // Expected, not a bug: the package missing, the generator killed or out of memory.
    throw new LifeboatError('IO', `cannot make the API's self-signed certificate: ${why}`, {
      ...(cause !== undefined ? { cause } : {}),
      hint: 'give a certificate and key of your own under api.tls (cert, key), or check that the selfsigned package is installed',
    });
  };
  let module: string;
  try {
    // Found from this file, or from the bundle's chunk in dist/: both resolve the project's node_modules.
    module = createRequire(import.meta.url).resolve('selfsigned');
  } catch (err) {
    return fail((err as Error).message, err);
  }
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run(process.execPath, ['-e', generateScript, module], { input: JSON.stringify({ attrs, options }), timeoutMs: 60_000, maxStderr: 4096 });
  } catch (err) {
    return fail((err as Error).message, err);
  }
  if (r.code !== 0) {
    // The error's own line ("Error: ..."), not the location Node prints above an uncaught one.
    const lines = r.stderr.trim().split('\n');
    const said = lines.find((l) => /^\w*Error\b/.test(l)) ?? lines[0];
    fail(r.timedOut ? 'the generator did not finish in 60 s' : `the generator ${r.signal ? `was killed by ${r.signal}` : `exited with ${r.code}`}${said ? `: ${said}` : ''}`);
  }
  try {
    const made = JSON.parse(r.stdout.toString('utf8')) as { cert?: unknown; key?: unknown };
    if (typeof made.cert !== 'string' || typeof made.key !== 'string') throw new Error('no cert and key in its output');
    return { cert: made.cert, key: made.key };
  } catch (err) {
    return fail(`the generator's output is not readable: ${(err as Error).message}`, err);
  }
}

/** Reads the configured pair, or the self-signed one in `dataDir` (made on first use, key readable by the owner only). */
export async function loadTls(tls: { cert: string; key: string } | 'self-signed', dataDir: string, listenHost: string): Promise<TlsMaterial> {
  if (tls !== 'self-signed') {
    let cert: string;
    let key: string;
    try {
      cert = readFileSync(tls.cert, 'utf8');
      key = readFileSync(tls.key, 'utf8');
    } catch (err) {
      throw new LifeboatError('CONFIG', `cannot read the API's TLS certificate or key: ${(err as Error).message}`, { cause: err, hint: 'check api.tls.cert and api.tls.key, and that the daemon\'s user may read them' });
    }
    try {
      return { cert, key, fingerprint: fingerprintOf(cert), selfSigned: false, certFile: tls.cert };
    } catch (err) {
      throw new LifeboatError('CONFIG', `${tls.cert} is not a PEM certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  const certFile = join(dataDir, 'api.crt');
  const keyFile = join(dataDir, 'api.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const ip = /^[\d.]+$|:/.test(listenHost) ? [listenHost === '0.0.0.0' || listenHost === '::' ? '127.0.0.1' : listenHost] : [];
    const names = [...new Set([hostname(), 'localhost', ...(ip.length ? [] : [listenHost])])];
    const made = await makeSelfSigned(names, [...new Set([...ip, '127.0.0.1'])]);
    try {
      // Key first, each through a temp file: a crash leaves either no pair or a whole one.
      writeFileSync(`${keyFile}.tmp`, made.key, { mode: 0o600 });
      chmodSync(`${keyFile}.tmp`, 0o600);
      renameSync(`${keyFile}.tmp`, keyFile);
      writeFileSync(`${certFile}.tmp`, made.cert, { mode: 0o644 });
      renameSync(`${certFile}.tmp`, certFile);
    } catch (err) {
      throw new LifeboatError('IO', `cannot write the API's self-signed certificate into ${dataDir}: ${(err as Error).message}`, { cause: err, hint: 'the daemon\'s user must be able to write site.data' });
    }
  }
  const cert = readFileSync(certFile, 'utf8');
  return { cert, key: readFileSync(keyFile, 'utf8'), fingerprint: fingerprintOf(cert), selfSigned: true, certFile };
}
