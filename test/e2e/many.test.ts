/**
 * `get NAME...` against a real server: hundreds of files in one process over a few kept-alive
 * connections, each stored file's line verified by the real `sha256sum -c`; patterns resolved
 * against the listing; missing names reported while the rest is stored; names from a file or
 * standard input; and the line protocol still serving a server that has no HTTP.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, outFolders, type Fixture } from '../helpers/fixture.js';
import { run, runCli, startServer, type RunResult, type ServerProcess } from '../helpers/proc.js';

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const SMALL = 200;
const LARGE = 5;
const LARGE_BYTES = 6 * 1024 * 1024;
const small = (i: number): string => `small/f${String(i).padStart(3, '0')}.bin`;
const large = (i: number): string => `large/L${i}.bin`;

/** `sha256sum -c` over what `get` printed, run where `get` ran: its exit code and lines. */
async function sha256sumCheck(lines: string, cwd: string): Promise<RunResult> {
  return run('sha256sum', ['-c', '--strict', '-'], { cwd, input: lines });
}

describe('get NAME... (many files in one run)', () => {
  let dir: Fixture;
  let server: ServerProcess;
  let lineOnly: ServerProcess;
  const files: Record<string, Buffer> = {};
  let freshDir: () => Promise<string>;

  before(async () => {
    for (let i = 0; i < SMALL; i++) files[small(i)] = randomBytes((i * 37) % 3000); // one empty
    for (let i = 0; i < LARGE; i++) files[large(i)] = randomBytes(LARGE_BYTES + i);
    Object.assign(files, {
      'logs/2024/01/a.gz': randomBytes(1000),
      'logs/2024/02/b.gz': randomBytes(2000),
      'logs/2025/c.gz': randomBytes(3000),
      'logs/readme.txt': Buffer.from('not a .gz\n'),
      'logs/.hidden.gz': randomBytes(10),
      'a/same.txt': Buffer.from('a\n'),
      'b/same.txt': Buffer.from('b\n'),
    });
    dir = await makeFixture(files);
    freshDir = outFolders(dir);
    server = await startServer(['--pki', dir.pki.pki, '--root', dir.root]);
    lineOnly = await startServer(['--pki', dir.pki.pki, '--root', dir.root, '--no-http']);
  });
  after(async () => {
    await server.stop();
    await lineOnly.stop();
    await dir.remove();
  });

  const get = (port: number, args: string[], cwd: string, input?: string): Promise<RunResult> =>
    runCli(['get', ...args, '--server', `localhost:${port}`, '--pki', dir.pki.pki, '--quiet'], {
      cwd,
      timeoutMs: 120_000,
      ...(input === undefined ? {} : { input }),
    });

  it('200 small files and 5 large ones in one get: sha256sum -c verifies every line; 4 connections serve them all', async () => {
    const out = await freshDir();
    const names = [
      ...Array.from({ length: SMALL }, (_, i) => small(i)),
      ...Array.from({ length: LARGE }, (_, i) => large(i)),
    ];
    await writeFile(join(out, 'list'), `${names.join('\n')}\n`);
    const since = server.logLines().length;
    // Several names go into a folder that must exist.
    const r = await get(server.port, ['--from', 'list', '-j', '4', '--out', 'copies'], out);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /output folder "copies" does not exist/);
    await mkdir(join(out, 'copies'));
    const ok = await get(server.port, ['--from', 'list', '-j', '4', '--out', 'copies'], out);
    assert.equal(ok.code, 0, ok.stderr);
    const lines = ok.stdout.trim().split('\n');
    assert.equal(lines.length, names.length);
    const check = await sha256sumCheck(ok.stdout, out);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.equal(
      check.stdout
        .trim()
        .split('\n')
        .filter((l) => l.endsWith(': OK')).length,
      names.length,
    );
    // Each line names the copy and carries the digest of the server's file.
    for (const l of lines) {
      const m = /^([0-9a-f]{64}) {2}copies\/(.+)$/.exec(l);
      assert.ok(m?.[1] && m[2], l);
      const source = names.find((n) => n.endsWith(`/${m[2] ?? ''}`)) ?? '';
      assert.equal(m[1], sha256(files[source] ?? ''), l);
    }
    assert.match(
      ok.stderr,
      new RegExp(`^securestream: ${names.length} files stored, .* received in [0-9.]+ s`, 'm'),
    );
    assert.equal((await stat(join(out, 'copies', 'f000.bin'))).mode & 0o777, 0o644);
    // Fewer handshakes: at most -j connections, each serving many requests.
    await server.waitForLog((l) => l['msg'] === 'connection' && l['wire'] === 'http/1.1', {
      since,
    });
    await new Promise((res) => setTimeout(res, 300));
    const fresh = server.logLines().slice(since);
    const requests = fresh.filter((l) => l['msg'] === 'request' && l['status'] === 200);
    assert.equal(requests.length, names.length);
    const connections = fresh.filter((l) => l['msg'] === 'connection');
    assert.ok(connections.length <= 4 + 1, `${connections.length} connections`);
    assert.ok(
      connections.some((c) => Number(c['requests']) >= 10),
      'connections are kept alive across requests',
    );
    assert.deepEqual(
      (await readdir(join(out, 'copies'))).filter((f) => f.startsWith('.')),
      [],
    );
  });

  it('a pattern: logs/**/*.gz stores what matched below logs/, and only that', async () => {
    const out = await freshDir();
    const r = await get(server.port, ['logs/**/*.gz'], out);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.slice(66))
        .sort(),
      ['2024/01/a.gz', '2024/02/b.gz', '2025/c.gz'],
    );
    assert.equal((await sha256sumCheck(r.stdout, out)).code, 0);
    assert.ok(
      (await readFile(join(out, '2025/c.gz'))).equals(files['logs/2025/c.gz'] ?? Buffer.alloc(1)),
    );
    assert.deepEqual(await readdir(out), ['2024', '2025']);
  });

  it('names that exist and names that do not: each missing one is named, the rest stored, exit 4', async () => {
    const out = await freshDir();
    const r = await get(server.port, [small(1), 'missing.bin', small(2), 'nowhere/*.gz'], out);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^securestream: error: the server refused "missing\.bin": not-found/m);
    assert.match(r.stderr, /^securestream: error: .*"nowhere\/\*\.gz"/m);
    assert.match(r.stderr, /^securestream: 2 files stored, .*; 2 failed$/m);
    assert.deepEqual((await readdir(out)).sort(), ['f001.bin', 'f002.bin']);
    assert.equal((await sha256sumCheck(r.stdout, out)).code, 0);
  });

  it('--from -: names on standard input', async () => {
    const out = await freshDir();
    const r = await get(server.port, ['--from', '-'], out, `${small(5)}\n${large(0)}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['L0.bin', 'f005.bin']);
  });

  it('two names that would be stored at one path: usage error before anything is fetched', async () => {
    const out = await freshDir();
    const since = server.logLines().length;
    const r = await get(server.port, ['a/same.txt', 'b/same.txt'], out);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /"a\/same\.txt" and "b\/same\.txt" would both be stored as "same\.txt"/);
    assert.deepEqual(await readdir(out), []);
    assert.equal(
      server
        .logLines()
        .slice(since)
        .filter((l) => l['msg'] === 'request').length,
      0,
    );
  });

  it('--protocol 1: a single name over the line protocol, one request and the server closes', async () => {
    const out = await freshDir();
    const since = server.logLines().length;
    const r = await get(server.port, [large(1), '--protocol', '1'], out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${sha256(files[large(1)] ?? '')}  L1.bin\n`);
    const line = await server.waitForLog((l) => l['msg'] === 'connection', { since });
    assert.equal(line['wire'] ?? 'line', 'line');
    assert.equal(line['request'], large(1));
  });

  it('a server with only the line protocol (serve --no-http): single and several names work, patterns say why not', async () => {
    const out = await freshDir();
    const one = await get(lineOnly.port, [small(7)], out);
    assert.equal(one.code, 0, one.stderr);
    const several = await get(lineOnly.port, [small(8), small(9), large(2)], out);
    assert.equal(several.code, 0, several.stderr);
    assert.equal((await sha256sumCheck(several.stdout, out)).code, 0);
    const conns = lineOnly
      .logLines()
      .filter((l) => l['msg'] === 'connection' && l['outcome'] === 'ok');
    assert.ok(conns.length >= 4, 'one connection per name');
    const pattern = await get(lineOnly.port, ['small/*.bin'], out);
    assert.notEqual(pattern.code, 0);
    assert.match(pattern.stderr, /only the line protocol, which has no listing/);
  });
});
