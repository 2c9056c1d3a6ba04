import { strict as assert } from 'node:assert';
import { connect, createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { InterruptedError, SecureStreamError } from '../src/errors.js';
import { WireError } from '../src/protocol.js';
import {
  BACKOFF_MAX_MS,
  connectionRefused,
  networkFailures,
  retry,
  transientFailure,
  type RetryPolicy,
} from '../src/retry.js';
import { explainClientError } from '../src/transport/explain.js';

/** A loopback port with nothing listening on it (bound, read, released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** One real TCP connect, failing as the client reports it (explainClientError). */
function dial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e) => {
      reject(explainClientError(e, { host: '127.0.0.1', port, handshakeDone: false }));
    });
  });
}

const SHORT_MS = 400;
const shortly: RetryPolicy = { ...connectionRefused, forMs: SHORT_MS };

describe('retry', () => {
  it('a refused connect is what --retry-connrefused retries; other failures are not', async () => {
    const port = await freePort();
    const refused = await dial(port).catch((e: unknown) => e);
    assert.ok(refused instanceof SecureStreamError && refused.code === 'connect-failed');
    assert.equal(connectionRefused.retryable(refused), true);
    assert.equal(connectionRefused.retryable(new SecureStreamError('tls-handshake', 'x')), false);
    assert.equal(connectionRefused.retryable(new Error('ECONNREFUSED')), false);
  });

  it('waits for a server that starts late, then succeeds', async () => {
    const port = await freePort();
    let attempts = 0;
    let server: Server | undefined;
    setTimeout(() => {
      server = createServer((c) => c.destroy()).listen(port, '127.0.0.1');
    }, 250);
    try {
      const got = await retry(() => (attempts++, dial(port)), connectionRefused);
      assert.equal(got, 'connected');
      assert.ok(attempts >= 2, `${attempts} attempts`);
    } finally {
      server?.close();
    }
  });

  it('without a policy, or for a failure it does not cover, one attempt only', async () => {
    const port = await freePort();
    let attempts = 0;
    await assert.rejects(
      retry(() => (attempts++, dial(port)), undefined),
      {
        code: 'connect-failed',
      },
    );
    assert.equal(attempts, 1);
    await assert.rejects(
      retry(
        () => (attempts++, Promise.reject(new SecureStreamError('tls-handshake', 'no'))),
        shortly,
      ),
      { code: 'tls-handshake' },
    );
    assert.equal(attempts, 2);
  });

  it('gives up when the policy time is over, with the last failure', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(
      retry(() => dial(port), shortly),
      { code: 'connect-failed' },
    );
    const took = Date.now() - started;
    assert.ok(took >= SHORT_MS, `${took} ms`);
    assert.ok(took < SHORT_MS + BACKOFF_MAX_MS, `${took} ms`);
  });

  it('an abort ends the wait at once with its reason', async () => {
    const port = await freePort();
    const ac = new AbortController();
    setTimeout(() => {
      ac.abort(new InterruptedError('SIGINT'));
    }, 100);
    const started = Date.now();
    await assert.rejects(
      retry(() => dial(port), connectionRefused, { signal: ac.signal }),
      { code: 'interrupted', exitCode: 130 },
    );
    assert.ok(Date.now() - started < 1000);
  });

  it('--retries N: transient failures only, at most N more attempts, waits doubling with jitter', async () => {
    assert.equal(transientFailure(new SecureStreamError('truncated', 'x')), true);
    assert.equal(transientFailure(new SecureStreamError('timeout', 'x')), true);
    assert.equal(transientFailure(new WireError('busy', 'x')), true);
    assert.equal(transientFailure(new WireError('file-changed', 'x', undefined, 'received')), true);
    for (const code of [
      'digest-mismatch',
      'tls-client-rejected',
      'disk-full',
      'protocol',
    ] as const) {
      assert.equal(transientFailure(new SecureStreamError(code, 'x')), false, code);
    }
    assert.equal(transientFailure(new WireError('not-found', 'x')), false);
    const waits: number[] = [];
    let attempts = 0;
    const policy = { ...networkFailures(3), startMs: 40, maxMs: 100 };
    await assert.rejects(
      retry(
        () => {
          attempts++;
          return Promise.reject(new SecureStreamError('truncated', 'cut'));
        },
        policy,
        { onRetry: (_e, ms) => waits.push(ms) },
      ),
      { code: 'truncated' },
    );
    assert.equal(attempts, 4);
    assert.equal(waits.length, 3);
    // Each wait is drawn from [w/2, w] for w = 40, 80, 100 (capped).
    [40, 80, 100].forEach((w, i) => {
      const got = waits[i] ?? -1;
      assert.ok(got >= w / 2 && got <= w, `wait ${i}: ${got} ms for ${w}`);
    });
  });
});
