/**
 * What HTTP clients must not get: no certificate, another CA's, a revoked one; names outside
 * the root or denied by the rules (one 403 body for all of them, 404 only inside); oversized
 * and slow headers; HTTP when it is turned off; HTTP/2 over a suite it forbids. The line
 * protocol on the same port keeps answering with and without ALPN.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { FORBIDDEN_BODY } from '../../src/http/status.js';
import {
  curl,
  curlFetch,
  curlTls,
  httpFixture,
  missing,
  sClient,
  type HttpFixture,
  type HttpPki,
} from '../helpers/http.js';
import { makeTestPki } from '../helpers/pki.js';
import { startServer, type ServerProcess } from '../helpers/proc.js';

describe('HTTP refusals', { skip: missing('curl') }, () => {
  let fx: HttpFixture;
  let pki: HttpPki;
  let server: ServerProcess;
  const url = (path: string, port = server.port): string => `https://localhost:${port}${path}`;
  const fetch = (...args: string[]) => curlFetch(fx.dir, args);

  before(async () => {
    fx = await httpFixture({
      files: { 'hello.txt': 'hello\n', 'private/key.pem': 'secret\n' },
      rules: ['  - cn: client', '    deny: "private/**"', '  - anyone: true', '    allow: "**"'],
      args: ['--request-timeout', '1s'],
    });
    ({ pki, server } = fx);
    await writeFile(join(fx.dir, 'outside.txt'), 'outside the root\n');
    await symlink(join(fx.dir, 'outside.txt'), join(fx.root, 'escape'));
  });
  after(async () => {
    await fx.remove();
  });

  const certCases: [string, () => string[], RegExp][] = [
    ['no certificate', () => curlTls(pki.ca), /client sent no certificate/],
    ['a certificate from another CA', () => curlTls(pki.ca, pki.rogue), /unknown CA/],
    ['a revoked certificate', () => curlTls(pki.ca, pki.revoked), /revoked/],
  ];
  for (const [label, args, reason] of certCases) {
    for (const flag of ['--http1.1', '--http2']) {
      it(`${label} (${flag}): no response, the handshake fails and the log says why`, async () => {
        const since = server.logLines().length;
        const r = await curl([flag, ...args(), '-o', '/dev/null', url('/hello.txt')]);
        assert.ok(r.code === 35 || r.code === 56, `curl exit ${r.code}: ${r.stderr}`);
        const l = await server.waitForLog((x) => x['outcome'] === 'handshake-failed', { since });
        assert.match(String(l['reason']), reason);
        assert.equal(
          server
            .logLines()
            .slice(since)
            .filter((x) => x['msg'] === 'request').length,
          0,
        );
      });
    }
  }

  const forbidden: [string, string][] = [
    ['a ".." segment', '/../outside.txt'],
    ['a percent-encoded "%2e%2e"', '/%2e%2e/outside.txt'],
    ['an upper-case "%2E%2E" deeper down', '/private/%2E%2E/%2E%2E/outside.txt'],
    ['an encoded absolute path', '/%2Fetc/passwd'],
    ['a symlink out of the root', '/escape'],
    ['a name the rules deny', '/private/key.pem'],
    ['a folder the rules deny', '/private/'],
    ['a backslash', '/%5C..%5Coutside.txt'],
  ];
  for (const [label, path] of forbidden) {
    for (const flag of ['--http1.1', '--http2']) {
      it(`${label} (${flag}) is 403 with the one refusal body`, async () => {
        const r = await fetch(flag, '--path-as-is', ...curlTls(pki.ca, pki.client), url(path));
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.head?.status, 403);
        assert.equal(r.body.toString(), FORBIDDEN_BODY);
      });
    }
  }

  it('404 only inside the root; malformed names are 400', async () => {
    const tls = curlTls(pki.ca, pki.client);
    const status = async (path: string): Promise<number | undefined> =>
      (await fetch('--path-as-is', ...tls, url(path))).head?.status;
    assert.equal(await status('/nothing.txt'), 404);
    assert.equal(await status('/a%00b'), 400);
    assert.equal(await status('/a//b'), 400);
    assert.equal(await status('/%FF'), 400);
    assert.equal(await status('/a%zz'), 400);
  });

  for (const flag of ['--http1.1', '--http2']) {
    it(`an oversized header and too many header fields are refused (${flag})`, async () => {
      const tls = curlTls(pki.ca, pki.client);
      const since = server.logLines().length;
      const big = await fetch(
        flag,
        ...tls,
        '-H',
        `X-Big: ${'a'.repeat(20_000)}`,
        url('/hello.txt'),
      );
      assert.equal(big.head?.status, 431);
      const many = Array.from({ length: 120 }, (_, i) => ['-H', `X-Field-${i}: v`]).flat();
      const r = await fetch(flag, ...tls, ...many, url('/hello.txt'));
      if (flag === '--http1.1') assert.equal(r.head?.status, 431);
      // HTTP/2: node resets the stream (ENHANCE_YOUR_CALM) before a request exists.
      else assert.equal(r.code, 92, r.stderr);
      await server.waitForLog((x) => x['outcome'] === 'header-too-large', { since });
    });
  }

  /** Sends `prefix` at once, then `bytes` one every 100 ms; resolves when the server closes. */
  const drip = (
    alpn: string[] | undefined,
    prefix: string,
    bytes: string,
  ): Promise<{ text: string; ms: number }> =>
    new Promise((resolve) => {
      const started = Date.now();
      const chunks: Buffer[] = [];
      const s = connect({
        host: '127.0.0.1',
        port: server.port,
        ca: readFileSync(pki.ca),
        cert: readFileSync(pki.client.cert),
        key: readFileSync(pki.client.key),
        servername: 'localhost',
        ...(alpn ? { ALPNProtocols: alpn } : {}),
      });
      let i = 0;
      s.once('secureConnect', () => s.write(prefix));
      const timer = setInterval(() => {
        if (i < bytes.length) s.write(bytes[i++] ?? '');
      }, 100);
      s.on('data', (b: Buffer) => chunks.push(b));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearInterval(timer);
        resolve({ text: Buffer.concat(chunks).toString('latin1'), ms: Date.now() - started });
      });
    });

  for (const [label, alpn] of [
    ['with ALPN http/1.1', ['http/1.1']],
    ['without ALPN', undefined],
  ] as const) {
    it(`a header dripped a byte at a time is cut off at the request timeout (${label})`, async () => {
      const since = server.logLines().length;
      const { text, ms } = await drip(
        alpn ? [...alpn] : undefined,
        'GET /hello.txt HTTP/1.1\r\n',
        'Host: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      );
      assert.match(text, /^HTTP\/1\.1 408 /);
      assert.ok(ms >= 900 && ms < 3000, `closed after ${ms} ms`);
      const c = await server.waitForLog(
        (x) => x['msg'] === 'connection' && x['wire'] === 'http/1.1' && x['requests'] === 0,
        { since },
      );
      assert.equal(c['outcome'], 'timeout');
      assert.equal(c['reason'], 'no complete request header within 1000 ms');
      assert.equal(c['wire'], 'http/1.1');
    });
  }

  it('a request line dripped without ALPN gets the line protocol answer at the request timeout', async () => {
    const since = server.logLines().length;
    const { text, ms } = await drip(undefined, '', 'GET /hello.txt HTTP/1.1\r\n');
    assert.equal(text, 'ERR bad-request no complete request line within 1000 ms\n');
    assert.ok(ms >= 900 && ms < 3000, `closed after ${ms} ms`);
    const c = await server.waitForLog((x) => x['msg'] === 'connection' && x['outcome'] !== 'ok', {
      since,
    });
    assert.equal(c['outcome'], 'bad-request');
    assert.equal(c['wire'], 'line');
  });

  it('the line protocol answers on the same port, with ALPN securestream/1 and without', async () => {
    for (const alpn of ['securestream/1', undefined]) {
      const r = await sClient(server.port, pki.ca, pki.client, 'GET hello.txt\n', alpn);
      assert.match(r.stdout, /^OK 6 plain\nhello\nSHA256 [0-9a-f]{64}\n$/, r.stderr);
    }
    const absolute = await sClient(server.port, pki.ca, pki.client, 'GET /etc/passwd\n');
    assert.equal(absolute.stdout, 'ERR forbidden access denied\n');
  });

  it('serve --no-http: HTTP clients fail the handshake, the line protocol still works', async () => {
    const lineOnly = await startServer(['--pki', pki.dir, '--root', fx.root, '--no-http']);
    try {
      assert.match(lineOnly.banner, /line protocol only/);
      const since = lineOnly.logLines().length;
      const r = await curl([...curlTls(pki.ca, pki.client), url('/hello.txt', lineOnly.port)]);
      assert.equal(r.code, 35, r.stderr);
      assert.match(r.stderr, /no application protocol/);
      const l = await lineOnly.waitForLog((x) => x['outcome'] === 'handshake-failed', { since });
      assert.match(String(l['reason']), /no ALPN protocol in common/);
      const line = await sClient(
        lineOnly.port,
        pki.ca,
        pki.client,
        'GET hello.txt\n',
        'securestream/1',
      );
      assert.match(line.stdout, /^OK 6 plain\n/);
    } finally {
      await lineOnly.stop();
    }
  });

  it('h2 is not offered when every suite of the policy is one HTTP/2 forbids', async () => {
    const t = await makeTestPki(join(fx.dir, 'rsa'));
    const rsa = await startServer([
      '--ca',
      t.rsaCa,
      '--cert',
      t.rsaServer.cert,
      '--key',
      t.rsaServer.key,
      '--root',
      fx.root,
      '--ciphers',
      'AES128-GCM-SHA256',
    ]);
    try {
      const r = await curl([
        '--http2',
        ...curlTls(t.rsaCa, t.rsaCaClient),
        '-w',
        '%{http_version} %{http_code}',
        '-o',
        '/dev/null',
        url('/hello.txt', rsa.port),
      ]);
      assert.equal(r.stdout, '1.1 200', r.stderr);
      const l = await rsa.waitForLog((x) => x['msg'] === 'connection');
      assert.equal(l['cipher'], 'AES128-GCM-SHA256');
      assert.equal(l['alpn'], 'http/1.1');
    } finally {
      await rsa.stop();
    }
  });

  it('an HTTP/1.1 client that names no protocol is not mistaken for the line protocol', async () => {
    // The wget case, by hand: no ALPN, a request line with a version.
    const r = await sClient(
      server.port,
      pki.ca,
      pki.client,
      'GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    const text = r.stdout;
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.endsWith('\r\n\r\nhello\n'), text);
  });
});
