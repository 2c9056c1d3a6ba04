import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  checkClientNames,
  initPki,
  issueClient,
  normalizeSan,
  writeFilesAtomically,
} from '../../src/pki/folder.js';
import { createCa, generateKey, issueCertificate, type PemPair } from '../../src/pki/generate.js';
import { altNames } from '../../src/pki/altnames.js';
import { openssl, tempDir } from '../helpers/pki.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY = 24 * 60 * 60 * 1000;

async function cert(path: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path));
}

function mode(st: { mode: number }): number {
  return st.mode & 0o777;
}

async function rejectsWith(p: Promise<unknown>, code: string, text?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { code?: string }).code, code, String(e));
    if (text) assert.match((e as Error).message, text);
    return true;
  });
}

let root: string;
before(async () => {
  root = await tempDir('generate');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('initPki with EC keys', () => {
  let dir: string;
  before(async () => {
    dir = join(root, 'ec', 'nested');
    await initPki({ dir, sans: ['Files.Example.COM', '10.0.0.5', '2001:DB8::1'] });
  });

  test('writes six files: keys 0600, certs not group/other-writable, dir 0700', async () => {
    const names = (await readdir(dir)).sort();
    assert.deepEqual(names, [
      'ca.crt',
      'ca.key',
      'client.crt',
      'client.key',
      'server.crt',
      'server.key',
    ]);
    for (const n of names) {
      const m = mode(await stat(join(dir, n)));
      if (n.endsWith('.key')) assert.equal(m, 0o600, n);
      else assert.equal(m & 0o022, 0, n);
    }
    assert.equal(mode(await stat(dir)), 0o700);
  });

  test('keys are unencrypted PKCS#8 PEM', async () => {
    for (const n of ['ca', 'server', 'client']) {
      const pem = await readFile(join(dir, `${n}.key`), 'utf8');
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    }
  });

  test('server certificate carries the default and extra SANs', async () => {
    const server = await cert(join(dir, 'server.crt'));
    assert.deepEqual(altNames(server), {
      dnsNames: ['localhost', 'files.example.com'],
      ipAddresses: ['127.0.0.1', '::1', '10.0.0.5', '2001:db8::1'],
      emails: [],
      uris: [],
    });
    assert.match(server.subjectAltName ?? '', /DNS:localhost/);
    assert.match(server.subjectAltName ?? '', /IP Address:10\.0\.0\.5/);
    const r = openssl(['x509', '-in', join(dir, 'server.crt'), '-noout', '-ext', 'subjectAltName']);
    assert.equal(r.status, 0, r.stderr);
    for (const want of [
      'DNS:localhost',
      'DNS:files.example.com',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
      'IP Address:2001:DB8:0:0:0:0:0:1',
    ]) {
      assert.ok(r.stdout.includes(want), `${want} in ${r.stdout}`);
    }
    assert.ok(server.checkHost('files.example.com'));
    assert.ok(server.checkIP('::1'));
    assert.equal(server.checkHost('other.example'), undefined);
  });

  test('extended key usages: server serverAuth, client clientAuth, CA none', async () => {
    assert.deepEqual((await cert(join(dir, 'server.crt'))).keyUsage, [SERVER_AUTH]);
    const client = await cert(join(dir, 'client.crt'));
    assert.deepEqual(client.keyUsage, [CLIENT_AUTH]);
    assert.equal(client.subject, 'CN=client');
    const ca = await cert(join(dir, 'ca.crt'));
    assert.equal(ca.ca, true);
    assert.equal(client.ca, false);
  });

  test('openssl verifies server and client against ca.crt', () => {
    const r = openssl(['verify', '-CAfile', 'ca.crt', 'server.crt', 'client.crt'], dir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /server\.crt: OK/);
    assert.match(r.stdout, /client\.crt: OK/);
    const purpose = openssl(
      ['verify', '-CAfile', 'ca.crt', '-purpose', 'sslserver', 'client.crt'],
      dir,
    );
    assert.notEqual(purpose.status, 0, 'a client certificate must not pass as a TLS server');
  });

  test('extensions: CA constraints critical, leaf key usage, AKI equals the CA SKI', () => {
    const ca = openssl(['x509', '-in', join(dir, 'ca.crt'), '-noout', '-text']).stdout;
    assert.match(ca, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(ca, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(ca, /Signature Algorithm: ecdsa-with-SHA256/);
    const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(ca)?.[1];
    assert.ok(ski);
    const leaf = openssl(['x509', '-in', join(dir, 'server.crt'), '-noout', '-text']).stdout;
    assert.match(leaf, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(leaf, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(leaf, new RegExp(`Authority Key Identifier:\\s+(keyid:)?${ski}`));
  });

  test('serials are 16 bytes, positive, and differ', async () => {
    const serials = await Promise.all(
      ['ca', 'server', 'client'].map(async (n) => (await cert(join(dir, `${n}.crt`))).serialNumber),
    );
    for (const s of serials) assert.match(s, /^[4-7][0-9A-F]{31}$/);
    assert.equal(new Set(serials).size, 3);
  });

  test('validity: leaves 825 days, CA ten years, both back-dated a few minutes', async () => {
    const now = Date.now();
    const server = await cert(join(dir, 'server.crt'));
    const ca = await cert(join(dir, 'ca.crt'));
    const leafDays = (new Date(server.validTo).getTime() - now) / DAY;
    const caDays = (new Date(ca.validTo).getTime() - now) / DAY;
    assert.ok(Math.abs(leafDays - 825) < 0.1, String(leafDays));
    assert.ok(Math.abs(caDays - 3650) < 0.1, String(caDays));
    const back = (now - new Date(server.validFrom).getTime()) / 60000;
    assert.ok(back > 3 && back < 10, String(back));
  });

  test('refuses to overwrite with pki-exists and leaves the files alone', async () => {
    const before = await readFile(join(dir, 'ca.crt'), 'utf8');
    await assert.rejects(initPki({ dir }), (e: unknown) => {
      const err = e as { code: string; hint: string; message: string };
      assert.equal(err.code, 'pki-exists');
      assert.equal(err.hint, 'use --force to replace it');
      assert.match(err.message, /ca\.crt" already exists/);
      return true;
    });
    assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), before);
  });
});

describe('initPki options', () => {
  test('RSA: every key has the asked size, RSA leaves also allow keyEncipherment', async () => {
    const dir = join(root, 'rsa');
    const r = await initPki({ dir, keyType: 'rsa', rsaBits: 2048, clients: ['alice', 'bob'] });
    assert.deepEqual(r.keySpec, { kind: 'rsa', bits: 2048 });
    for (const n of ['ca', 'server', 'alice', 'bob']) {
      const c = await cert(join(dir, `${n}.crt`));
      assert.equal(c.publicKey.asymmetricKeyType, 'rsa');
      assert.equal(c.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    }
    const text = openssl(['x509', '-in', join(dir, 'alice.crt'), '-noout', '-text']).stdout;
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(text, /Digital Signature, Key Encipherment/);
    const v = openssl(['verify', '-CAfile', 'ca.crt', 'server.crt', 'alice.crt', 'bob.crt'], dir);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    await assert.rejects(stat(join(dir, 'client.crt')), { code: 'ENOENT' });
  });

  test('--force replaces the PKI and removes the old CA revocation list', async () => {
    const dir = join(root, 'force');
    await initPki({ dir });
    const oldCa = await readFile(join(dir, 'ca.crt'), 'utf8');
    await writeFile(join(dir, 'crl.pem'), 'old');
    await rejectsWith(initPki({ dir }), 'pki-exists');
    const r = await initPki({ dir, force: true });
    assert.notEqual(await readFile(join(dir, 'ca.crt'), 'utf8'), oldCa);
    assert.deepEqual(r.removed, [join(dir, 'crl.pem')]);
    assert.equal(mode(await stat(join(dir, 'server.key'))), 0o600);
    assert.equal(openssl(['verify', '-CAfile', 'ca.crt', 'server.crt'], dir).status, 0);
  });

  test('--force removes leaves of the replaced CA (and their keys), leaves anything else alone', async () => {
    const dir = join(root, 'force-orphans');
    await initPki({ dir, clients: ['client', 'alice'] });
    await issueClient({ dir, name: 'bob' });
    // A pair from another CA, and a certificate of the old CA whose key is not beside it.
    assert.equal(
      openssl(
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          'other.key',
          '-out',
          'other.crt',
          '-subj',
          '/CN=other',
          '-days',
          '1',
        ],
        dir,
      ).status,
      0,
    );
    await copyFile(join(dir, 'alice.crt'), join(dir, 'lone.crt'));
    const r = await initPki({ dir, force: true });
    assert.deepEqual(r.orphans, [
      join(dir, 'alice.crt'),
      join(dir, 'alice.key'),
      join(dir, 'bob.crt'),
      join(dir, 'bob.key'),
      join(dir, 'lone.crt'),
    ]);
    assert.deepEqual((await readdir(dir)).sort(), [
      'ca.crt',
      'ca.key',
      'client.crt',
      'client.key',
      'other.crt',
      'other.key',
      'server.crt',
      'server.key',
    ]);
  });

  test('leaves longer than ten years get a CA exactly as long (same second)', async () => {
    const dir = join(root, 'long');
    const r = await initPki({ dir, days: 4000 });
    assert.equal(Math.round((r.caNotAfter.getTime() - Date.now()) / DAY), 4000);
    const ca = await cert(join(dir, 'ca.crt'));
    const server = await cert(join(dir, 'server.crt'));
    assert.equal(ca.validTo, server.validTo);
  });

  test('an existing crl.pem alone also blocks init without --force', async () => {
    const dir = join(root, 'crl-only');
    await mkdir(dir);
    await writeFile(join(dir, 'crl.pem'), 'x');
    await rejectsWith(initPki({ dir }), 'pki-exists', /crl\.pem/);
  });

  test('--force refuses up front when a target is a directory, changing nothing', async () => {
    const dir = join(root, 'force-dir');
    await initPki({ dir });
    const oldCa = await readFile(join(dir, 'ca.crt'), 'utf8');
    await rm(join(dir, 'client.key'));
    await mkdir(join(dir, 'client.key'));
    await rejectsWith(initPki({ dir, force: true }), 'pki-write-failed', /is a directory/);
    assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), oldCa);
  });

  const badOptions: [string, Parameters<typeof initPki>[0]][] = [
    ['garbage san', { dir: 'x', sans: ['not a host'] }],
    ['underscore', { dir: 'x', sans: ['bad_host.example'] }],
    ['leading hyphen', { dir: 'x', sans: ['-a.example'] }],
    ['empty label', { dir: 'x', sans: ['a..example'] }],
    ['bad ipv4', { dir: 'x', sans: ['10.0.0.999'] }],
    ['ipv6 zone', { dir: 'x', sans: ['fe80::1%eth0'] }],
    ['empty san', { dir: 'x', sans: [''] }],
    ['client ca', { dir: 'x', clients: ['ca'] }],
    ['client Server', { dir: 'x', clients: ['Server'] }],
    ['duplicate client', { dir: 'x', clients: ['bob', 'BOB'] }],
    ['path client', { dir: 'x', clients: ['../evil'] }],
    ['hidden client', { dir: 'x', clients: ['.hidden'] }],
    ['long client', { dir: 'x', clients: ['a'.repeat(65)] }],
    ['no clients', { dir: 'x', clients: [] }],
    ['zero days', { dir: 'x', days: 0 }],
    ['fractional days', { dir: 'x', days: 1.5 }],
    ['too many days', { dir: 'x', days: 36501 }],
    ['small rsa', { dir: 'x', keyType: 'rsa', rsaBits: 1024 }],
    ['key type', { dir: 'x', keyType: 'dsa' as 'ec' }],
  ];
  for (const [name, opts] of badOptions) {
    test(`usage error: ${name}`, async () => {
      const dir = join(root, 'bad', name.replaceAll(' ', '-'));
      await rejectsWith(initPki({ ...opts, dir }), 'usage');
      await assert.rejects(stat(dir), { code: 'ENOENT' }, 'nothing is created');
    });
  }
});

describe('name validation', () => {
  const sans: [string, string][] = [
    ['Files.Example.COM', 'files.example.com'],
    ['*.example.com', '*.example.com'],
    ['myhost', 'myhost'],
    ['10.0.0.5', '10.0.0.5'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
  ];
  for (const [input, want] of sans) {
    test(`normalizeSan(${input}) = ${want}`, () => {
      assert.equal(normalizeSan(input), want);
    });
  }
  for (const bad of ['1.2.3', '*.com', 'a.*.example', 'x'.repeat(64) + '.example', 'a b']) {
    test(`normalizeSan rejects ${bad.slice(0, 20)}`, () => {
      assert.throws(() => normalizeSan(bad), { code: 'usage' });
    });
  }
  test('client names that are file-name safe pass unchanged', () => {
    assert.deepEqual(checkClientNames(['a', 'Bob.laptop_2-x', '9']), ['a', 'Bob.laptop_2-x', '9']);
  });
});

describe('createCa and issueCertificate', () => {
  const valid = () => ({
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
  });
  let p384: PemPair;
  before(async () => {
    const caValid = {
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 10 * DAY),
    };
    p384 = await createCa({
      commonName: 'p384 ca',
      keySpec: { kind: 'ec', curve: 'P-384' },
      ...caValid,
    });
  });

  test('a P-384 CA signs with ecdsa-with-SHA384', async () => {
    const leaf = await issueCertificate(p384, {
      kind: 'server',
      commonName: 's',
      dnsNames: ['s.example'],
      keySpec: { kind: 'ec', curve: 'P-256' },
      ...valid(),
    });
    const dir = join(root, 'p384');
    await mkdir(dir);
    await writeFile(join(dir, 'ca.crt'), p384.certPem);
    await writeFile(join(dir, 'leaf.crt'), leaf.certPem);
    const text = openssl(['x509', '-in', join(dir, 'leaf.crt'), '-noout', '-text']).stdout;
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
    assert.equal(openssl(['verify', '-CAfile', 'ca.crt', 'leaf.crt'], dir).status, 0);
    assert.equal(new X509Certificate(leaf.certPem).serialNumber.toLowerCase(), leaf.serialHex);
  });

  test("kind 'none' has no EKU; client SANs of every type are encoded", async () => {
    const leaf = await issueCertificate(p384, {
      kind: 'none',
      commonName: 'n',
      dnsNames: ['n.example'],
      ipAddresses: ['192.0.2.1'],
      emails: ['n@example.com'],
      uris: ['spiffe://example/n'],
      keySpec: { kind: 'ed25519' },
      ...valid(),
    });
    const c = new X509Certificate(leaf.certPem);
    assert.equal(c.keyUsage, undefined);
    assert.equal(c.publicKey.asymmetricKeyType, 'ed25519');
    for (const want of [
      'DNS:n.example',
      'IP Address:192.0.2.1',
      'email:n@example.com',
      'URI:spiffe://example/n',
    ]) {
      assert.ok(c.subjectAltName?.includes(want), `${want} in ${c.subjectAltName}`);
    }
  });

  test('rsa-pss and ed25519 leaves carry their key in the SPKI and verify', async () => {
    for (const keySpec of [{ kind: 'rsa-pss', bits: 2048 }, { kind: 'ed25519' }] as const) {
      const leaf = await issueCertificate(p384, {
        kind: 'client',
        commonName: 'c',
        keySpec,
        ...valid(),
      });
      const c = new X509Certificate(leaf.certPem);
      assert.equal(c.publicKey.asymmetricKeyType, keySpec.kind);
      assert.ok(c.verify(new X509Certificate(p384.certPem).publicKey));
    }
  });

  test('a leaf may not outlive its CA (pki-outlives-ca)', async () => {
    const opts = {
      kind: 'client',
      commonName: 'c',
      keySpec: { kind: 'ec', curve: 'P-256' },
    } as const;
    await rejectsWith(
      issueCertificate(p384, {
        ...opts,
        notBefore: new Date(),
        notAfter: new Date(Date.now() + 11 * DAY),
      }),
      'pki-outlives-ca',
    );
  });

  test('RSA keys outside 1024-16384 bits are a rejected promise (usage)', async () => {
    await rejectsWith(generateKey({ kind: 'rsa', bits: 512 }), 'usage', /512/);
  });

  test('an Ed25519 CA is refused (pki-unsupported-key)', async () => {
    await rejectsWith(
      createCa({ commonName: 'x', keySpec: { kind: 'ed25519' }, ...valid() }),
      'pki-unsupported-key',
    );
  });

  test('a leaf certificate cannot act as CA', async () => {
    const leaf = await issueCertificate(p384, {
      kind: 'client',
      commonName: 'c',
      keySpec: { kind: 'ec', curve: 'P-256' },
      ...valid(),
    });
    await rejectsWith(
      issueCertificate(leaf, {
        kind: 'client',
        commonName: 'd',
        keySpec: { kind: 'ec', curve: 'P-256' },
        ...valid(),
      }),
      'pki-invalid',
    );
  });

  test('bad SAN IP addresses and empty or long common names are usage errors', async () => {
    const base = { kind: 'server', keySpec: { kind: 'ec', curve: 'P-256' }, ...valid() } as const;
    await rejectsWith(
      issueCertificate(p384, { ...base, commonName: 's', ipAddresses: ['nope'] }),
      'usage',
    );
    await rejectsWith(issueCertificate(p384, { ...base, commonName: '' }), 'usage');
    await rejectsWith(issueCertificate(p384, { ...base, commonName: 'x'.repeat(65) }), 'usage');
  });
});

describe('issueClient', () => {
  let ecDir: string;
  let rsaDir: string;
  before(async () => {
    ecDir = join(root, 'issue-ec');
    rsaDir = join(root, 'issue-rsa');
    await initPki({ dir: ecDir });
    await initPki({ dir: rsaDir, keyType: 'rsa' });
  });

  test('writes NAME.crt (clientAuth, CN=NAME) and NAME.key 0600, verified by openssl', async () => {
    const r = await issueClient({ dir: ecDir, name: 'alice', days: 30 });
    assert.equal(r.certPath, join(ecDir, 'alice.crt'));
    assert.equal(mode(await stat(r.keyPath)), 0o600);
    const c = await cert(r.certPath);
    assert.equal(c.subject, 'CN=alice');
    assert.deepEqual(c.keyUsage, [CLIENT_AUTH]);
    assert.equal(c.serialNumber.toLowerCase(), r.serialHex);
    assert.ok(Math.abs((new Date(c.validTo).getTime() - Date.now()) / DAY - 30) < 0.1);
    assert.equal(openssl(['verify', '-CAfile', 'ca.crt', 'alice.crt'], ecDir).status, 0);
  });

  test('follows the CA key type unless told otherwise', async () => {
    const rsa = await issueClient({ dir: rsaDir, name: 'r' });
    assert.deepEqual(rsa.keySpec, { kind: 'rsa', bits: 2048 });
    const ec = await issueClient({ dir: rsaDir, name: 'e', keyType: 'ec' });
    assert.equal((await cert(ec.certPath)).publicKey.asymmetricKeyType, 'ec');
    assert.equal(openssl(['verify', '-CAfile', 'ca.crt', 'r.crt', 'e.crt'], rsaDir).status, 0);
  });

  test('refuses an existing name with pki-exists, and bad names with usage', async () => {
    await rejectsWith(issueClient({ dir: ecDir, name: 'client' }), 'pki-exists');
    await rejectsWith(issueClient({ dir: ecDir, name: 'server' }), 'usage');
    await rejectsWith(issueClient({ dir: ecDir, name: 'a/b' }), 'usage');
  });

  test('refuses a validity past the CA (pki-outlives-ca), a missing CA (pki-missing)', async () => {
    await rejectsWith(issueClient({ dir: ecDir, name: 'long', days: 5000 }), 'pki-outlives-ca');
    await assert.rejects(stat(join(ecDir, 'long.crt')), { code: 'ENOENT' });
    await rejectsWith(issueClient({ dir: join(root, 'nothing'), name: 'x' }), 'pki-missing');
  });
});

describe('writeFilesAtomically', () => {
  test('a failing file leaves no target and no temporary file behind', async () => {
    const dir = join(root, 'atomic');
    await mkdir(dir);
    const files = [
      { path: join(dir, 'a.crt'), data: 'a', mode: 0o644 },
      { path: join(dir, 'b.key'), data: 'b', mode: 0o600 },
      { path: join(dir, 'missing', 'c.crt'), data: 'c', mode: 0o644 },
    ];
    await rejectsWith(writeFilesAtomically(files), 'pki-write-failed', /missing/);
    assert.deepEqual(await readdir(dir), []);
  });
});
