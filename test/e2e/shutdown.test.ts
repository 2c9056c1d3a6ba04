/**
 * SIGTERM/SIGINT: stop accepting, let transfers in flight finish within the grace period, close
 * the rest when it ends, exit 0; a second signal closes everything at once.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, type Fixture } from '../helpers/fixture.js';
import type { TestPki } from '../helpers/pki.js';
import { startServer, type ServerProcess } from '../helpers/proc.js';
import { holdTransfer, sha256File } from '../helpers/transfer.js';

/** Resolves with the error code of a TCP connect (ECONNREFUSED once the listener is gone). */
function tcpAttempt(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: Error & { code?: string }) => {
      resolve(e.code ?? e.message);
    });
  });
}

function exited(server: ServerProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (server.proc.exitCode !== null) {
      resolve({ code: server.proc.exitCode, ms: 0 });
      return;
    }
    server.proc.once('exit', (code) => {
      resolve({ code, ms: Date.now() - started });
    });
  });
}

/** The one connection line of a stopped server: cut by the shutdown, logged before "stopped". */
function cutLine(server: ServerProcess): Record<string, unknown> {
  const lines = server.logLines();
  const conn = lines.findIndex((x) => x['msg'] === 'connection');
  assert.ok(conn >= 0 && conn < lines.findIndex((x) => x['msg'] === 'stopped'), 'order');
  const line = lines[conn] ?? {};
  assert.equal(line['outcome'], 'shutdown');
  return line;
}

describe('shutdown', () => {
  let dir: Fixture;
  let pki: TestPki;
  let root: string;
  let digest: string;
  const started: ServerProcess[] = [];

  before(async () => {
    dir = await makeFixture({ 'big.bin': randomBytes(24 * 1024 * 1024) });
    ({ pki, root } = dir);
    digest = sha256File(join(root, 'big.bin'));
  });
  after(async () => {
    for (const s of started) await s.stop('SIGKILL');
    await dir.remove();
  });

  async function serve(grace: string): Promise<ServerProcess> {
    const s = await startServer(['--pki', pki.pki, '--root', root, '--grace', grace]);
    started.push(s);
    return s;
  }
  const hold = (s: ServerProcess) =>
    holdTransfer({ port: s.port, ca: pki.ca, client: pki.client, name: 'big.bin' });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: refuses new connections, finishes the transfer in flight, exits 0`, async () => {
      const server = await serve('20s');
      const held = await hold(server);
      const exit = exited(server);
      process.kill(server.pid, signal);
      const l = await server.waitForLog((x) => x['msg'] === 'shutting down');
      assert.equal(l['signal'], signal);
      assert.equal(l['connections'], 1);
      assert.equal(await tcpAttempt(server.port), 'ECONNREFUSED');
      assert.equal(server.proc.exitCode, null, 'still running for the transfer in flight');

      const t = await held.finish();
      assert.equal(t.complete, true);
      assert.equal(t.bodySha256, digest);
      const { code } = await exit;
      assert.equal(code, 0);
      const stopped = await server.waitForLog((x) => x['msg'] === 'stopped');
      assert.equal(stopped['forced'], 0);
      const conn = await server.waitForLog((x) => x['msg'] === 'connection');
      assert.equal(conn['outcome'], 'ok');
    });
  }

  it('closes what is left when the grace period ends, and still exits 0', async () => {
    const server = await serve('1s');
    const held = await hold(server);
    const exit = exited(server);
    process.kill(server.pid, 'SIGTERM');
    const { code, ms } = await exit;
    assert.equal(code, 0);
    assert.ok(ms >= 900 && ms < 5000, `exited after ${ms} ms`);
    const stopped = await server.waitForLog((x) => x['msg'] === 'stopped');
    assert.equal(stopped['forced'], 1);
    const t = await held.finish();
    assert.equal(t.complete, false, 'the client must not see a complete transfer');
    // Issue 10: the cut transfer is logged as cut by the shutdown, before "stopped".
    assert.equal(cutLine(server)['reason'], 'the grace period of 1000 ms ended');
  });

  it('a second signal closes every connection at once', async () => {
    const server = await serve('60s');
    const held = await hold(server);
    const exit = exited(server);
    process.kill(server.pid, 'SIGTERM');
    await server.waitForLog((x) => x['msg'] === 'shutting down');
    const t0 = Date.now();
    process.kill(server.pid, 'SIGTERM');
    const { code } = await exit;
    const ms = Date.now() - t0;
    assert.equal(code, 0);
    assert.ok(ms < 3000, `exited ${ms} ms after the second signal`);
    const second = await server.waitForLog(
      (x) => x['msg'] === 'second signal: closing every connection now',
    );
    assert.equal((await held.finish()).complete, false);
    // Issue 10: how many were cut, each logged as cut by the shutdown, all before "stopped".
    assert.equal(second['cut'], 1);
    const line = cutLine(server);
    assert.equal(line['reason'], 'a second signal closed every connection');
    assert.equal(line['request'], 'big.bin');
  });

  it('a signal right after the listening line is handled, not fatal', async () => {
    const server = await serve('5s');
    const exit = exited(server);
    process.kill(server.pid, 'SIGHUP');
    process.kill(server.pid, 'SIGTERM');
    assert.equal((await exit).code, 0);
  });
});
