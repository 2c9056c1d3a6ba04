/**
 * Broken and abusive clients in bulk: 500 connections dropped at random points (before and
 * during the handshake, mid-request, mid-body, garbage instead of TLS), after which the server
 * still serves a correct download and its open file descriptors return to where they were;
 * then the request parser fuzzed over real TLS sockets.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { useServedFixture } from '../helpers/fixture.js';
import { rawExchange } from '../helpers/raw.js';
import { holdTransfer, sha256File } from '../helpers/transfer.js';

const CONNECTIONS = 500;
const AT_ONCE = 50;
const FUZZ_RUNS = process.env['SLOW'] ? 2000 : 60;
const linux = process.platform === 'linux';

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A small deterministic generator, so a failure can be replayed from the printed seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 2 ** 32;
  };
}

describe('chaos', { skip: linux ? false : 'counts /proc/PID/fd' }, () => {
  const fx = useServedFixture({ 'hello.txt': 'hello\n', 'big.bin': randomBytes(8 * 1024 * 1024) }, [
    '--handshake-timeout',
    '3s',
    '--request-timeout',
    '500ms',
  ]);
  let ca: Buffer;
  let cert: Buffer;
  let key: Buffer;

  before(() => {
    ca = readFileSync(fx.pki.ca);
    cert = readFileSync(fx.pki.client.cert);
    key = readFileSync(fx.pki.client.key);
  });

  /** One connection that gives up at a random point; resolves when it is gone. */
  function breakOne(rand: () => number): Promise<void> {
    const kind = Math.floor(rand() * 5);
    const delay = Math.floor(rand() * 20);
    return new Promise((resolve) => {
      const done = (): void => {
        resolve();
      };
      if (kind === 0 || kind === 1) {
        // TCP only: close at once, or send garbage or a truncated TLS record first.
        const s = tcpConnect({ host: '127.0.0.1', port: fx.server.port });
        s.on('error', () => undefined);
        s.on('close', done);
        s.on('connect', () => {
          if (kind === 1)
            s.write(
              rand() < 0.5
                ? randomBytes(1 + Math.floor(rand() * 64))
                : Buffer.from([0x16, 3, 1, 2]),
            );
          setTimeout(() => s.destroy(), delay);
        });
        return;
      }
      const s = tlsConnect({
        host: '127.0.0.1',
        port: fx.server.port,
        ca,
        cert,
        key,
        servername: 'localhost',
      });
      s.on('error', () => undefined);
      s.on('close', done);
      if (kind === 2) {
        // Mid-handshake: give up after a few ms, whatever state the handshake is in.
        setTimeout(() => s.destroy(), delay);
        return;
      }
      s.on('secureConnect', () => {
        if (kind === 3) {
          s.write('GET hel'); // mid-request
          setTimeout(() => s.destroy(), delay);
          return;
        }
        s.write('GET big.bin\n'); // mid-body, after a random amount
        const stopAt = Math.floor(rand() * 4 * 1024 * 1024);
        let got = 0;
        s.on('data', (b: Buffer) => {
          got += b.length;
          if (got >= stopAt) s.destroy();
        });
      });
    });
  }

  it(`${CONNECTIONS} connections dropped at random points leave no trace`, async (t) => {
    const seed = Number(process.env['CHAOS_SEED'] ?? Date.now() % 2 ** 31);
    const rand = prng(seed);
    const digest = sha256File(join(fx.root, 'big.bin'));
    // Warm up (first handshake, first file open, lazily loaded modules), then measure.
    const warm = await holdTransfer({
      port: fx.server.port,
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'big.bin',
    });
    assert.equal((await warm.finish()).complete, true);
    await new Promise((r) => setTimeout(r, 300));
    const baseline = openFds(fx.server.pid);

    const started = Date.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < CONNECTIONS) {
        next++;
        await breakOne(rand);
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, worker));
    const chaosMs = Date.now() - started;

    let fds = openFds(fx.server.pid);
    const deadline = Date.now() + 10_000;
    while (fds > baseline && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      fds = openFds(fx.server.pid);
    }
    assert.ok(fds <= baseline, `seed ${seed}: ${fds} fds open, ${baseline} before`);

    const after = await holdTransfer({
      port: fx.server.port,
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'big.bin',
    });
    const result = await after.finish();
    assert.equal(result.complete, true, `seed ${seed}`);
    assert.equal(result.bodySha256, digest);
    const lines = fx.server.logLines();
    assert.equal(lines.filter((l) => l['outcome'] === 'internal').length, 0, `seed ${seed}`);
    assert.equal(fx.server.proc.exitCode, null);
    t.diagnostic(
      `chaos: seed ${seed}, ${CONNECTIONS} connections in ${chaosMs} ms, fds ${baseline} → ${fds}`,
    );
  });

  it('the request parser over real sockets: a stable code or a close, never a crash', async () => {
    const stable =
      /^(ERR (bad-request|not-found|forbidden) [\x20-\x7e]{1,512}\n|OK 6 plain\nhello\nSHA256 [0-9a-f]{64}\n|)$/;
    const names = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.constantFrom(
        'hello.txt',
        '../etc/passwd',
        '/etc/passwd',
        'a//b',
        '.',
        '..',
        'hello.txt\r',
        '\u0000',
        'x'.repeat(1100),
      ),
    );
    const lines = fc.oneof(
      { arbitrary: names.map((n) => Buffer.from(`GET ${n}\n`)), weight: 4 },
      {
        arbitrary: fc
          .uint8Array({ minLength: 1, maxLength: 300 })
          .map((b) => Buffer.concat([Buffer.from(b), Buffer.from('\n')])),
        weight: 3,
      },
      {
        arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
        weight: 1,
      },
      {
        arbitrary: fc
          .tuple(names, fc.uint8Array({ minLength: 1, maxLength: 20 }))
          .map(([n, b]) => Buffer.concat([Buffer.from(`GET ${n}\n`), Buffer.from(b)])),
        weight: 1,
      },
    );
    await fc.assert(
      fc.asyncProperty(lines, async (send) => {
        const r = await rawExchange({
          port: fx.server.port,
          ca: fx.pki.ca,
          client: fx.pki.client,
          send,
          timeoutMs: 5000,
        });
        assert.match(
          r.received.toString('latin1'),
          stable,
          JSON.stringify(send.toString('latin1')),
        );
      }),
      { numRuns: FUZZ_RUNS },
    );
    assert.equal(fx.server.proc.exitCode, null);
    assert.equal(fx.server.logLines().filter((l) => l['outcome'] === 'internal').length, 0);
  });
});
