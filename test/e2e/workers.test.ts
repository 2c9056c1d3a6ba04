/**
 * `serve --workers N`: one port, N processes, one banner; reload and graceful stop reach every
 * worker, and no process is left behind.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import type { TestPki } from '../helpers/pki.js';
import { runCli, startServer } from '../helpers/proc.js';

describe('serve --workers', () => {
  let dir: Fixture;
  let pki: TestPki;
  let root: string;
  const big = randomBytes(24 * 1024 * 1024);

  before(async () => {
    dir = await makeFixture({ 'big.bin': big });
    ({ pki, root } = dir);
  });
  after(async () => {
    await dir.remove();
  });

  const childPids = async (pid: number): Promise<number[]> => {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    return text.split(/\s+/).filter(Boolean).map(Number);
  };

  it('spreads connections over the workers, reloads each, stops all gracefully', async () => {
    const server = await startServer(['--pki', pki.pki, '--root', root, '--workers', '2']);
    const workers = await childPids(server.pid);
    try {
      assert.match(server.banner, /; 2 workers\)$/);
      assert.equal(workers.length, 2);
      const want = createHash('sha256').update(big).digest('hex');
      const outs = [0, 1, 2, 3].map((i) => join(dir.path, `o${i}`));
      const results = await Promise.all(
        outs.map((o) => cliGet(server.port, pki.pki, 'big.bin', o)),
      );
      for (const [i, r] of results.entries())
        assert.equal(r.stdout, `${want}  ${outs[i] ?? ''}\n`, r.stderr);
      const served = server
        .logLines()
        .filter((l) => l['msg'] === 'connection' && l['outcome'] === 'ok');
      assert.equal(new Set(served.map((l) => l['worker'])).size, 2, 'both workers served');
      // Issue 10: connection ids are unique across the workers: the worker's id comes first.
      for (const l of served)
        assert.match(String(l['conn']), new RegExp(`^${String(l['worker'])}-\\d+$`));
      assert.equal(new Set(served.map((l) => l['conn'])).size, served.length, 'ids unique');

      process.kill(server.pid, 'SIGHUP');
      await server.waitForLog(
        () => server.logLines().filter((l) => l['msg'] === 'reloaded').length === 2,
      );

      // A transfer in flight when SIGTERM arrives still completes.
      const inflight = cliGet(server.port, pki.pki, 'big.bin', join(dir.path, 'late'));
      for (let i = 0; i < 500; i++) {
        const part = (await readdir(dir.path)).find((n) => n.startsWith('.late.'));
        if (part && (await stat(join(dir.path, part))).size > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const code = await server.stop('SIGTERM');
      assert.equal(code, 0);
      const late = await inflight;
      assert.equal(late.code, 0, late.stderr);
      assert.equal(late.stdout.split(' ')[0], want);
    } finally {
      await server.stop('SIGKILL');
      for (const pid of workers) {
        if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
      }
    }
    for (const pid of workers) assert.ok(!existsSync(`/proc/${pid}`), `worker ${pid} left behind`);
  });

  it('rejects a bad --workers value', async () => {
    const r = await runCli(['serve', '--workers', '0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /securestream: error: invalid --workers "0"/);
  });
});
