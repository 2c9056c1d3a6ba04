/**
 * Who gets through the handshake, and what both sides say when someone does not. A fresh
 * PKI and a rogue CA; real server processes; hand-driven node:tls clients for the cases our
 * own client would refuse to attempt.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createServer, type ConnectionOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  cliGet,
  cliGetWith,
  cliServeRefuses,
  makeFixture,
  useServedFixture,
  type Fixture,
} from '../helpers/fixture.js';
import { issueFromTestCa, type CertFiles, type TestPki } from '../helpers/pki.js';
import { runCli, startServer } from '../helpers/proc.js';

interface Attempt {
  secure: boolean;
  data: string;
  error?: string;
}

/** A TLS client with free choice of certificate, versions and suites. */
function attempt(port: number, opts: ConnectionOptions): Promise<Attempt> {
  return new Promise((resolve) => {
    let secure = false;
    let data = '';
    let error: string | undefined;
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ...opts });
    s.on('secureConnect', () => {
      secure = true;
      s.write('GET hello.txt\n');
    });
    s.on('data', (b: Buffer) => (data += b.toString()));
    s.on('error', (e: Error & { code?: string }) => (error = e.code ?? e.message));
    s.on('close', () => {
      resolve({ secure, data, ...(error ? { error } : {}) });
    });
  });
}

describe('handshake', () => {
  const fx = useServedFixture({ 'hello.txt': 'hello\n' });
  const creds = (c: CertFiles) => ({ cert: readFileSync(c.cert), key: readFileSync(c.key) });

  it('accepts a client certificate from the CA', async () => {
    const r = await attempt(fx.server.port, {
      ca: readFileSync(fx.pki.ca),
      ...creds(fx.pki.client),
    });
    assert.equal(r.secure, true);
    assert.match(r.data, /^OK 6 plain\nhello\nSHA256 [0-9a-f]{64}\n$/);
  });

  const rejected: [string, (p: TestPki) => CertFiles | undefined, RegExp][] = [
    ['no client certificate', () => undefined, /no certificate/],
    ['a certificate from another CA', (p) => p.rogueClient, /unknown CA/],
    ['an expired client certificate', (p) => p.expiredClient, /expired/],
    ["a certificate without clientAuth (the server's own)", (p) => p.server, /clientAuth/],
    ['a certificate without clientAuth (serverAuth only)', (p) => p.noClientAuth, /clientAuth/],
  ];
  for (const [what, pick, reason] of rejected) {
    it(`rejects ${what} at the handshake and logs why`, async () => {
      const c = pick(fx.pki);
      const before = fx.server.logLines().length;
      const r = await attempt(fx.server.port, {
        ca: readFileSync(fx.pki.ca),
        ...(c ? creds(c) : {}),
      });
      assert.equal(r.data, '', 'no protocol byte may reach an unauthenticated client');
      assert.ok(r.error, 'the client must see the connection fail');
      const line = await fx.server.waitForLog((l) => l['outcome'] === 'handshake-failed', {
        since: before,
      });
      assert.match(String(line['reason']), reason);
      assert.match(String(line['peer']), /^127\.0\.0\.1:\d+$/);
    });
  }

  // OpenSSL reads a length in long form where one byte would do (X.690 BER, not DER): a
  // refused certificate written so reaches the diagnosis (src/transport/refusal.ts), which
  // reads such lengths as OpenSSL does (0x81 0x02) and, for what it cannot read (five length
  // bytes), still logs the certificate and goes on serving. Made with the openssl CLI:
  // keyEncipherment only, where an EC key needs digitalSignature.
  for (const [form, bitString, cause] of [
    ['0x81 0x02', '03:81:02:05:20', 'key-usage'],
    ['0x85 0 0 0 0 0x02', '03:85:00:00:00:00:02:05:20', 'other'],
  ] as const) {
    it(`a refused certificate whose keyUsage length is ${form} is logged; the server goes on`, async () => {
      const dir = join(fx.path, `ber-ku-${cause}`);
      await mkdir(dir);
      const [key, csr, cert, ext] = ['ber.key', 'ber.csr', 'ber.crt', 'ext'].map((f) =>
        join(dir, f),
      ) as [string, string, string, string];
      writeFileSync(ext, `keyUsage=DER:${bitString}\nextendedKeyUsage=clientAuth\n`);
      const ossl = (...args: string[]): void => {
        execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      };
      ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key);
      ossl('req', '-new', '-key', key, '-subj', '/CN=ber-ku', '-out', csr);
      ossl(
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        fx.pki.ca,
        '-CAkey',
        fx.pki.caKey,
        '-set_serial',
        '0x5e1',
        '-days',
        '30',
        '-extfile',
        ext,
        '-out',
        cert,
      );
      const before = fx.server.logLines().length;
      const r = await attempt(fx.server.port, {
        ca: readFileSync(fx.pki.ca),
        cert: readFileSync(cert),
        key: readFileSync(key),
      });
      assert.equal(r.data, '', 'no protocol byte may reach a refused client');
      const line = await fx.server.waitForLog((l) => l['outcome'] === 'handshake-failed', {
        since: before,
      });
      assert.equal(line['verifyError'], 'INVALID_PURPOSE', JSON.stringify(line));
      assert.equal(line['cause'], cause, JSON.stringify(line));
      assert.equal(line['subject'], 'CN=ber-ku');
      if (cause === 'key-usage') assert.match(String(line['reason']), /\(keyEncipherment\)/);
      else assert.match(String(line['diagnosisError']), /length of 5 bytes/);
      const ok = await attempt(fx.server.port, {
        ca: readFileSync(fx.pki.ca),
        ...creds(fx.pki.client),
      });
      assert.match(ok.data, /^OK 6 plain\nhello\nSHA256 [0-9a-f]{64}\n$/, 'the server serves on');
    });
  }

  it('rejects a client that demands a suite the server does not allow', async () => {
    const r = await attempt(fx.server.port, {
      ca: readFileSync(fx.pki.ca),
      ...creds(fx.pki.client),
      ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384',
      maxVersion: 'TLSv1.2',
    });
    assert.equal(r.secure, false);
    assert.match(r.error ?? '', /HANDSHAKE_FAILURE/);
    await fx.server.waitForLog((l) => /no shared cipher/.test(String(l['reason'])));
  });

  it('the get client says the server refused its certificate, and stores nothing', async () => {
    const out = join(fx.path, 'rogue-out');
    await mkdir(out);
    const r = await cliGetWith(
      fx.server.port,
      { ca: fx.pki.ca, ...fx.pki.rogueClient },
      'hello.txt',
      join(out, 'hello.txt'),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^securestream: error: /m);
    assert.deepEqual(await readdir(out), []);
  });

  it('the client refuses a server whose certificate does not name the host it dialled', async () => {
    const other = await startServer([
      '--ca',
      fx.pki.ca,
      '--cert',
      fx.pki.wrongHostServer.cert,
      '--key',
      fx.pki.wrongHostServer.key,
      '--root',
      fx.root,
    ]);
    try {
      const out = join(fx.path, 'wronghost');
      await mkdir(out);
      const r = await cliGet(other.port, fx.pki.pki, 'hello.txt', join(out, 'x'));
      assert.equal(r.code, 3);
      assert.match(
        r.stderr,
        /securestream: error: the server's certificate is not valid for "localhost" \(it names DNS:other\.example\)/,
      );
      assert.deepEqual(await readdir(out), []);
    } finally {
      await other.stop();
    }
  });

  it('the client refuses a server signed by a CA it does not trust', async () => {
    const out = join(fx.path, 'unknownca');
    await mkdir(out);
    const r = await cliGetWith(
      fx.server.port,
      { ca: fx.pki.rogueCa, ...fx.pki.client },
      'hello.txt',
      join(out, 'x'),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /securestream: error: /);
    assert.deepEqual(await readdir(out), []);
  });
});

describe('cipher policy', () => {
  let dir: Fixture;
  let pki: TestPki;
  let root: string;

  before(async () => {
    dir = await makeFixture({ f: 'x' });
    ({ pki, root } = dir);
  });
  after(async () => {
    await dir.remove();
  });

  const fetchWith = async (serverArgs: string[], client: CertFiles, ca: string) => {
    const s = await startServer([...serverArgs, '--root', root]);
    try {
      const r = await runCli([
        'get',
        'f',
        '--server',
        `localhost:${s.port}`,
        '--ca',
        ca,
        '--cert',
        client.cert,
        '--key',
        client.key,
        '--out',
        join(dir.path, `o-${s.port}`),
        '--verbose',
      ]);
      const log = await s.waitForLog((l) => l['msg'] === 'connection');
      return { r, log, banner: s.banner };
    } finally {
      await s.stop();
    }
  };

  it('RSA server with --ciphers AES128-GCM-SHA256 negotiates exactly that suite', async () => {
    const { r, log, banner } = await fetchWith(
      [
        '--ca',
        pki.rsaCa,
        '--cert',
        pki.rsaServer.cert,
        '--key',
        pki.rsaServer.key,
        '--ciphers',
        'AES128-GCM-SHA256',
      ],
      pki.rsaCaClient,
      pki.rsaCa,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(log['cipher'], 'AES128-GCM-SHA256');
    assert.match(banner, /ciphers AES128-GCM-SHA256/);
  });

  it('RSA server defaults to ECDHE-RSA-AES128-GCM-SHA256', async () => {
    const { r, log } = await fetchWith(
      ['--ca', pki.rsaCa, '--cert', pki.rsaServer.cert, '--key', pki.rsaServer.key],
      pki.rsaCaClient,
      pki.rsaCa,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(log['cipher'], 'ECDHE-RSA-AES128-GCM-SHA256');
  });

  it("an ordered list: the server's order wins", async () => {
    const { r, log } = await fetchWith(
      [
        '--pki',
        pki.pki,
        '--ciphers',
        'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256',
      ],
      pki.client,
      pki.ca,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(log['cipher'], 'ECDHE-ECDSA-AES256-GCM-SHA384');
  });

  it('--tls-max 1.3 allows TLS 1.3', async () => {
    const { r, log } = await fetchWith(['--pki', pki.pki, '--tls-max', '1.3'], pki.client, pki.ca);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(log['protocol'], 'TLSv1.3');
    assert.equal(log['cipher'], 'TLS_AES_128_GCM_SHA256');
    assert.match(r.stderr, /TLSv1\.3 TLS_AES_128_GCM_SHA256/);
  });

  // The refused certificate is taken from the 'keylog' event (src/transport/peer.ts): under
  // TLS 1.3 the server logs its handshake secrets before the client's Certificate arrives,
  // and only its last line comes after the certificate was verified.
  for (const [what, pick, cause] of [
    ['from another CA', (p: TestPki) => p.rogueClient, 'unknown-ca'],
    ['that has expired', (p: TestPki) => p.expiredClient, 'expired'],
  ] as const) {
    it(`--tls-max 1.3: a refused client certificate ${what} is named in the log`, async () => {
      const s = await startServer(['--pki', pki.pki, '--tls-max', '1.3', '--root', root]);
      try {
        const c = pick(pki);
        const r = await attempt(s.port, {
          ca: readFileSync(pki.ca),
          cert: readFileSync(c.cert),
          key: readFileSync(c.key),
          minVersion: 'TLSv1.3',
        });
        assert.equal(r.data, '', 'no protocol byte may reach a refused client');
        const line = await s.waitForLog((l) => l['outcome'] === 'handshake-failed');
        const x = new X509Certificate(readFileSync(c.cert));
        assert.equal(line['cause'], cause, JSON.stringify(line));
        assert.equal(line['subject'], x.subject.replace(/\n/g, ', '));
        assert.equal(line['fingerprint256'], x.fingerprint256.replace(/:/g, '').toLowerCase());
      } finally {
        await s.stop();
      }
    });
  }

  it('refuses to start when no listed suite works with the server key', async () => {
    const r = await cliServeRefuses(pki.pki, root, ['--ciphers', 'AES128-GCM-SHA256']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /securestream: error: no cipher suite in --ciphers works with this ec server key: AES128-GCM-SHA256 \(needs an RSA key\)/,
    );
    assert.match(r.stderr, /securestream: hint: /);
  });

  it('refuses unknown or weak suites as a usage error', async () => {
    const r = await cliServeRefuses(pki.pki, root, ['--ciphers', 'RC4-MD5']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /securestream: error: unknown or weak cipher suite "RC4-MD5"/);
  });
});

describe('server certificate problems, as the client reports them', () => {
  let dir: Fixture;
  let pki: TestPki;

  before(async () => {
    dir = await makeFixture();
    pki = dir.pki;
  });
  after(async () => {
    await dir.remove();
  });

  /** A bare TLS server with any certificate, since `serve` refuses to start with a bad one. */
  const serveWith = async (cert: string, key: string) => {
    const server = createServer({ cert, key, ca: readFileSync(pki.ca), requestCert: true });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, port: (server.address() as AddressInfo).port };
  };

  it('an expired server certificate: the client says when it expired', async () => {
    const day = 86_400_000;
    const expired = await issueFromTestCa(pki, {
      kind: 'server',
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      keySpec: { kind: 'ec', curve: 'P-256' },
      notBefore: new Date(Date.now() - 10 * day),
      notAfter: new Date(Date.now() - day),
    });
    const { server, port } = await serveWith(expired.certPem, expired.keyPem);
    try {
      const out = join(dir.path, 'expired-out');
      await mkdir(out);
      const r = await cliGet(port, pki.pki, 'x', join(out, 'x'));
      assert.equal(r.code, 3);
      const until = new X509Certificate(expired.certPem).validTo;
      assert.match(
        r.stderr,
        new RegExp(`securestream: error: the server's certificate expired on ${until}`),
      );
      assert.deepEqual(await readdir(out), []);
    } finally {
      server.close();
    }
  });

  it('a server certificate from another CA: the client names its issuer', async () => {
    const { server, port } = await serveWith(
      await readFile(pki.rogueClient.cert, 'utf8'),
      await readFile(pki.rogueClient.key, 'utf8'),
    );
    try {
      const r = await runCli([
        'get',
        'x',
        '--server',
        `127.0.0.1:${port}`,
        '--pki',
        pki.pki,
        '--out',
        join(dir.path, 'rogue-x'),
      ]);
      assert.equal(r.code, 3);
      assert.match(
        r.stderr,
        /securestream: error: the server's certificate is signed by an unknown CA \(issuer: CN=/,
      );
    } finally {
      server.close();
    }
  });
});
