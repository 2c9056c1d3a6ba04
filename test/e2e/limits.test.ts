/**
 * Limits and timeouts with short values set by flags: slow-loris clients at each stage are
 * closed within their timeout and logged; over a connection cap a client gets `ERR busy`
 * while admitted transfers finish; the request line is capped at 4096 bytes.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, useServedFixture, type Fixture } from '../helpers/fixture.js';
import type { TestPki } from '../helpers/pki.js';
import { startServer } from '../helpers/proc.js';
import { rawExchange } from '../helpers/raw.js';
import { holdTransfer, sha256File } from '../helpers/transfer.js';

const BUSY = 'ERR busy server busy, try again later\n';

/** Opens TCP, optionally drips bytes, resolves with how long the server took to close it. */
function tcpUntilClosed(port: number, drip?: { first: Buffer; everyMs: number }): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = tcpConnect({ host: '127.0.0.1', port });
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      if (!drip) return;
      s.write(drip.first);
      timer = setInterval(() => s.write(Buffer.from([0])), drip.everyMs);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    });
    setTimeout(() => s.destroy(), 15_000);
  });
}

describe('timeouts (1 s each, set by flags)', () => {
  const fx = useServedFixture(
    { 'hello.txt': 'hello\n', 'big.bin': randomBytes(32 * 1024 * 1024) },
    ['--handshake-timeout', '1s', '--request-timeout', '1s', '--idle-timeout', '1s'],
  );

  it('TCP open, no ClientHello: closed after the handshake timeout', async () => {
    const since = fx.server.logLines().length;
    const ms = await tcpUntilClosed(fx.server.port);
    assert.ok(ms >= 900 && ms < 3000, `closed after ${ms} ms`);
    const l = await fx.server.waitForLog((x) => x['outcome'] === 'handshake-failed', { since });
    assert.match(String(l['reason']), /handshake (timed out|not finished within 1000 ms)/);
  });

  it('a ClientHello dripped a byte at a time cannot stretch the handshake timeout', async () => {
    const since = fx.server.logLines().length;
    // A TLS handshake record header announcing 16 KiB, then one byte every 200 ms: each byte
    // resets an idle timer, so only an absolute deadline closes this.
    const header = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]);
    const ms = await tcpUntilClosed(fx.server.port, { first: header, everyMs: 200 });
    assert.ok(ms >= 900 && ms < 3000, `closed after ${ms} ms`);
    const l = await fx.server.waitForLog((x) => x['outcome'] === 'handshake-failed', { since });
    assert.match(String(l['reason']), /handshake (timed out|not finished within 1000 ms)/);
  });

  it('handshake done, request line never finished: ERR bad-request after the request timeout', async () => {
    const since = fx.server.logLines().length;
    const started = Date.now();
    const r = await rawExchange({
      port: fx.server.port,
      ca: fx.pki.ca,
      client: fx.pki.client,
      send: 'GET hel',
    });
    const ms = Date.now() - started;
    assert.equal(
      r.received.toString(),
      'ERR bad-request no complete request line within 1000 ms\n',
    );
    assert.ok(ms < 3000, `closed after ${ms} ms`);
    const l = await fx.server.waitForLog((x) => x['msg'] === 'connection', { since });
    assert.equal(l['outcome'], 'bad-request');
  });

  it('request sent, body never read: closed after the idle timeout', async () => {
    const since = fx.server.logLines().length;
    const started = Date.now();
    const held = await holdTransfer({
      port: fx.server.port,
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'big.bin',
    });
    try {
      const l = await fx.server.waitForLog(
        (x) => x['msg'] === 'connection' && x['request'] === 'big.bin',
        {
          since,
          timeoutMs: 8000,
        },
      );
      const ms = Date.now() - started;
      assert.equal(l['outcome'], 'timeout');
      assert.equal(l['reason'], 'no progress for 1000 ms');
      assert.ok(Number(l['bytes']) < 32 * 1024 * 1024);
      assert.ok(ms < 5000, `closed after ${ms} ms`);
    } finally {
      held.socket.destroy();
    }
  });

  it('a request line over 4096 bytes is refused', async () => {
    const r = await rawExchange({
      port: fx.server.port,
      ca: fx.pki.ca,
      client: fx.pki.client,
      send: `GET ${'a'.repeat(4100)}\n`,
    });
    assert.equal(r.received.toString(), 'ERR bad-request request line too long\n');
  });
});

describe('connection caps', () => {
  let dir: Fixture;
  let pki: TestPki;
  let root: string;

  before(async () => {
    dir = await makeFixture({
      'hello.txt': 'hello\n',
      'big.bin': randomBytes(16 * 1024 * 1024),
    });
    ({ pki, root } = dir);
  });
  after(async () => {
    await dir.remove();
  });

  it('over --max-connections: ERR busy, logged, while admitted transfers finish', async () => {
    const server = await startServer(['--pki', pki.pki, '--root', root, '--max-connections', '2']);
    try {
      const hold = () =>
        holdTransfer({ port: server.port, ca: pki.ca, client: pki.client, name: 'big.bin' });
      const a = await hold();
      const b = await hold();
      const since = server.logLines().length;
      const r = await rawExchange({
        port: server.port,
        ca: pki.ca,
        client: pki.client2,
        send: 'GET hello.txt\n',
      });
      assert.equal(r.received.toString(), BUSY);
      const l = await server.waitForLog((x) => x['outcome'] === 'busy', { since });
      assert.equal(l['reason'], 'over the connection limit');
      assert.equal(l['subject'], 'CN=client2');

      // Twice the cap: dropped before the handshake costs anything.
      const idle = [
        tcpConnect({ host: '127.0.0.1', port: server.port }),
        tcpConnect({ host: '127.0.0.1', port: server.port }),
      ];
      idle.forEach((s) => s.on('error', () => undefined));
      await new Promise((res) => setTimeout(res, 200));
      const dropped = await rawExchange({
        port: server.port,
        ca: pki.ca,
        client: pki.client2,
        send: 'GET hello.txt\n',
      });
      assert.equal(dropped.received.length, 0);
      await server.waitForLog((x) => x['msg'] === 'connection dropped: over the hard cap', {
        since,
      });
      idle.forEach((s) => s.destroy());

      const digest = sha256File(join(root, 'big.bin'));
      for (const t of [await a.finish(), await b.finish()]) {
        assert.equal(t.complete, true);
        assert.equal(t.bodySha256, digest);
      }
      await new Promise((res) => setTimeout(res, 200));
      const again = await rawExchange({
        port: server.port,
        ca: pki.ca,
        client: pki.client2,
        send: 'GET hello.txt\n',
      });
      assert.match(again.received.toString(), /^OK 6 plain\n/);
    } finally {
      await server.stop();
    }
  });

  it('over --max-connections-per-address: that address gets ERR busy, another is served', async () => {
    const server = await startServer([
      '--pki',
      pki.pki,
      '--root',
      root,
      '--max-connections-per-address',
      '1',
    ]);
    try {
      const a = await holdTransfer({
        port: server.port,
        ca: pki.ca,
        client: pki.client,
        name: 'big.bin',
      });
      const r = await rawExchange({
        port: server.port,
        ca: pki.ca,
        client: pki.client,
        send: 'GET hello.txt\n',
      });
      assert.equal(r.received.toString(), BUSY);
      const other = await holdTransfer({
        port: server.port,
        localAddress: '127.0.0.2',
        ca: pki.ca,
        client: pki.client,
        name: 'hello.txt',
      });
      const o = await other.finish();
      assert.equal(o.complete, true);
      assert.equal(o.header, 'OK 6 plain\n');
      assert.equal((await a.finish()).complete, true);
    } finally {
      await server.stop();
    }
  });
});
