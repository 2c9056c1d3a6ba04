/**
 * `securestream get` under faults, as real processes: a scripted fake server for every way a
 * response can go wrong on the wire, the real server killed mid-stream, and output folders
 * that are missing, read-only or full. PROTOCOL-v1: anything short of a complete transfer is
 * a failed transfer and "the client keeps nothing" — so every case lists the output folder.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startFakeServer } from '../helpers/fakeserver.js';
import { BODY, CUT, FAULTS, OK, OTHER_SHA, SHA, TRAILER } from '../helpers/faults.js';
import { isRoot, mountTmpfs, umount } from '../helpers/tmpfs.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { CLI, runCli, startServer, tempDir, type RunResult } from '../helpers/proc.js';

const EXIT_FAILURE = 1;
const EXIT_TLS = 3;
const EXIT_REFUSED = 4;
const EXIT_INTEGRITY = 5;
const MiB = 1024 * 1024;

let work: { path: string; remove: () => Promise<void> };
let pki: TestPki;
let dirs = 0;

before(async () => {
  work = await tempDir('securestream-client-faults-');
  pki = await makeTestPki(join(work.path, 'fixtures'));
});
after(async () => {
  await work.remove();
});

/** A fresh, empty output folder. */
async function outDir(): Promise<string> {
  const d = join(work.path, `out-${++dirs}`);
  await mkdir(d);
  return d;
}

function get(port: number, out: string, name = 'file.bin'): Promise<RunResult> {
  return runCli([
    'get',
    name,
    '--server',
    `127.0.0.1:${port}`,
    '--pki',
    pki.pki,
    '--out',
    out,
    '--quiet',
  ]);
}

/** Exit code, an `error:` line with the expected words, and exactly `left` in the folder. */
async function assertFailedClean(
  r: RunResult,
  want: { code: number; words: RegExp },
  dir: string,
  left: string[] = [],
): Promise<void> {
  assert.equal(r.code, want.code, `exit code; stderr: ${r.stderr}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith('securestream: error: '));
  assert.ok(line, `no error line on stderr: ${r.stderr}`);
  assert.match(line, want.words);
  assert.equal(r.stdout, '', 'nothing on stdout: no digest line for a failed download');
  assert.deepEqual((await readdir(dir)).sort(), left, 'output folder after the failure');
}

/** A loopback port with nothing listening: a client that dials it fails with exit 3. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => {
    s.close(() => {
      r();
    });
  });
  return port;
}

// Independent cases (own fake server, own folder): a few at once keeps the file under a minute.
void describe('client-rejects-bad-responses (fake server)', { concurrency: 3 }, () => {
  void test('client-accepts-a-correct-response-from-the-fake-server (control)', async () => {
    const fake = await startFakeServer(pki, { header: OK, body: BODY, trailer: TRAILER });
    try {
      const dir = await outDir();
      const r = await get(fake.port, join(dir, 'file.bin'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${SHA}  ${join(dir, 'file.bin')}\n`);
      assert.deepEqual(await readdir(dir), ['file.bin']);
      assert.ok(BODY.equals(await readFile(join(dir, 'file.bin'))));
      assert.deepEqual(fake.requests(), ['GET file.bin\n']);
    } finally {
      await fake.close();
    }
  });

  for (const c of FAULTS) {
    void test(`client-fails-clean: ${c.name}`, async () => {
      const fake = await startFakeServer(pki, c.script);
      try {
        const dir = await outDir();
        const r = await get(fake.port, join(dir, 'file.bin'));
        await assertFailedClean(r, { code: EXIT_INTEGRITY, words: c.words }, dir);
      } finally {
        await fake.close();
      }
    });
  }

  // Issue 11: a refusal is exit 4 whatever its wire code, also one this client does not know
  // (a newer server's); the code and message are shown as sent.
  void test('refusal-with-an-unknown-wire-code-exits-4', async () => {
    const fake = await startFakeServer(pki, { header: 'ERR quota over quota\n' });
    try {
      const dir = await outDir();
      const r = await get(fake.port, join(dir, 'file.bin'));
      await assertFailedClean(
        r,
        {
          code: EXIT_REFUSED,
          words: /^securestream: error: the server refused "file\.bin": quota \(over quota\)$/,
        },
        dir,
      );
    } finally {
      await fake.close();
    }
  });

  void test('existing-file-stays-byte-identical-after-a-failed-download', async () => {
    const old = randomBytes(5000);
    for (const script of [
      { header: OK, body: BODY, trailer: `SHA256 ${OTHER_SHA}\n` },
      { ...CUT, end: 'reset' as const },
      { header: OK, body: BODY },
      { header: 'garbage\n', body: BODY },
    ]) {
      const fake = await startFakeServer(pki, script);
      try {
        const dir = await outDir();
        const out = join(dir, 'file.bin');
        await writeFile(out, old);
        const was = await stat(out);
        const r = await get(fake.port, out);
        // any failure will do here (a reset may exit 3, see below): the old file is the point
        await assertFailedClean(r, { code: r.code || -1, words: /./ }, dir, ['file.bin']);
        assert.ok(old.equals(await readFile(out)), 'old file bytes changed');
        const now = await stat(out);
        assert.equal(now.ino, was.ino, 'old file was replaced');
        assert.equal(now.mtimeMs, was.mtimeMs, 'old file was written to');
      } finally {
        await fake.close();
      }
    }
  });

  // A securestream server always answers OK or ERR; hanging up with no byte after the
  // handshake is how a TLS 1.3 server rejects a client certificate, so the client says so.
  void test('server-closes-before-answering-is-reported-as-a-refused-certificate', async () => {
    const fake = await startFakeServer(pki, { header: '', closeAfterBodyBytes: 0 });
    try {
      const dir = await outDir();
      const r = await get(fake.port, join(dir, 'file.bin'));
      const words = /closed the connection after receiving our certificate: it did not accept it/;
      await assertFailedClean(r, { code: EXIT_TLS, words }, dir);
    } finally {
      await fake.close();
    }
  });

  // A TCP reset after OK and 40000 body bytes is a truncated transfer (exit 5), never a
  // refused certificate: the server answered, so it had accepted us.
  void test('server-resets-mid-body-is-reported-as-truncated', async () => {
    const fake = await startFakeServer(pki, { ...CUT, end: 'reset' });
    try {
      const dir = await outDir();
      const r = await get(fake.port, join(dir, 'file.bin'));
      assert.deepEqual(await readdir(dir), [], 'output folder after the reset');
      const words = /connection (closed|broke) after \d+ of 100000 bytes/;
      await assertFailedClean(r, { code: EXIT_INTEGRITY, words }, dir);
    } finally {
      await fake.close();
    }
  });

  // node:tls does not tell close_notify from a bare TCP FIN (docs/PROTOCOL.md §3), so a
  // complete response whose trailer verifies is kept either way: length and digest already
  // rule out truncation. This pins that documented behaviour.
  void test('client-keeps-a-verified-response-ended-by-a-bare-fin', async () => {
    const fake = await startFakeServer(pki, {
      header: OK,
      body: BODY,
      trailer: TRAILER,
      end: 'fin',
    });
    try {
      const dir = await outDir();
      const r = await get(fake.port, join(dir, 'file.bin'));
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await readFile(join(dir, 'file.bin'))).equals(BODY));
    } finally {
      await fake.close();
    }
  });
});

void describe('client-against-the-real-server', () => {
  let root: string;
  let bigSize: number;

  before(async () => {
    root = join(work.path, 'root');
    await mkdir(root);
    bigSize = 256 * MiB;
    const made = await runCli(['payload', join(root, 'big.bin'), '--size', '256MiB']);
    assert.equal(made.code, 0, made.stderr);
    const ten = await runCli(['payload', join(root, 'ten.bin'), '--size', '10MiB']);
    assert.equal(ten.code, 0, ten.stderr);
  });

  void test('server-killed-mid-stream-leaves-nothing', async () => {
    const server = await startServer(['--pki', pki.pki, '--root', root]);
    const dir = await outDir();
    const child = spawn(
      process.execPath,
      [CLI, 'get', 'big.bin', '--server', `127.0.0.1:${server.port}`, '--pki', pki.pki],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => {
      child.on('close', (code) => {
        r(code);
      });
    });
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 45_000);
    try {
      // Wait for the temporary file to appear and grow past 4 MiB, then kill the server.
      let seen = -1;
      let grown = 0;
      const deadline = Date.now() + 20_000;
      while (grown < 4 * MiB || seen < 0 || grown <= seen) {
        assert.ok(Date.now() < deadline, `no growing .part file; client stderr: ${stderr}`);
        assert.equal(child.exitCode, null, `client ended before the kill: ${stderr}`);
        const part = (await readdir(dir)).find((n) => /^\.big\.bin\.[0-9a-f]+\.part$/.test(n));
        if (part) {
          const size = (await stat(join(dir, part)).catch(() => ({ size: -1 }))).size;
          if (size > 0 && grown === 0) seen = size;
          grown = size;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      process.kill(server.pid, 'SIGKILL');
      assert.ok(grown < bigSize, 'the transfer finished before the kill: test inconclusive');
      const code = await exited;
      assert.notEqual(code, 0, `client must fail; stderr: ${stderr}`);
      assert.equal(code, EXIT_INTEGRITY, stderr);
      assert.match(
        stderr,
        new RegExp(
          `^securestream: error: the connection closed after \\d+ of ${bigSize} bytes`,
          'm',
        ),
      );
      assert.equal(stdout, '');
      assert.deepEqual(await readdir(dir), [], 'output folder after the kill');
    } finally {
      clearTimeout(watchdog);
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      await server.stop('SIGKILL');
    }
  });

  void test('output-folder-missing-fails-before-connecting', async () => {
    const dir = await outDir();
    const out = join(dir, 'no-such-folder', 'file.bin');
    // Nothing listens on the port: dialling would exit 3 with other words.
    const r = await get(await deadPort(), out);
    await assertFailedClean(
      r,
      {
        code: EXIT_FAILURE,
        words: /output folder of ".*no-such-folder\/file\.bin" does not exist/,
      },
      dir,
    );
  });

  void test('output-folder-read-only-fails-before-connecting', async (t: TestContext) => {
    const dir = await outDir();
    const ro = join(dir, 'ro');
    await mkdir(ro);
    if (isRoot) {
      // root ignores mode bits; a read-only file system stops root too
      const m = mountTmpfs(ro, 'size=1m,ro');
      if (!m.ok) {
        t.skip(`running as root and cannot mount a read-only tmpfs: ${m.error}`);
        return;
      }
    } else {
      await chmod(ro, 0o555);
    }
    try {
      const r = await get(await deadPort(), join(ro, 'file.bin'));
      await assertFailedClean(
        r,
        { code: EXIT_FAILURE, words: /cannot write ".*\/ro\/file\.bin": .*read-only/ },
        ro,
      );
    } finally {
      if (isRoot) umount(ro);
    }
  });

  void test('disk-full-fails-and-leaves-nothing', async (t: TestContext) => {
    if (!isRoot) {
      t.skip('needs root to mount a 2 MiB tmpfs (a full disk cannot be simulated otherwise)');
      return;
    }
    const server = await startServer(['--pki', pki.pki, '--root', root]);
    const dir = await outDir();
    const small = join(dir, 'small');
    await mkdir(small);
    const m = mountTmpfs(small, 'size=2m');
    if (!m.ok) {
      await server.stop();
      t.skip(`running as root but cannot mount a tmpfs: ${m.error}`);
      return;
    }
    try {
      const r = await get(server.port, join(small, 'ten.bin'), 'ten.bin');
      await assertFailedClean(
        r,
        { code: EXIT_FAILURE, words: /no space left on the device while writing ".*ten\.bin"/ },
        small,
      );
      const logged = await server.waitForLog((l) => l['msg'] === 'connection');
      assert.equal(logged['request'], 'ten.bin');
    } finally {
      umount(small);
      await server.stop();
    }
  });
});
