/**
 * Start-time checks of a certificate file, link by link, and of the key and usages, on
 * certificates made by the openssl CLI.
 */
import { strict as assert } from 'node:assert';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { loadTlsMaterial, type LoadTlsOptions } from '../../src/pki/load.js';
import { EXT, OpensslPki, type CaFiles, type KeyAlg } from '../helpers/opensslpki.js';
import { tempDir } from '../helpers/pki.js';

let dir: string;
let p: OpensslPki;
let root: CaFiles;
let inter: CaFiles;

before(async () => {
  dir = await tempDir('chain');
  p = new OpensslPki(dir);
  root = p.root('root');
  inter = p.issue(root, 'inter', { ext: EXT.intermediate });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fails(o: LoadTlsOptions, code: string, message: RegExp): Promise<void> {
  await assert.rejects(loadTlsMaterial(o), (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

describe('the certificate file, link by link', () => {
  test('leaf + intermediate loads; every certificate of the file is kept for sending', async () => {
    const leaf = p.issue(inter, 'ok', { ext: EXT.client });
    const m = await loadTlsMaterial({
      caPath: root.cert,
      certPath: p.concat('ok-chain.pem', leaf.cert, inter.cert),
      keyPath: leaf.key,
      role: 'client',
    });
    assert.equal(m.cert.match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.deepEqual(m.warnings, []);
  });

  test('a certificate that did not issue the one before it is named with both', async () => {
    const leaf = p.issue(inter, 'bad', { ext: EXT.client });
    const other = p.root('other');
    await fails(
      {
        caPath: root.cert,
        certPath: p.concat('bad.pem', leaf.cert, other.cert),
        keyPath: leaf.key,
        role: 'client',
      },
      'pki-chain',
      /certificate 2 in ".*bad\.pem" \(CN=other\) did not issue certificate 1 \(CN=bad, issued by CN=inter\)/,
    );
  });

  test('an issuer in the file that may not sign certificates', async () => {
    const notCa = p.root('not-a-ca', { ext: 'basicConstraints=CA:false\nkeyUsage=keyCertSign\n' });
    const leaf = p.issue(notCa, 'under-not-a-ca', { ext: EXT.client });
    await fails(
      {
        caPath: root.cert,
        certPath: p.concat('nc.pem', leaf.cert, notCa.cert),
        keyPath: leaf.key,
        role: 'client',
      },
      'pki-chain',
      /intermediate "CN=not-a-ca" \(certificate 2 in ".*nc\.pem"\) is not a CA certificate/,
    );
  });

  test('an expired intermediate is named, with the file and its place', async () => {
    const old = p.issue(root, 'old-inter', { ext: EXT.intermediate, start: -60, end: -1 });
    const leaf = p.issue(old, 'under-old', { ext: EXT.server, start: -30, end: 30 });
    await fails(
      {
        caPath: root.cert,
        certPath: p.concat('old.pem', leaf.cert, old.cert),
        keyPath: leaf.key,
        role: 'server',
      },
      'pki-expired',
      /^intermediate "CN=old-inter" \(certificate 2 in ".*old\.pem"\) expired on \d{4}-/,
    );
  });

  test("an intermediate whose extended key usage leaves out the role's", async () => {
    const webOnly = p.issue(root, 'web-only', {
      ext: `${EXT.intermediate}extendedKeyUsage=serverAuth\n`,
    });
    const leaf = p.issue(webOnly, 'under-web-only', { ext: EXT.client });
    await fails(
      {
        caPath: root.cert,
        certPath: p.concat('w.pem', leaf.cert, webOnly.cert),
        keyPath: leaf.key,
        role: 'client',
      },
      'pki-wrong-usage',
      /intermediate "CN=web-only" .* limits extended key usage to 1\.3\.6\.1\.5\.5\.7\.3\.1; certificates under it cannot be used with clientAuth/,
    );
  });

  test('the issuer of the file found in --ca must be valid', async () => {
    const oldRoot = p.root('old-root', { ext: EXT.root, start: -60, end: -1 });
    const leaf = p.issue(oldRoot, 'under-old-root', { ext: EXT.client, start: -30, end: 30 });
    await fails(
      {
        caPath: p.concat('cas.pem', oldRoot.cert, root.cert),
        certPath: leaf.cert,
        keyPath: leaf.key,
        role: 'client',
      },
      'pki-expired',
      /^CA "CN=old-root" in ".*cas\.pem" expired on/,
    );
  });
});

describe('usage and keys', () => {
  test('a client needs digitalSignature; a server key may instead encipher or agree', async () => {
    const ke = p.issue(inter, 'ke-client', { ext: EXT.clientNoSignature });
    await fails(
      { caPath: root.cert, certPath: ke.cert, keyPath: ke.key, role: 'client' },
      'pki-wrong-usage',
      /has key usage keyEncipherment; a client needs digitalSignature/,
    );
    const srv = p.issue(inter, 'ke-server', {
      ext: 'keyUsage=critical,keyEncipherment\nextendedKeyUsage=serverAuth\n',
      alg: 'rsa2048',
    });
    const m = await loadTlsMaterial({
      caPath: root.cert,
      certPath: srv.cert,
      keyPath: srv.key,
      role: 'server',
    });
    assert.deepEqual(m.certInfo.keyUsage, ['keyEncipherment']);
    const none = p.issue(inter, 'agree-none', {
      ext: 'keyUsage=critical,dataEncipherment\nextendedKeyUsage=serverAuth\n',
    });
    await fails(
      { caPath: root.cert, certPath: none.cert, keyPath: none.key, role: 'server' },
      'pki-wrong-usage',
      /has key usage dataEncipherment; a server needs digitalSignature or keyEncipherment/,
    );
  });

  const keys: [KeyAlg, string | RegExp][] = [
    ['p256', 'P-256'],
    ['p384', 'P-384'],
    ['p521', 'P-521'],
    ['ed25519', ''],
    ['rsa2048', 'rsa'],
    ['secp256k1', /its EC key is on curve secp256k1, which TLS peers do not offer/],
    ['rsa1024', /its 1024-bit RSA key is outside 2048-16384 bits/],
  ];
  for (const [alg, want] of keys) {
    test(`${alg}: ${typeof want === 'string' ? 'usable' : 'refused with the limit'}`, async () => {
      const leaf = p.issue(inter, `key-${alg}`, { ext: EXT.client, alg });
      const o: LoadTlsOptions = {
        caPath: root.cert,
        certPath: leaf.cert,
        keyPath: leaf.key,
        role: 'client',
      };
      if (typeof want !== 'string') return fails(o, 'pki-unsupported-key', want);
      const info = (await loadTlsMaterial(o)).certInfo;
      if (want === 'rsa') assert.equal(info.rsaBits, 2048);
      else assert.equal(info.curve, want || undefined);
    });
  }
});
