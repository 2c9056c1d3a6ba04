/**
 * Verified resume against real servers killed by PID: a download cut at about half of a 256 MiB
 * file keeps its partial (mode 0600) only when asked, and `--continue` fetches only the rest
 * (counted in the server's log) and checks the whole file's SHA-256; a file changed on the
 * server in between, or a partial changed here, starts over and never splices; `--retries`
 * rides out a server restart, also one during a resumed transfer; Ctrl-C keeps the partial with `--keep-partial`; an encrypted
 * response is never resumed.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readFile, readdir, stat, writeFile, open } from 'node:fs/promises';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, outFolders, type Fixture } from '../helpers/fixture.js';
import { CLI, runCli, startServer, type RunResult, type ServerProcess } from '../helpers/proc.js';

const BIG = 256 * 1024 * 1024;
const HALF = BIG / 2;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(b as Buffer);
  return h.digest('hex');
}

/**
 * Bytes written so far to the file of a download in `dir` (0 while there is none): its
 * temporary `.part` file, or the file named `name`.
 */
async function partBytes(dir: string, name?: string): Promise<number> {
  const part = name ?? (await readdir(dir)).find((f) => f.endsWith('.part'));
  return part ? (await stat(join(dir, part)).catch(() => ({ size: 0 }))).size : 0;
}

/** The record `get --keep-partial` left beside big.bin in `dir`: the bytes it kept. */
async function partialRecord(dir: string): Promise<{ bytes: number }> {
  return JSON.parse(await readFile(join(dir, '.big.bin.partial.json'), 'utf8')) as {
    bytes: number;
  };
}

/** Resolves once that file of a download in `dir` holds at least `bytes` bytes. */
async function waitForPart(
  dir: string,
  bytes: number,
  name?: string,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await partBytes(dir, name);
    if (n >= bytes) return n;
    if (Date.now() > deadline) throw new Error(`no ${bytes}-byte partial in ${dir} (${n})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `get` started in the background, for killing servers (or itself) under it. */
function spawnGet(args: string[], cwd: string): { pid: number; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [CLI, 'get', ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr, stdoutBytes: Buffer.from(stdout) });
    });
  });
  return { pid: child.pid ?? -1, done };
}

describe('resume', () => {
  let dir: Fixture;
  let bigSha: string;
  let freshDir: () => Promise<string>;

  before(async () => {
    dir = await makeFixture({});
    freshDir = outFolders(dir);
    const r = await runCli(['payload', join(dir.root, 'big.bin'), '--size', String(BIG)], {
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    bigSha = r.stdout.slice(0, 64);
  });
  after(async () => {
    await dir.remove();
  });

  const serve = (extra: string[] = []): Promise<ServerProcess> =>
    startServer(['--pki', dir.pki.pki, '--root', dir.root, ...extra]);
  const getArgs = (port: number, extra: string[]): string[] => [
    'big.bin',
    '--server',
    `localhost:${port}`,
    '--pki',
    dir.pki.pki,
    '--quiet',
    ...extra,
  ];

  /**
   * Starts a download of big.bin and kills the server by PID once about half has arrived.
   * Returns the failed client's result and the output folder.
   */
  async function cutAtHalf(
    server: ServerProcess,
    extra: string[],
  ): Promise<{ r: RunResult; out: string }> {
    const out = await freshDir();
    const client = spawnGet(getArgs(server.port, extra), out);
    await waitForPart(out, HALF);
    await server.stop('SIGKILL');
    return { r: await client.done, out };
  }

  /** `get big.bin --continue` in `out` against `server`. */
  const resume = (server: ServerProcess, out: string): Promise<RunResult> =>
    runCli(['get', ...getArgs(server.port, ['--continue'])], { cwd: out, timeoutMs: 120_000 });

  /** Kills `server` by PID and starts another on its port, as a restart under a download. */
  async function restart(server: ServerProcess): Promise<ServerProcess> {
    await server.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    return serve(['--port', String(server.port)]);
  }

  /** A `get --retries` that rode out a restart: exit 0, said so, and stored big.bin intact. */
  async function assertResumed(r: RunResult, out: string): Promise<void> {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming at byte \d+ in \d+ ms/);
    assert.equal(r.stdout, `${bigSha}  big.bin\n`);
    assert.equal(await sha256File(join(out, 'big.bin')), bigSha);
  }

  /** The request lines a server logged for big.bin. */
  const requests = (s: ServerProcess): Record<string, unknown>[] =>
    s.logLines().filter((l) => l['msg'] === 'request' && l['target'] === '/big.bin');

  it('without --keep-partial nothing is kept; with it, the partial (0600) and its record', async () => {
    const a = await serve();
    const plain = await cutAtHalf(a, []);
    assert.equal(plain.r.code, 5, plain.r.stderr);
    assert.match(
      plain.r.stderr,
      /^securestream: error: the connection closed after \d+ of 268435456 bytes/m,
    );
    assert.deepEqual(await readdir(plain.out), []);

    const b = await serve();
    const kept = await cutAtHalf(b, ['--keep-partial']);
    assert.equal(kept.r.code, 5, kept.r.stderr);
    const names = (await readdir(kept.out)).sort();
    assert.deepEqual(names, ['.big.bin.partial', '.big.bin.partial.json']);
    for (const n of names) assert.equal((await stat(join(kept.out, n))).mode & 0o777, 0o600, n);
    const record = JSON.parse(
      await readFile(join(kept.out, '.big.bin.partial.json'), 'utf8'),
    ) as Record<string, unknown>;
    assert.equal(record['etag'], `"sha256-${bigSha}"`);
    assert.equal(record['length'], BIG);
    assert.ok(
      Number(record['bytes']) >= HALF && Number(record['bytes']) < BIG,
      String(record['bytes']),
    );
    assert.match(
      kept.r.stderr,
      /kept \d+ of 268435456 bytes in \.big\.bin\.partial; run again with --continue/,
    );
  });

  it('server killed at about half: --continue fetches only the rest (206, counted on the server) and verifies the whole', async () => {
    const first = await serve();
    const { out } = await cutAtHalf(first, ['--keep-partial']);
    const record = await partialRecord(out);
    const second = await serve();
    try {
      const r = await resume(second, out);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${bigSha}  big.bin\n`);
      assert.equal(await sha256File(join(out, 'big.bin')), bigSha);
      assert.deepEqual(await readdir(out), ['big.bin']);
      const [req, ...more] = requests(second);
      assert.ok(req && more.length === 0);
      assert.equal(req['status'], 206);
      assert.equal(req['range'], `bytes ${record.bytes}-${BIG - 1}/${BIG}`);
      assert.equal(req['bytes'], BIG - record.bytes, 'only the rest was sent');
    } finally {
      await second.stop();
    }
  });

  it('cut again during the resumed transfer: --retries hashes the held bytes from disk once more and completes', async () => {
    const first = await serve();
    const { out } = await cutAtHalf(first, ['--keep-partial']);
    const record = await partialRecord(out);
    const second = await serve();
    // The resumed run writes after the kept bytes in the partial itself, while a worker
    // thread hashes them from disk; the server goes away in the middle of that.
    const client = spawnGet(getArgs(second.port, ['--continue', '--retries', '8']), out);
    const grown = record.bytes + (BIG - record.bytes) / 3;
    await waitForPart(out, grown, '.big.bin.partial');
    const third = await restart(second);
    try {
      await assertResumed(await client.done, out);
      assert.deepEqual(await readdir(out), ['big.bin']);
      const [req, ...more] = requests(third);
      assert.ok(req && more.length === 0);
      assert.equal(req['status'], 206);
      const from = Number(/^bytes (\d+)-/.exec(String(req['range']))?.[1]);
      assert.ok(from >= grown, `the third server was asked from byte ${from}, past ${grown}`);
      assert.equal(req['bytes'], BIG - from);
    } finally {
      await third.stop();
    }
  });

  it('the file changed on the server in between: the server says so (200), the download starts over and never splices', async () => {
    const first = await serve();
    const { out } = await cutAtHalf(first, ['--keep-partial']);
    const changed = join(dir.root, 'big.bin');
    // One byte in the second half changes: the kept first half is still the same bytes.
    const h = await open(changed, 'r+');
    await h.write(Buffer.from([0x5a]), 0, 1, BIG - 10);
    await h.close();
    const newSha = await sha256File(changed);
    const second = await serve();
    try {
      const r = await resume(second, out);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /the file changed on the server since the first \d+ bytes were stored; starting over/,
      );
      assert.equal(r.stdout, `${newSha}  big.bin\n`);
      assert.equal(await sha256File(join(out, 'big.bin')), newSha);
      const [req] = requests(second);
      assert.ok(req);
      assert.equal(req['status'], 200);
      assert.equal(req['bytes'], BIG);
    } finally {
      await second.stop();
      bigSha = newSha;
    }
  });

  it('a partial changed here (one byte flipped): detected by the digest, started over, the stored file is right', async () => {
    const first = await serve();
    const { out } = await cutAtHalf(first, ['--keep-partial']);
    const h = await open(join(out, '.big.bin.partial'), 'r+');
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, 4096);
    b[0] = (b[0] ?? 0) ^ 0xff;
    await h.write(b, 0, 1, 4096);
    await h.close();
    const second = await serve();
    try {
      const r = await resume(second, out);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /the \d+ bytes held did not match the server's file; starting over/);
      assert.equal(await sha256File(join(out, 'big.bin')), bigSha);
      assert.deepEqual(
        requests(second).map((l) => l['status']),
        [206, 200],
      );
    } finally {
      await second.stop();
    }
  });

  it('--retries: the server is killed and restarted on the same port; the download resumes and completes', async () => {
    const first = await serve();
    const out = await freshDir();
    const client = spawnGet(getArgs(first.port, ['--retries', '8']), out);
    const at = await waitForPart(out, BIG * 0.4);
    const second = await restart(first);
    try {
      await assertResumed(await client.done, out);
      const [req] = requests(second);
      assert.ok(req);
      assert.equal(req['status'], 206);
      assert.ok(Number(req['bytes']) <= BIG - at, 'the restarted server sent only the rest');
    } finally {
      await second.stop();
    }
  });

  it('--retries into a FIFO: the server is killed and restarted; the stream resumes where it stopped', async () => {
    const first = await serve();
    const out = await freshDir();
    const fifo = join(out, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const client = spawnGet(getArgs(first.port, ['--retries', '8', '--out', fifo]), out);
    // The reader: hashes what comes through the FIFO and counts it.
    const hash = createHash('sha256');
    let got = 0;
    const reading = (async () => {
      for await (const b of createReadStream(fifo, { highWaterMark: 1 << 20 })) {
        hash.update(b as Buffer);
        got += (b as Buffer).length;
      }
    })();
    const deadline = Date.now() + 60_000;
    while (got < BIG * 0.4) {
      assert.ok(Date.now() < deadline, `only ${got} bytes came through the FIFO`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await first.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const second = await serve(['--port', String(first.port)]);
    try {
      const r = await client.done;
      await reading;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /resuming at byte \d+ in \d+ ms/);
      assert.equal(r.stdout, `${bigSha}  ${fifo}\n`);
      assert.equal(got, BIG);
      assert.equal(hash.digest('hex'), bigSha, 'the reader got the file, resumed without a gap');
      assert.equal(requests(second)[0]?.['status'], 206);
      assert.ok((await lstat(fifo)).isFIFO());
      assert.deepEqual(await readdir(out), ['fifo']);
    } finally {
      await second.stop();
    }
  });

  it('Ctrl-C with --keep-partial keeps the partial and its record (exit 130); --continue finishes it', async () => {
    const server = await serve();
    try {
      const out = await freshDir();
      const client = spawnGet(getArgs(server.port, ['--keep-partial']), out);
      await waitForPart(out, BIG / 4);
      process.kill(client.pid, 'SIGINT');
      const r = await client.done;
      assert.equal(r.code, 130, r.stderr);
      assert.deepEqual((await readdir(out)).sort(), ['.big.bin.partial', '.big.bin.partial.json']);
      const done = await resume(server, out);
      assert.equal(done.code, 0, done.stderr);
      assert.equal(await sha256File(join(out, 'big.bin')), bigSha);
      assert.equal(requests(server).at(-1)?.['status'], 206);
    } finally {
      await server.stop();
    }
  });

  it('an encrypted response is not resumable: nothing is kept, and the client says why', async () => {
    await writeFile(join(dir.root, 'enc.bin'), Buffer.alloc(64 * 1024 * 1024, 1));
    const server = await serve(['--encrypt']);
    const out = await freshDir();
    const client = spawnGet(
      [
        'enc.bin',
        '--server',
        `localhost:${server.port}`,
        '--pki',
        dir.pki.pki,
        '--quiet',
        '--keep-partial',
      ],
      out,
    );
    await waitForPart(out, 8 * 1024 * 1024);
    await server.stop('SIGKILL');
    const r = await client.done;
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      /an encrypted response cannot be resumed \(fresh keys each time\); nothing kept/,
    );
    assert.deepEqual(await readdir(out), []);
  });
});
