/**
 * Outputs that exist and are not regular files (issue 10), as curl, wget, age and cp treat
 * them: a character device, a FIFO (through a symbolic link too) is written in place by every
 * command that writes a file, and is still what it was afterwards; verification still decides
 * the exit code; a socket is refused. The devices are made by the test in its own folder
 * (`mknod c 1 3`, the null device, needs root as CI is); the system's /dev/null is never used.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeServer } from '../helpers/fakeserver.js';
import { BODY, OK, OTHER_SHA, SHA } from '../helpers/faults.js';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import {
  CLI,
  run,
  runCli,
  startServer,
  type RunResult,
  type ServerProcess,
} from '../helpers/proc.js';
import { isRoot } from '../helpers/tmpfs.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Larger than a pipe's 64 KiB buffer: the FIFO's reader must drain it while it arrives. */
const CONTENT = randomBytes(3 * 1024 * 1024 + 5);

/** The null device's numbers (Linux: major 1, minor 3). */
const NULL_RDEV = (1 << 8) | 3;

describe(
  'outputs that exist and are not regular files',
  { skip: !isRoot && 'mknod needs root (CI is root)' },
  () => {
    let fx: Fixture;
    let server: ServerProcess;
    let encServer: ServerProcess;
    let dirs = 0;

    before(async () => {
      fx = await makeFixture({ 'file.bin': CONTENT });
      server = await startServer(['--pki', fx.pki.pki, '--root', fx.root]);
      encServer = await startServer(['--pki', fx.pki.pki, '--root', fx.root, '--encrypt']);
    });
    after(async () => {
      await server.stop();
      await encServer.stop();
      await fx.remove();
    });

    async function folder(): Promise<string> {
      const d = join(fx.path, `out-${++dirs}`);
      await mkdir(d);
      return d;
    }

    /** A null device `null` in a new folder. */
    async function nullDevice(): Promise<{ dir: string; path: string }> {
      const dir = await folder();
      const path = join(dir, 'null');
      execFileSync('mknod', [path, 'c', '1', '3']);
      return { dir, path };
    }

    /** A FIFO `fifo` in a new folder, and `cat fifo` reading it: the bytes it collects. */
    async function fifoWithReader(): Promise<{
      dir: string;
      path: string;
      read: Promise<RunResult>;
    }> {
      const dir = await folder();
      const path = join(dir, 'fifo');
      execFileSync('mkfifo', [path]);
      return { dir, path, read: run('cat', [path]) };
    }

    async function assertNullDevice(path: string): Promise<void> {
      const st = await lstat(path);
      assert.ok(st.isCharacterDevice(), `${path} is no longer a character device`);
      assert.equal(st.rdev, NULL_RDEV);
    }

    async function assertFifo(path: string): Promise<void> {
      assert.ok((await lstat(path)).isFIFO(), `${path} is no longer a FIFO`);
    }

    /** Only these names in the folder: no temporary or partial file left beside the output. */
    async function only(dir: string, names: string[]): Promise<void> {
      assert.deepEqual((await readdir(dir)).sort(), names.sort());
    }

    const get = (port: number, out: string, extra: string[] = []): Promise<RunResult> =>
      cliGet(port, fx.pki.pki, 'file.bin', out, ['--quiet', ...extra]);

    for (const protocol of ['1', 'http']) {
      it(`get --out CHAR-DEVICE (--protocol ${protocol}) writes into it and leaves it a device`, async () => {
        const { dir, path } = await nullDevice();
        const r = await get(server.port, path, ['--protocol', protocol]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `${sha(CONTENT)}  ${path}\n`);
        await assertNullDevice(path);
        await only(dir, ['null']);
      });

      it(`get --out FIFO (--protocol ${protocol}) streams every byte to its reader`, async () => {
        const { dir, path, read } = await fifoWithReader();
        const r = await get(server.port, path, ['--protocol', protocol]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `${sha(CONTENT)}  ${path}\n`);
        const got = await read;
        assert.equal(got.code, 0);
        assert.equal(sha(got.stdoutBytes), sha(CONTENT));
        await assertFifo(path);
        await only(dir, ['fifo']);
      });
    }

    it('a FIFO reader that comes after the request timeout: the output is opened before dialling', async () => {
      const slow = await startServer([
        '--pki',
        fx.pki.pki,
        '--root',
        fx.root,
        '--request-timeout',
        '1s',
      ]);
      try {
        for (const protocol of ['1', 'http']) {
          const dir = await folder();
          const path = join(dir, 'fifo');
          execFileSync('mkfifo', [path]);
          const getting = get(slow.port, path, ['--protocol', protocol]);
          await new Promise((r) => setTimeout(r, 2000));
          const read = run('cat', [path]);
          const r = await getting;
          assert.equal(r.code, 0, r.stderr);
          assert.equal(sha((await read).stdoutBytes), sha(CONTENT));
          await assertFifo(path);
        }
      } finally {
        await slow.stop();
      }
    });

    it('get --out LINK to a FIFO writes through the link; both stay what they were', async () => {
      const { dir, path, read } = await fifoWithReader();
      const link = join(dir, 'link');
      await symlink(path, link);
      const r = await get(server.port, link, ['--protocol', 'http', '--retries', '2']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${sha(CONTENT)}  ${link}\n`);
      assert.equal(sha((await read).stdoutBytes), sha(CONTENT));
      assert.ok((await lstat(link)).isSymbolicLink());
      await assertFifo(path);
      await only(dir, ['fifo', 'link']);
    });

    it('get --out FIFO with --keep-partial from an encrypted server, decrypting', async () => {
      const { dir, path, read } = await fifoWithReader();
      const r = await get(encServer.port, path, ['--decrypt', '--keep-partial']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${sha(CONTENT)}  ${path}\n`);
      assert.equal(sha((await read).stdoutBytes), sha(CONTENT));
      await assertFifo(path);
      await only(dir, ['fifo']);
    });

    it('a digest that does not match: exit 5, the reader got the bytes, the FIFO stays a FIFO', async () => {
      const fake = await startFakeServer(fx.pki, {
        header: OK,
        body: BODY,
        trailer: `SHA256 ${OTHER_SHA}\n`,
      });
      try {
        const { dir, path, read } = await fifoWithReader();
        const r = await get(fake.port, path);
        assert.equal(r.code, 5, r.stderr);
        assert.match(r.stderr, /^securestream: error: .*SHA-256/m);
        assert.equal(r.stdout, '', 'no digest line for a copy that failed verification');
        // Bytes that went out cannot be taken back (as with --out -): the reader has a prefix
        // of what was sent, and the exit code is the verdict.
        const got = (await read).stdoutBytes;
        assert.ok(got.equals(BODY.subarray(0, got.length)), 'the reader got a prefix of the body');
        await assertFifo(path);
        await only(dir, ['fifo']);
      } finally {
        await fake.close();
      }
    });

    it('a FIFO reader that goes away: exit 1 naming it, the FIFO stays', async () => {
      const dir = await folder();
      const path = join(dir, 'fifo');
      execFileSync('mkfifo', [path]);
      const read = run('head', ['-c', '1000', path]);
      const r = await get(server.port, path, ['--protocol', 'http']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^securestream: error: the reader of ".*fifo" went away/m);
      assert.equal(r.stdout, '');
      assert.ok((await read).stdoutBytes.equals(CONTENT.subarray(0, 1000)));
      await assertFifo(path);
      await only(dir, ['fifo']);
    });

    it('get --out SOCKET is refused before connecting (output-is-socket); the socket stays', async () => {
      const dir = await folder();
      const path = join(dir, 'sock');
      const unix: Server = createServer();
      await new Promise<void>((resolve) => unix.listen(path, resolve));
      try {
        const fake = await startFakeServer(fx.pki, {
          header: OK,
          body: BODY,
          trailer: `SHA256 ${SHA}\n`,
        });
        try {
          const r = await get(fake.port, path);
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stderr, /^securestream: error: output ".*sock" is a socket/m);
          assert.deepEqual(fake.requests(), [], 'nothing asked of the server');
        } finally {
          await fake.close();
        }
        assert.ok((await lstat(path)).isSocket());
        await only(dir, ['sock']);
      } finally {
        await new Promise<void>((resolve) => {
          unix.close(() => {
            resolve();
          });
        });
      }
    });

    it('SIGTERM while get waits for a FIFO reader: exit 143, the FIFO is not removed', async () => {
      const dir = await folder();
      const path = join(dir, 'fifo');
      execFileSync('mkfifo', [path]);
      const p = spawn(
        process.execPath,
        [
          CLI,
          'get',
          'file.bin',
          '--server',
          `127.0.0.1:${server.port}`,
          '--pki',
          fx.pki.pki,
          '--out',
          path,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const closed = new Promise<number | null>((resolve) => {
        p.on('close', (code) => {
          resolve(code);
        });
      });
      // The single get opens its output once connected; give it the time to block there.
      await new Promise((r) => setTimeout(r, 1500));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
      const code = await closed;
      clearTimeout(timer);
      assert.equal(code, 143);
      await assertFifo(path);
      await only(dir, ['fifo']);
    });

    it('payload FIFO and payload CHAR-DEVICE: the reader gets the bytes of the printed digest', async () => {
      const { dir, path, read } = await fifoWithReader();
      const size = 3 * 1024 * 1024 + 7; // several blocks: each must be out before it is refilled
      const r = await runCli(['payload', path, '--size', String(size)]);
      assert.equal(r.code, 0, r.stderr);
      const got = await read;
      assert.equal(got.stdoutBytes.length, size);
      assert.equal(r.stdout, `${sha(got.stdoutBytes)}  ${path}\n`);
      await assertFifo(path);
      await only(dir, ['fifo']);
      const dev = await nullDevice();
      const d = await runCli(['payload', dev.path, '--size', '100KiB']);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stdout, /^[0-9a-f]{64} {2}.*null\n$/);
      await assertNullDevice(dev.path);
      await only(dev.dir, ['null']);
    });

    it('encrypt --out FIFO, decrypt --out CHAR-DEVICE and FIFO, --expect-sha256 refusing: exit 5', async () => {
      const plain = join(fx.path, 'plain.bin');
      await writeFile(plain, CONTENT);
      const enc = await fifoWithReader();
      const e = await runCli(['encrypt', plain, '--to', fx.pki.client.cert, '--out', enc.path]);
      assert.equal(e.code, 0, e.stderr);
      const sealed = (await enc.read).stdoutBytes;
      assert.equal(e.stdout, `${sha(sealed)}  ${enc.path}\n`);
      await assertFifo(enc.path);
      await only(enc.dir, ['fifo']);
      const sst = join(fx.path, 'sealed.sst');
      await writeFile(sst, sealed);

      const key = ['--key', fx.pki.client.key];
      const dev = await nullDevice();
      const d = await runCli(['decrypt', sst, ...key, '--out', dev.path]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout, `${sha(CONTENT)}  ${dev.path}\n`);
      await assertNullDevice(dev.path);
      await only(dev.dir, ['null']);

      const dec = await fifoWithReader();
      const wrong = '0'.repeat(64);
      const f = await runCli(['decrypt', sst, ...key, '--out', dec.path, '--expect-sha256', wrong]);
      assert.equal(f.code, 5, f.stderr);
      assert.match(
        f.stderr,
        /^securestream: error: plaintext SHA-256 [0-9a-f]{64} does not match/m,
      );
      assert.match(f.stderr, /discard what the FIFO received/);
      assert.doesNotMatch(f.stderr, /no output was written/);
      assert.equal(sha((await dec.read).stdoutBytes), sha(CONTENT));
      await assertFifo(dec.path);
      await only(dec.dir, ['fifo']);
      assert.ok((await stat(sst)).isFile());
    });
  },
);
