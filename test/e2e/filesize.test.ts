/**
 * Files whose size lies: a /proc pseudo-file (stat size 0, content behind it) and a file that
 * grows while it is sent. The server must never end such a transfer with a trailer, so the
 * client never keeps a copy that differs from the file (docs/PROTOCOL.md §2.2).
 */
import { strict as assert } from 'node:assert';
import { appendFile, mkdir, readdir, stat } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import { CLI, run, runCli, startServer } from '../helpers/proc.js';

const EXIT_INTEGRITY = 5;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('files whose size lies', () => {
  let fx: Fixture;

  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await fx.remove();
  });

  for (const mode of ['plain', 'sstream-v1'] as const) {
    it(`a /proc pseudo-file (${mode}): no trailer, the client fails and keeps nothing`, async () => {
      const real = await run('sha256sum', ['/proc/sys/kernel/hostname']);
      assert.notEqual(real.stdout.split(' ')[0], EMPTY_SHA256, 'premise: the file is not empty');
      assert.equal((await stat('/proc/sys/kernel/hostname')).size, 0, 'premise: stat says 0');
      const server = await startServer([
        '--pki',
        fx.pki.pki,
        '--root',
        '/proc/sys/kernel',
        ...(mode === 'sstream-v1' ? ['--encrypt'] : []),
      ]);
      try {
        const out = join(fx.path, `proc-${mode}`);
        await mkdir(out);
        const r = await cliGet(server.port, fx.pki.pki, 'hostname', join(out, 'hostname'), [
          '--decrypt',
        ]);
        assert.equal(r.code, EXIT_INTEGRITY, r.stderr);
        assert.equal(r.stdout, '', 'no digest line');
        assert.match(r.stderr, /^securestream: error: the connection closed after/m);
        assert.deepEqual(await readdir(out), []);
        const line = await server.waitForLog((l) => l['msg'] === 'connection');
        assert.equal(line['request'], 'hostname');
        assert.equal(line['outcome'], 'file-changed');
        assert.match(String(line['reason']), /more bytes than its size of 0 said/);
      } finally {
        await server.stop();
      }
    });
  }

  it('a file that grows during the send: no trailer, the client fails and keeps nothing', async () => {
    const made = await runCli(['payload', join(fx.root, 'growing.bin'), '--size', '256MiB']);
    assert.equal(made.code, 0, made.stderr);
    const server = await startServer(['--pki', fx.pki.pki, '--root', fx.root]);
    try {
      const out = join(fx.path, 'grow');
      await mkdir(out);
      const child = spawn(
        process.execPath,
        [
          CLI,
          'get',
          'growing.bin',
          '--server',
          `localhost:${server.port}`,
          '--pki',
          fx.pki.pki,
          '--out',
          join(out, 'growing.bin'),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      const exited = new Promise<number | null>((r) =>
        child.on('close', (code) => {
          r(code);
        }),
      );
      // Once the copy is under way, the file grows by a line.
      const deadline = Date.now() + 20_000;
      for (;;) {
        assert.ok(Date.now() < deadline, `no growing .part file; client stderr: ${stderr}`);
        const part = (await readdir(out)).find((n) => n.endsWith('.part'));
        if (part && (await stat(join(out, part)).catch(() => undefined))?.size) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      await appendFile(join(fx.root, 'growing.bin'), 'one more line\n');
      assert.equal(await exited, EXIT_INTEGRITY, stderr);
      assert.equal(stdout, '');
      assert.deepEqual(await readdir(out), []);
      const line = await server.waitForLog((l) => l['msg'] === 'connection');
      assert.equal(line['outcome'], 'file-changed');
      assert.ok(Number(line['bytes']) <= 256 * 1024 * 1024, 'never more than announced');
    } finally {
      await server.stop();
    }
  });
});
