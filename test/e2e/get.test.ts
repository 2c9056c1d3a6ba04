/**
 * `securestream get` as curl and wget users expect it: where `--out` puts the bytes (a file,
 * an existing folder, standard output), and what is refused before anything is dialled (a
 * name the server would refuse, a URL instead of HOST:PORT, an output folder that is missing).
 * IPv6 addresses appear bracketed in messages.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeServer } from '../helpers/fakeserver.js';
import { makeFixture, type Fixture } from '../helpers/fixture.js';
import { runCli, startServer, type RunResult, type ServerProcess } from '../helpers/proc.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const errorLines = (r: RunResult): string[] =>
  r.stderr.split('\n').filter((l) => l.startsWith('securestream: error: '));

/** A TCP listener that only counts the connections it accepts. */
async function countingListener(host = '127.0.0.1'): Promise<{
  server: Server;
  port: number;
  accepted: () => number;
}> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as { port: number }).port, accepted: () => n };
}

describe('get', () => {
  let dir: Fixture;
  let server: ServerProcess;
  let encrypting: ServerProcess;
  const data = randomBytes(300_000);

  before(async () => {
    dir = await makeFixture({ 'sub/data.bin': data, 'hello.txt': 'hello\n' });
    server = await startServer(['--pki', dir.pki.pki, '--root', dir.root]);
    encrypting = await startServer(['--pki', dir.pki.pki, '--root', dir.root, '--encrypt']);
  });
  after(async () => {
    await server.stop();
    await encrypting.stop();
    await dir.remove();
  });

  const get = (port: number, name: string, extra: string[], cwd?: string) =>
    runCli(
      ['get', name, '--server', `localhost:${port}`, '--pki', dir.pki.pki, '--quiet', ...extra],
      cwd ? { cwd } : {},
    );
  let outs = 0;
  const freshDir = async (): Promise<string> => {
    const d = join(dir.path, `out-${++outs}`);
    await mkdir(d);
    return d;
  };

  describe('--out', () => {
    it('an existing folder: stores FOLDER/basename(NAME)', async () => {
      const d = await freshDir();
      const r = await get(server.port, 'sub/data.bin', ['--out', d]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${sha256(data)}  ${join(d, 'data.bin')}\n`);
      assert.deepEqual(await readdir(d), ['data.bin']);
      assert.ok((await readFile(join(d, 'data.bin'))).equals(data));
    });

    it('an existing file: replaced by a rename (a new inode); a failed get leaves it as it was', async () => {
      const d = await freshDir();
      const target = join(d, 'existing.bin');
      await writeFile(target, 'old\n');
      const before = (await stat(target)).ino;
      const r = await get(server.port, 'sub/data.bin', ['--out', target]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await readFile(target)).equals(data));
      assert.notEqual((await stat(target)).ino, before);
      await writeFile(target, 'old\n');
      const failed = await get(server.port, 'sub/missing.bin', ['--out', target]);
      assert.equal(failed.code, 4, failed.stderr);
      assert.equal(await readFile(target, 'utf8'), 'old\n');
      assert.deepEqual(await readdir(d), ['existing.bin']);
    });

    it('an existing folder, encrypted response: FOLDER/basename(NAME).sst, as without --out', async () => {
      const d = await freshDir();
      const r = await get(encrypting.port, 'sub/data.bin', ['--out', `${d}/`]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await readdir(d), ['data.bin.sst']);
      const stored = await readFile(join(d, 'data.bin.sst'));
      assert.equal(r.stdout, `${sha256(stored)}  ${join(d, 'data.bin.sst')}\n`);
    });

    it('a folder that does not exist, written with a trailing slash: fails before connecting', async () => {
      const listener = await countingListener();
      try {
        const d = await freshDir();
        const r = await get(listener.port, 'hello.txt', ['--out', 'missing-dir/'], d);
        assert.equal(r.code, 1, r.stderr);
        assert.deepEqual(errorLines(r), [
          'securestream: error: output folder "missing-dir/" does not exist',
        ]);
        assert.equal(listener.accepted(), 0, 'nothing may be dialled');
        assert.deepEqual(await readdir(d), []);
      } finally {
        listener.server.close();
      }
    });

    it('-: the verified bytes on stdout, the sha256sum line (named -) on stderr', async () => {
      const d = await freshDir();
      const r = await runCli(
        [
          'get',
          'sub/data.bin',
          '--server',
          `localhost:${server.port}`,
          '--pki',
          dir.pki.pki,
          '--out',
          '-',
        ],
        { cwd: d },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdoutBytes.equals(data), 'stdout holds exactly the file');
      assert.match(r.stderr, new RegExp(`^${sha256(data)}  -$`, 'm'));
      assert.deepEqual(await readdir(d), [], 'no file named "-" or anything else');
    });

    it('- with --decrypt: the plaintext of an encrypted response on stdout', async () => {
      const r = await runCli([
        'get',
        'sub/data.bin',
        '--server',
        `localhost:${encrypting.port}`,
        '--pki',
        dir.pki.pki,
        '--out',
        '-',
        '--decrypt',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdoutBytes.equals(data));
      assert.match(r.stderr, new RegExp(`^${sha256(data)}  -$`, 'm'));
    });

    it('- with a digest that does not verify: exit 5 is the verdict', async () => {
      const body = Buffer.from('streamed before the verdict\n');
      const fake = await startFakeServer(dir.pki, {
        header: `OK ${body.length} plain\n`,
        body,
        trailer: `SHA256 ${'0'.repeat(64)}\n`,
      });
      try {
        const r = await runCli([
          'get',
          'x',
          '--server',
          `127.0.0.1:${fake.port}`,
          '--pki',
          dir.pki.pki,
          '--out',
          '-',
        ]);
        assert.equal(r.code, 5, r.stderr);
        // Bytes may have gone out before the trailer (as with curl -o - and age -d); only ever
        // bytes of the body, in order.
        assert.ok(body.subarray(0, r.stdoutBytes.length).equals(r.stdoutBytes));
        assert.match(
          errorLines(r)[0] ?? '',
          /received bytes have SHA-256 [0-9a-f]{64}, the server's trailer says 0{64}/,
        );
        assert.doesNotMatch(r.stderr, / {2}-$/m, 'no digest line for a failed transfer');
      } finally {
        await fake.close();
      }
    });
  });

  describe('a folder asked for as a file', () => {
    it('get sub: forbidden, and the hint suggests the pattern sub/**', async () => {
      const d = await freshDir();
      const r = await get(server.port, 'sub', ['--out', d]);
      assert.equal(r.code, 4, r.stderr);
      assert.deepEqual(errorLines(r), [
        'securestream: error: the server refused "sub": forbidden (access denied)',
      ]);
      assert.match(
        r.stderr,
        /^securestream: hint: .*for the files of a folder, use a pattern: 'sub\/\*\*'$/m,
      );
      assert.deepEqual(await readdir(d), []);
    });

    it('get sub/: a usage error before dialling, and the hint suggests sub/**', async () => {
      const listener = await countingListener();
      try {
        const d = await freshDir();
        const r = await get(listener.port, 'sub/', ['--out', d]);
        assert.equal(r.code, 2, r.stderr);
        assert.deepEqual(errorLines(r), [
          'securestream: error: invalid name "sub/": a name cannot end with /',
        ]);
        assert.match(
          r.stderr,
          /^securestream: hint: get fetches files; for the files of a folder, use a pattern: 'sub\/\*\*'$/m,
        );
        assert.equal(listener.accepted(), 0);
      } finally {
        listener.server.close();
      }
    });
  });

  describe('refused before dialling', () => {
    let listener: Awaited<ReturnType<typeof countingListener>>;
    before(async () => {
      listener = await countingListener();
    });
    after(() => {
      listener.server.close();
    });

    const names: [string, string, RegExp][] = [
      [
        'a name with a line feed',
        'a\nb',
        /^securestream: error: invalid name "a\\nb": name contains a control character$/,
      ],
      [
        'a name with ..',
        '../etc/passwd',
        /^securestream: error: invalid name "\.\.\/etc\/passwd": name has a "\.\." segment$/,
      ],
      [
        'an absolute name',
        '/etc/passwd',
        /^securestream: error: invalid name "\/etc\/passwd": name is absolute$/,
      ],
      ['an empty name', '', /^securestream: error: invalid name "": empty name$/],
      [
        'a name of 1100 bytes (echoed cut at 64 characters, with its length)',
        'n'.repeat(1100),
        /^securestream: error: invalid name "n{64}…" \(1100 bytes\): name longer than 1024 bytes$/,
      ],
    ];
    for (const [what, name, words] of names) {
      it(`${what}: exit 2, one error line, no connection`, async () => {
        const d = await freshDir();
        const r = await get(listener.port, name, [], d);
        assert.equal(r.code, 2, r.stderr);
        const lines = errorLines(r);
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0] ?? '', words);
        assert.match(r.stderr, /^securestream: hint: .*, at most 1024 bytes$/m);
        assert.equal(listener.accepted(), 0);
        assert.deepEqual(await readdir(d), []);
      });
    }

    it('--server with a URL scheme: exit 2 naming HOST:PORT, not "cannot resolve host"', async () => {
      const r = await runCli([
        'get',
        'x',
        '--server',
        `https://localhost:${listener.port}`,
        '--pki',
        dir.pki.pki,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.deepEqual(errorLines(r), [
        `securestream: error: invalid server address "https://localhost:${listener.port}": expected HOST:PORT, without a scheme`,
      ]);
      assert.match(
        r.stderr,
        /^securestream: hint: use HOST:PORT, e\.g\. localhost:8443 or \[::1\]:8443$/m,
      );
      assert.equal(listener.accepted(), 0);
    });
  });

  it('an IPv6 server address is bracketed in messages', async () => {
    // a port on ::1 with nothing listening
    const probe = await countingListener('::1');
    const port = probe.port;
    await new Promise<void>((r) =>
      probe.server.close(() => {
        r();
      }),
    );
    const r = await runCli(['get', 'x', '--server', `[::1]:${port}`, '--pki', dir.pki.pki]);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(errorLines(r), [`securestream: error: connection to [::1]:${port} refused`]);
  });
});
