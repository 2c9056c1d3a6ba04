import { strict as assert } from 'node:assert';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCa, issueCertificate } from '../../src/pki/generate.js';
import { pkiPaths } from '../../src/pki/paths.js';
import { loadTlsMaterial, type LoadTlsOptions } from '../../src/pki/load.js';
import { MAX_PEM_BYTES } from '../../src/pki/pem.js';
import { makeTestPki, openssl, tempDir, type CertFiles, type TestPki } from '../helpers/pki.js';

let root: string;
let pki: TestPki;
before(async () => {
  root = await tempDir('load');
  pki = await makeTestPki(join(root, 'fixtures'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function opts(files: CertFiles, role: 'server' | 'client', ca = pki.ca): LoadTlsOptions {
  return { caPath: ca, certPath: files.cert, keyPath: files.key, role };
}

async function failsWith(o: LoadTlsOptions, code: string, text?: RegExp): Promise<Error> {
  let caught: unknown;
  await assert.rejects(loadTlsMaterial(o), (e: unknown) => {
    caught = e;
    return true;
  });
  assert.equal((caught as { code?: string }).code, code, String(caught));
  const err = caught as Error;
  if (text) assert.match(err.message, text);
  return err;
}

async function put(name: string, data: string | Buffer): Promise<string> {
  const path = join(root, name);
  await writeFile(path, data);
  return path;
}

describe('loadTlsMaterial accepts good material', () => {
  test('server: PEM strings and certInfo', async () => {
    const m = await loadTlsMaterial(opts(pki.server, 'server'));
    assert.equal(m.ca, new X509Certificate(await readFile(pki.ca)).toString());
    assert.match(m.cert, /^-----BEGIN CERTIFICATE-----\n/);
    assert.match(m.key, /^-----BEGIN PRIVATE KEY-----\n/);
    const x = new X509Certificate(m.cert);
    assert.deepEqual(m.certInfo, {
      subject: 'CN=localhost',
      fingerprint256: x.fingerprint256.replaceAll(':', '').toLowerCase(),
      keyKind: 'ec',
      curve: 'P-256',
      keyUsage: ['digitalSignature'],
      notBefore: new Date(x.validFrom),
      notAfter: new Date(x.validTo),
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    assert.match(m.certInfo.fingerprint256, /^[0-9a-f]{64}$/);
  });

  const kinds: [keyof TestPki, string, number | string][] = [
    ['client', 'ec', 'P-256'],
    ['p384Client', 'ec', 'P-384'],
    ['rsaClient', 'rsa', 2048],
    ['rsa3072Client', 'rsa', 3072],
    ['rsaPssClient', 'rsa-pss', 2048],
    ['ed25519Client', 'ed25519', ''],
  ];
  for (const [name, kind, size] of kinds) {
    test(`client ${name}: keyKind ${kind} ${size}`, async () => {
      const info = (await loadTlsMaterial(opts(pki[name] as CertFiles, 'client'))).certInfo;
      assert.equal(info.keyKind, kind);
      if (typeof size === 'number') assert.equal(info.rsaBits, size);
      else if (size) assert.equal(info.curve, size);
      else assert.equal(info.curve ?? info.rsaBits, undefined);
    });
  }

  test('RSA CA with RSA server and client', async () => {
    await loadTlsMaterial(opts(pki.rsaServer, 'server', pki.rsaCa));
    await loadTlsMaterial(opts(pki.rsaCaClient, 'client', pki.rsaCa));
  });

  test('a CA bundle: any of its CAs may issue; leaf certificates in it are dropped', async () => {
    const bundle = await put(
      'bundle.crt',
      [
        await readFile(pki.rsaCa, 'utf8'),
        await readFile(pki.client.cert, 'utf8'),
        await readFile(pki.ca, 'utf8'),
      ].join('# comment between blocks\n'),
    );
    const m = await loadTlsMaterial(opts(pki.client, 'client', bundle));
    assert.equal(m.ca.match(/BEGIN CERTIFICATE/g)?.length, 2);
    await loadTlsMaterial(opts(pki.rsaCaClient, 'client', bundle));
  });

  test('certificate and key in one file', async () => {
    const both = await put(
      'both.pem',
      (await readFile(pki.client.key, 'utf8')) + (await readFile(pki.client.cert, 'utf8')),
    );
    await loadTlsMaterial({ caPath: pki.ca, certPath: both, keyPath: both, role: 'client' });
  });

  test('pkiPaths names the default files', () => {
    assert.deepEqual(pkiPaths('/p', 'server'), {
      caPath: join('/p', 'ca.crt'),
      certPath: join('/p', 'server.crt'),
      keyPath: join('/p', 'server.key'),
    });
    assert.deepEqual(pkiPaths('/p', 'client', 'bob').certPath, join('/p', 'bob.crt'));
    assert.deepEqual(pkiPaths('/p', 'client').keyPath, join('/p', 'client.key'));
  });

  test('the fixture pki folder loads through pkiPaths for both roles', async () => {
    await loadTlsMaterial({ ...pkiPaths(pki.pki, 'server'), role: 'server' });
    await loadTlsMaterial({ ...pkiPaths(pki.pki, 'client'), role: 'client' });
  });
});

describe('openssl-made material loads', () => {
  let dir: string;
  const run = (args: string[]): void => {
    const r = openssl(args, dir);
    assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stderr}`);
  };
  before(async () => {
    dir = join(root, 'openssl');
    await mkdir(dir);
    await writeFile(
      join(dir, 'ext.cnf'),
      'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n',
    );
    for (const [name, alg] of [
      ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
      ['rsa', ['-newkey', 'rsa:2048']],
    ] as const) {
      run([
        'req',
        '-x509',
        ...alg,
        '-nodes',
        '-keyout',
        `${name}-ca.key`,
        '-out',
        `${name}-ca.crt`,
        '-subj',
        `/CN=openssl ${name} ca`,
        '-days',
        '30',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      run([
        'req',
        '-new',
        ...alg,
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name} leaf`,
      ]);
      run([
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${name}-ca.crt`,
        '-CAkey',
        `${name}-ca.key`,
        '-CAcreateserial',
        '-days',
        '30',
        '-extfile',
        'ext.cnf',
        '-out',
        `${name}.crt`,
      ]);
    }
    run(['ec', '-in', 'ec.key', '-out', 'ec.sec1.key']);
    run(['rsa', '-in', 'rsa.key', '-traditional', '-out', 'rsa.pkcs1.key']);
    run(['ecparam', '-genkey', '-name', 'prime256v1', '-out', 'params.key']);
  });

  const cases: [string, string, string, string][] = [
    ['EC, PKCS#8 key', 'ec-ca.crt', 'ec.crt', 'ec.key'],
    ['EC, SEC1 key', 'ec-ca.crt', 'ec.crt', 'ec.sec1.key'],
    ['RSA, PKCS#8 key', 'rsa-ca.crt', 'rsa.crt', 'rsa.key'],
    ['RSA, PKCS#1 key', 'rsa-ca.crt', 'rsa.crt', 'rsa.pkcs1.key'],
  ];
  for (const [name, ca, cert, key] of cases) {
    test(name, async () => {
      const m = await loadTlsMaterial({
        caPath: join(dir, ca),
        certPath: join(dir, cert),
        keyPath: join(dir, key),
        role: 'client',
      });
      assert.match(m.key, /^-----BEGIN PRIVATE KEY-----/);
      assert.equal(m.certInfo.subject, `CN=${cert.slice(0, -4)} leaf`);
    });
  }

  test('the SEC1 header matches what openssl wrote', async () => {
    assert.match(await readFile(join(dir, 'ec.sec1.key'), 'utf8'), /BEGIN EC PRIVATE KEY/);
    assert.match(await readFile(join(dir, 'rsa.pkcs1.key'), 'utf8'), /BEGIN RSA PRIVATE KEY/);
  });

  test('an "EC PARAMETERS" block before the key is skipped (then: key mismatch)', async () => {
    const text = await readFile(join(dir, 'params.key'), 'utf8');
    assert.match(text, /BEGIN EC PARAMETERS/);
    await failsWith(
      {
        caPath: join(dir, 'ec-ca.crt'),
        certPath: join(dir, 'ec.crt'),
        keyPath: join(dir, 'params.key'),
        role: 'client',
      },
      'pki-key-mismatch',
    );
  });

  test('encrypted keys, PKCS#8 and traditional, are pki-encrypted-key', async () => {
    run(['pkey', '-in', 'ec.key', '-aes256', '-passout', 'pass:x', '-out', 'enc8.key']);
    run([
      'pkey',
      '-in',
      'ec.key',
      '-traditional',
      '-aes256',
      '-passout',
      'pass:x',
      '-out',
      'enct.key',
    ]);
    for (const key of ['enc8.key', 'enct.key']) {
      const e = await failsWith(
        {
          caPath: join(dir, 'ec-ca.crt'),
          certPath: join(dir, 'ec.crt'),
          keyPath: join(dir, key),
          role: 'client',
        },
        'pki-encrypted-key',
        /passphrase-protected; encrypted keys are not supported/,
      );
      assert.match((e as { hint?: string }).hint ?? '', /openssl pkey -in .*enc.*\.key -out /);
    }
  });
});

describe('loadTlsMaterial error codes', () => {
  test('pki-missing with a hint', async () => {
    const e = await failsWith(
      { ...opts(pki.client, 'client'), keyPath: join(root, 'nope.key') },
      'pki-missing',
      /nope\.key/,
    );
    assert.equal(
      (e as { hint?: string }).hint,
      'run "securestream pki init" or pass --ca/--cert/--key',
    );
  });

  test('pki-unreadable for a directory', async () => {
    await failsWith(
      { ...opts(pki.client, 'client'), certPath: root },
      'pki-unreadable',
      /directory/,
    );
  });

  test(
    'pki-unreadable for a file without read permission',
    { skip: process.getuid?.() === 0 },
    async () => {
      const path = await put('noread.key', await readFile(pki.client.key));
      await chmod(path, 0o000);
      await failsWith(
        { ...opts(pki.client, 'client'), keyPath: path },
        'pki-unreadable',
        /permission denied/,
      );
    },
  );

  const invalid: [string, () => Promise<Partial<LoadTlsOptions>>][] = [
    ['cert is not PEM', async () => ({ certPath: await put('junk.crt', 'hello\n') })],
    [
      'cert is DER',
      async () => ({
        certPath: await put('der.crt', new X509Certificate(await readFile(pki.client.cert)).raw),
      }),
    ],
    [
      'cert body corrupted',
      async () => ({
        certPath: await put(
          'bad.crt',
          (await readFile(pki.client.cert, 'utf8')).replace(/\n[A-Za-z0-9+/]{64}\n/, '\nAAAA\n'),
        ),
      }),
    ],
    ['key is not PEM', async () => ({ keyPath: await put('junk.key', 'hello\n') })],
    ['key file holds a certificate', () => Promise.resolve({ keyPath: pki.client.cert })],
    [
      'key body corrupted',
      async () => ({
        keyPath: await put(
          'bad.key',
          (await readFile(pki.client.key, 'utf8')).replace(/\n[A-Za-z0-9+/]{8}/, '\nAAAAAAAA'),
        ),
      }),
    ],
    [
      'two keys in the key file',
      async () => ({
        keyPath: await put(
          'two.key',
          (await readFile(pki.client.key, 'utf8')) + (await readFile(pki.client2.key, 'utf8')),
        ),
      }),
    ],
    ['ca file holds only a leaf certificate', () => Promise.resolve({ caPath: pki.client.cert })],
    [
      'file larger than the cap',
      async () => ({ caPath: await put('huge.crt', Buffer.alloc(MAX_PEM_BYTES + 1, 65)) }),
    ],
  ];
  for (const [name, make] of invalid) {
    test(`pki-invalid: ${name}`, async () => {
      await failsWith({ ...opts(pki.client, 'client'), ...(await make()) }, 'pki-invalid');
    });
  }

  test('pki-key-mismatch: the key of another certificate', async () => {
    await failsWith(
      { ...opts(pki.client, 'client'), keyPath: pki.client2.key },
      'pki-key-mismatch',
      /client2\.key/,
    );
  });

  test('a client certificate from another CA than the server CA file loads for the client', async () => {
    const m = await loadTlsMaterial(opts(pki.rogueClient, 'client'));
    assert.equal(m.certInfo.subject, 'CN=client');
  });

  test("the server's own certificate need not chain to --ca, which names the clients' CAs", async () => {
    const m = await loadTlsMaterial(opts(pki.server, 'server', pki.rogueCa));
    assert.equal(m.certInfo.subject, 'CN=localhost');
    assert.equal(m.anchors.cas.length, 1);
  });

  test('pki-chain: right issuer name and key id, tampered signature', async () => {
    const der = Buffer.from(new X509Certificate(await readFile(pki.client.cert)).raw);
    der.writeUInt8(der.readUInt8(der.length - 1) ^ 0x01, der.length - 1); // last byte of ECDSA s
    const tampered = new X509Certificate(der);
    assert.ok(tampered.checkIssued(new X509Certificate(await readFile(pki.ca))));
    const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
    const cert = await put(
      'tampered.crt',
      `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n${await readFile(pki.ca, 'utf8')}`,
    );
    await failsWith(
      { ...opts(pki.client, 'client'), certPath: cert },
      'pki-chain',
      /certificate 2 in ".*tampered\.crt" \(CN=securestream test CA\) did not issue certificate 1 \(CN=client/,
    );
  });

  test('pki-wrong-usage: server certificate used by a client, and the reverse', async () => {
    await failsWith(opts(pki.server, 'client'), 'pki-wrong-usage', /clientAuth/);
    await failsWith(opts(pki.noClientAuth, 'client'), 'pki-wrong-usage', /clientAuth/);
    await failsWith(opts(pki.client, 'server'), 'pki-wrong-usage', /serverAuth/);
  });

  test('pki-wrong-usage: the CA certificate used as a leaf', async () => {
    await failsWith(
      { caPath: pki.ca, certPath: pki.ca, keyPath: pki.caKey, role: 'server' },
      'pki-wrong-usage',
      /is a CA certificate/,
    );
  });

  test('a certificate without extendedKeyUsage is accepted for both roles', async () => {
    const now = Date.now();
    const ca = await createCa({
      commonName: 'no-eku ca',
      keySpec: { kind: 'ec', curve: 'P-256' },
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
    });
    const leaf = await issueCertificate(ca, {
      kind: 'none',
      commonName: 'any',
      keySpec: { kind: 'ec', curve: 'P-256' },
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
    });
    const files = {
      cert: await put('any.crt', leaf.certPem),
      key: await put('any.key', leaf.keyPem),
    };
    const caPath = await put('any-ca.crt', ca.certPem);
    await loadTlsMaterial(opts(files, 'client', caPath));
    await loadTlsMaterial(opts(files, 'server', caPath));
    assert.ok(createPrivateKey(leaf.keyPem));
  });

  test('pki-expired and pki-not-yet-valid name the date', async () => {
    await failsWith(
      opts(pki.expiredClient, 'client'),
      'pki-expired',
      /expired on \d{4}-\d\d-\d\dT/,
    );
    await failsWith(
      opts(pki.notYetValidClient, 'client'),
      'pki-not-yet-valid',
      /not valid before \d{4}-/,
    );
  });

  test('the `now` option drives the validity check', async () => {
    const later = new Date(Date.now() + 400 * 86_400_000);
    await failsWith({ ...opts(pki.client, 'client'), now: later }, 'pki-expired', /client\.crt/);
    const earlier = new Date(Date.now() - 2 * 86_400_000);
    await loadTlsMaterial({ ...opts(pki.expiredClient, 'client'), now: earlier });
  });

  test('a CA outside its validity is reported with the CA path', async () => {
    const now = Date.now();
    const ca = await createCa({
      commonName: 'future ca',
      keySpec: { kind: 'ec', curve: 'P-256' },
      notBefore: new Date(now + 3_600_000),
      notAfter: new Date(now + 86_400_000),
    });
    const leaf = await issueCertificate(ca, {
      kind: 'client',
      commonName: 'c',
      keySpec: { kind: 'ec', curve: 'P-256' },
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
    });
    const files = { cert: await put('f.crt', leaf.certPem), key: await put('f.key', leaf.keyPem) };
    const caPath = await put('future-ca.crt', ca.certPem);
    await failsWith(opts(files, 'client', caPath), 'pki-not-yet-valid', /future-ca\.crt/);
  });
});
