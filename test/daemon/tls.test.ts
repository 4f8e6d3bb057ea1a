/** The API's self-signed certificate: what is made on first use, and that it is made outside the daemon's process. */
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLifeboatError } from '../../src/core/index.ts';
import { loadTls, normalizeFingerprint } from '../../src/daemon/index.ts';
import { tempDir } from '../helpers/repo.ts';

test('tls: the self-signed pair is ECDSA P-256 for ten years, names the host and the listen address, and is kept', async (t) => {
  const dir = await tempDir(t);
  const before = Date.now();
  const tls = await loadTls('self-signed', dir, 'backup.example');
  assert.equal(tls.selfSigned, true);
  assert.equal(tls.certFile, join(dir, 'api.crt'));
  assert.equal(statSync(join(dir, 'api.key')).mode & 0o777, 0o600);
  const cert = new X509Certificate(tls.cert);
  assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(cert.checkPrivateKey(createPrivateKey(tls.key)), 'the key is the certificate\'s');
  assert.equal(cert.subject, `CN=lifeboat ${hostname()}`);
  assert.deepEqual(cert.subjectAltName?.split(', ').sort(), [`DNS:${hostname()}`, 'DNS:backup.example', 'DNS:localhost', 'IP Address:127.0.0.1'].sort());
  assert.ok(cert.verify(cert.publicKey), 'self-signed');
  assert.ok(Date.parse(cert.validFrom) <= before - 3000_000);
  const years = (Date.parse(cert.validTo) - before) / (365 * 86400_000);
  assert.ok(years > 9.99 && years < 10.01, `valid for ${years} years`);
  assert.equal(tls.fingerprint, normalizeFingerprint(cert.fingerprint256));
  // Made once: the next start reads the same pair.
  const again = await loadTls('self-signed', dir, 'backup.example');
  assert.equal(again.fingerprint, tls.fingerprint);
  assert.equal(again.key, tls.key);
});

test('tls: an IP listen address is in the certificate; the selfsigned package is never loaded in this process', async (t) => {
  const dir = await tempDir(t);
  const tls = await loadTls('self-signed', dir, '10.1.2.3');
  assert.deepEqual(new X509Certificate(tls.cert).subjectAltName?.split(', ').filter((n) => n.startsWith('IP')).sort(), ['IP Address:10.1.2.3', 'IP Address:127.0.0.1']);
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((m) => m.includes('/node_modules/selfsigned/') || m.includes('/node_modules/@peculiar/'));
  assert.deepEqual(loaded, []);
});

test('tls: a data folder that cannot be written is a clear IO error', async (t) => {
  const dir = await tempDir(t);
  writeFileSync(join(dir, 'file'), '');
  await assert.rejects(
    loadTls('self-signed', join(dir, 'file', 'data'), '127.0.0.1'),
    (e: unknown) => isLifeboatError(e) && e.code === 'IO' && /cannot write the API's self-signed certificate into .*file\/data: ENOTDIR/.test(e.message) && /site\.data/.test(e.hint ?? ''),
  );
});
