/**
 * The server's session against clients that break the protocol or TLS after the handshake:
 * bytes after the request line whenever they arrive, a corrupt TLS record, a client that hangs
 * up because it rejected our certificate. Each is closed at once and logged for what it is.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { cliGetWith, makeFixture, useServedFixture, type Fixture } from '../helpers/fixture.js';
import { startServer } from '../helpers/proc.js';
import { rawExchange } from '../helpers/raw.js';

const BIG = 32 * 1024 * 1024;

interface Exchange {
  received: Buffer;
  /** ms from the handshake to the server's close. */
  closedAfterMs: number;
}

/**
 * A TLS client over a TCP socket we keep a handle on, so that bytes can be written below TLS.
 * `afterHandshake` runs once the handshake is done; resolves when the server has closed.
 */
function exchange(
  port: number,
  fx: Fixture,
  afterHandshake: (tls: TLSSocket, tcp: ReturnType<typeof tcpConnect>) => void,
  onData?: (tls: TLSSocket, received: number) => void,
): Promise<Exchange> {
  return new Promise((resolve) => {
    const tcp = tcpConnect({ host: '127.0.0.1', port });
    const tls = tlsConnect({
      socket: tcp,
      ca: readFileSync(fx.pki.ca),
      cert: readFileSync(fx.pki.client.cert),
      key: readFileSync(fx.pki.client.key),
      servername: 'localhost',
    });
    const chunks: Buffer[] = [];
    let received = 0;
    let secureAt = 0;
    tls.on('error', () => undefined);
    tcp.on('error', () => undefined);
    tls.on('secureConnect', () => {
      secureAt = Date.now();
      afterHandshake(tls, tcp);
    });
    tls.on('data', (b: Buffer) => {
      chunks.push(b);
      received += b.length;
      onData?.(tls, received);
    });
    const timer = setTimeout(() => tcp.destroy(), 20_000);
    tcp.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closedAfterMs: Date.now() - secureAt });
    });
  });
}

describe('session', () => {
  // Default timeouts (10 s request timeout): a close in well under that is the session's doing.
  const fx = useServedFixture({ 'big.bin': randomBytes(BIG), 'hello.txt': 'hello\n' });

  const connectionLine = (since: number, pred: (l: Record<string, unknown>) => boolean) =>
    fx.server.waitForLog((l) => l['msg'] === 'connection' && pred(l), { since });

  // Issue 11: with the extra byte 5 ms after the line, the server used to send megabytes, cut
  // the connection and log client-gone with no reason.
  it('a byte after the request line, 5 ms late: a protocol violation, logged as bad-request', async () => {
    const since = fx.server.logLines().length;
    const r = await exchange(fx.server.port, fx, (tls) => {
      tls.write('GET big.bin\n');
      setTimeout(() => tls.write('X'), 5);
    });
    const text = r.received.subarray(0, 60).toString('latin1');
    assert.ok(
      text === 'ERR bad-request data after the request line\n' ||
        (text.startsWith(`OK ${BIG} plain\n`) && r.received.length < BIG),
      `received ${r.received.length} bytes: ${JSON.stringify(text)}`,
    );
    const l = await connectionLine(since, (x) => x['request'] === 'big.bin');
    assert.equal(l['outcome'], 'bad-request');
    assert.equal(l['reason'], 'data after the request line');
  });

  it('a byte after the request line, once the body flows: cut at once, logged as bad-request', async () => {
    const since = fx.server.logLines().length;
    let sent = false;
    const r = await exchange(
      fx.server.port,
      fx,
      (tls) => tls.write('GET big.bin\n'),
      (tls) => {
        if (sent) return;
        sent = true;
        tls.write('X');
      },
    );
    assert.ok(r.received.subarray(0, 20).toString('latin1').startsWith(`OK ${BIG} plain\n`));
    assert.ok(r.received.length < BIG, `received ${r.received.length} bytes: the whole file`);
    const l = await connectionLine(since, (x) => x['request'] === 'big.bin');
    assert.equal(l['outcome'], 'bad-request');
    assert.equal(l['reason'], 'data after the request line');
    assert.ok(Number(l['bytes']) < BIG);
  });

  // Issue 10: after its fatal alert the server used to hold the connection until the request
  // timeout (10 s) and then log "bad-request: no complete request line".
  it('a corrupt TLS record after the handshake: closed at once, logged as a TLS error', async () => {
    const since = fx.server.logLines().length;
    const r = await exchange(fx.server.port, fx, (_tls, tcp) => {
      // An application-data record (type 23, TLS 1.2) whose ciphertext cannot authenticate.
      tcp.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x28]), randomBytes(40)]));
    });
    assert.ok(r.closedAfterMs < 3000, `closed ${r.closedAfterMs} ms after the handshake`);
    assert.equal(r.received.length, 0, 'no protocol byte');
    const l = await connectionLine(since, () => true);
    assert.equal(l['outcome'], 'tls-error');
    assert.match(String(l['error']), /^ERR_SSL_/);
    assert.match(String(l['reason']), /decrypt|bad record mac|cipher operation failed/i);
    assert.equal(l['request'], undefined);
  });

  // Issue 10: node:tls clients check the server's certificate after the handshake and hang up
  // without a word; that used to be logged as "bad-request: connection closed before a
  // complete request line".
  it('a client that rejected our certificate is logged as a failed handshake', async () => {
    const since = fx.server.logLines().length;
    const out = join(fx.path, 'rejected');
    await mkdir(out);
    const r = await cliGetWith(
      fx.server.port,
      { ca: fx.pki.rogueCa, ...fx.pki.client },
      'hello.txt',
      join(out, 'x'),
    );
    assert.equal(r.code, 3, r.stderr);
    const l = await connectionLine(since, () => true);
    assert.equal(l['outcome'], 'handshake-failed');
    assert.match(String(l['reason']), /right after the handshake, without a request/);
    assert.equal(l['subject'], 'CN=client');
  });
});

describe('peers', () => {
  let fx: Fixture;

  before(async () => {
    fx = await makeFixture({ 'hello.txt': 'hello\n' });
  });
  after(async () => {
    await fx.remove();
  });

  // Issue 10: a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
  it('an IPv4 client of a dual-stack listener is logged as IPv4', async () => {
    const server = await startServer(['--pki', fx.pki.pki, '--root', fx.root], { host: '::' });
    try {
      const r = await rawExchange({
        port: server.port,
        ca: fx.pki.ca,
        client: fx.pki.client,
        send: 'GET hello.txt\n',
      });
      assert.match(r.received.toString(), /^OK 6 plain\n/);
      const l = await server.waitForLog((x) => x['msg'] === 'connection');
      assert.match(String(l['peer']), /^127\.0\.0\.1:\d+$/);
    } finally {
      await server.stop();
    }
  });
});
