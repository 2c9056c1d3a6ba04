/**
 * Behind Debian's HAProxy in TCP mode, TLS end to end: HAProxy relays the client's bytes after
 * a PROXY header (`send-proxy-v2`, `send-proxy`, v2 with a CRC32C), and the server logs, limits
 * and audits the client's own address. HAProxy connects from 127.0.0.3, the only trusted proxy;
 * clients come from 127.0.0.2 and 127.0.0.4 (all loopback). Anyone else is refused and logged;
 * a server without --proxy-protocol calls a PROXY header a bad request.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { prettyFormatter } from '../../src/log.js';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import { freePort, haproxyMissing, startHaproxy, type Haproxy } from '../helpers/haproxy.js';
import { startServer, type ServerProcess } from '../helpers/proc.js';
import { holdTransfer, sha256File } from '../helpers/transfer.js';

const PROXY_ADDR = '127.0.0.3';
const skip = haproxyMissing();

describe('behind HAProxy with the PROXY protocol', { skip }, () => {
  let fx: Fixture;
  let server: ServerProcess;
  let plain: ServerProcess;
  let haproxy: Haproxy;
  const port = { v2: 0, v1: 0, crc: 0, plain: 0 };

  before(async () => {
    fx = await makeFixture({ 'hello.txt': 'hello\n', 'big.bin': randomBytes(4 << 20) });
    server = await startServer([
      '--pki',
      fx.pki.pki,
      '--root',
      fx.root,
      '--proxy-protocol',
      '--trusted-proxy',
      PROXY_ADDR,
      '--max-connections-per-address',
      '1',
    ]);
    plain = await startServer(['--pki', fx.pki.pki, '--root', fx.root]);
    for (const k of Object.keys(port) as (keyof typeof port)[]) port[k] = await freePort();
    const backend = (name: string, target: number, how: string): string =>
      `frontend ${name}\n  bind 127.0.0.1:${port[name as keyof typeof port]}\n  default_backend ${name}\n` +
      `backend ${name}\n  server s 127.0.0.1:${target} ${how} source ${PROXY_ADDR}\n`;
    haproxy = await startHaproxy(
      fx.path,
      [
        'defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n',
        backend('v2', server.port, 'send-proxy-v2'),
        backend('v1', server.port, 'send-proxy'),
        backend('crc', server.port, 'send-proxy-v2 proxy-v2-options crc32c'),
        backend('plain', plain.port, 'send-proxy-v2'),
      ].join(''),
      Object.values(port).map((p) => ['127.0.0.1', p]),
    );
  });
  after(async () => {
    await haproxy.stop();
    await server.stop();
    await plain.stop();
    await fx.remove();
  });

  /** Fetches hello.txt from `from` through the frontend; the log line the server wrote for it. */
  async function fetchVia(
    frontend: number,
    from: string,
    target = server,
  ): Promise<{ line: Record<string, unknown>; localPort: number; fingerprint: string }> {
    const since = target.logLines().length;
    const held = await holdTransfer({
      port: frontend,
      localAddress: from,
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'hello.txt',
    });
    const localPort = held.socket.localPort ?? -1;
    const result = await held.finish();
    assert.equal(result.complete, true, JSON.stringify(result));
    const line = await target.waitForLog(
      (l) => l['msg'] === 'connection' && l['request'] === 'hello.txt',
      { since },
    );
    return { line, localPort, fingerprint: held.serverFingerprint };
  }

  for (const [name, version] of [
    ['v2', 'send-proxy-v2'],
    ['v1', 'send-proxy'],
    ['crc', 'send-proxy-v2 with a CRC32C'],
  ] as const) {
    it(`logs the client's own address and port through ${version}, TLS end to end`, async () => {
      const { line, localPort, fingerprint } = await fetchVia(port[name], '127.0.0.2');
      assert.equal(line['peer'], `127.0.0.2:${localPort}`);
      assert.match(String(line['proxy']), /^127\.0\.0\.3:\d+$/);
      assert.equal(line['outcome'], 'ok');
      assert.equal(line['request'], 'hello.txt');
      // the client certificate reached the server, and the client saw the server's own one
      assert.equal(line['subject'], 'CN=client');
      // the pretty line names both
      const pretty = prettyFormatter(false)(JSON.stringify(line));
      assert.match(
        pretty,
        new RegExp(
          ` 127\\.0\\.0\\.2:${localPort} via 127\\.0\\.0\\.3:\\d+ CN=client GET "hello\\.txt" ok`,
        ),
      );
      const serverCert = new X509Certificate(await readFile(fx.pki.server.cert));
      assert.equal(fingerprint, serverCert.fingerprint256.replace(/:/g, '').toLowerCase());
    });
  }

  it('downloads a 4 MiB file with `get` through HAProxy, digest verified', async () => {
    const out = join(fx.path, 'big.copy');
    const got = await cliGet(port.v2, fx.pki.pki, 'big.bin', out, ['--quiet']);
    assert.equal(got.code, 0, got.stderr);
    const sha = sha256File(join(fx.root, 'big.bin'));
    assert.equal(got.stdout, `${sha}  ${out}\n`);
    assert.equal(sha256File(out), sha);
  });

  it('counts per-address limits by the client address, not the proxy', async () => {
    // --max-connections-per-address 1: a second connection from 127.0.0.2 is busy, while
    // 127.0.0.4 through the same proxy address is served.
    const held = await holdTransfer({
      port: port.v2,
      localAddress: '127.0.0.2',
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'big.bin',
    });
    try {
      const second = await holdTransfer({
        port: port.v2,
        localAddress: '127.0.0.2',
        ca: fx.pki.ca,
        client: fx.pki.client,
        name: 'hello.txt',
      });
      const refused = await second.finish();
      assert.match(refused.header, /^ERR busy /);
      const { line } = await fetchVia(port.v2, '127.0.0.4');
      assert.match(String(line['peer']), /^127\.0\.0\.4:\d+$/);
      assert.equal(line['outcome'], 'ok');
    } finally {
      assert.equal((await held.finish()).complete, true);
    }
  });

  it('refuses and logs a connection from an address that is not a trusted proxy', async () => {
    const since = server.logLines().length;
    const got = await cliGet(server.port, fx.pki.pki, 'hello.txt', join(fx.path, 'x'), ['--quiet']);
    assert.equal(got.code, 3, got.stderr);
    const line = await server.waitForLog((l) => l['msg'] === 'connection refused before TLS', {
      since,
    });
    assert.equal(line['outcome'], 'untrusted-proxy');
    assert.equal(line['error'], 'proxy-untrusted');
    assert.match(String(line['peer']), /^127\.0\.0\.1:\d+$/);
  });

  it('refuses a trusted proxy address that sends TLS without a PROXY header', async () => {
    const since = server.logLines().length;
    await holdTransfer({
      port: server.port,
      localAddress: PROXY_ADDR,
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'hello.txt',
    }).catch(() => undefined);
    const line = await server.waitForLog((l) => l['msg'] === 'connection refused before TLS', {
      since,
    });
    assert.equal(line['outcome'], 'bad-request');
    assert.equal(line['error'], 'proxy-header-invalid');
    assert.match(
      String(line['reason']),
      /did not start with a PROXY protocol header \(first byte 0x16\)/,
    );
  });

  it('without --proxy-protocol, a PROXY header is a bad request', async () => {
    const since = plain.logLines().length;
    const got = await cliGet(port.plain, fx.pki.pki, 'hello.txt', join(fx.path, 'y'), ['--quiet']);
    assert.equal(got.code, 3, got.stderr);
    const line = await plain.waitForLog((l) => l['msg'] === 'connection refused before TLS', {
      since,
    });
    assert.equal(line['outcome'], 'bad-request');
    assert.equal(line['error'], 'proxy-header-unexpected');
    assert.match(String(line['peer']), /^127\.0\.0\.3:\d+$/);
  });
});
