/**
 * HTTP through the server's life: `curl -C -` finishing a download that a killed server cut,
 * a file that changes under a response (the client fails, never keeps a mixed body), encrypted
 * responses with their trailer, kept-alive connections closed by reload and shutdown (HTTP/2
 * with GOAWAY), and the request cap per connection.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { request as h1request } from 'node:https';
import { connect as h2connect } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { spawn } from 'node:child_process';
import {
  curl,
  curlTls,
  lastHead,
  makeHttpPki,
  missing,
  reprDigestOf,
  sha256,
  type HttpPki,
} from '../helpers/http.js';
import { runCli, startServer, tempDir, type ServerProcess } from '../helpers/proc.js';

const MiB = 1024 * 1024;

describe('HTTP through the server life', { skip: missing('curl') }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let pki: HttpPki;
  let root: string;
  const big = randomBytes(24 * MiB);
  let n = 0;
  const fresh = (): string => join(dir.path, `out-${n++}`);
  const url = (port: number, path: string): string => `https://localhost:${port}${path}`;
  const tls = (): string[] => curlTls(pki.ca, pki.client);
  const serve = (extra: string[] = []): Promise<ServerProcess> =>
    startServer(['--pki', pki.dir, '--root', root, ...extra]);

  before(async () => {
    dir = await tempDir();
    pki = makeHttpPki(join(dir.path, 'pki'));
    root = join(dir.path, 'root');
    await mkdir(root);
    await writeFile(join(root, 'big.bin'), big);
    await writeFile(join(root, 'hello.txt'), 'hello\n');
  });
  after(async () => {
    await dir.remove();
  });

  /** Resolves once `path` holds at least `bytes` bytes. */
  const grown = async (path: string, bytes: number): Promise<void> => {
    for (;;) {
      const size = await stat(path).then(
        (s) => s.size,
        () => 0,
      );
      if (size >= bytes) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  for (const flag of ['--http1.1', '--http2']) {
    it(`curl -C - (${flag}) finishes a download cut by a killed server, sending only the rest`, async () => {
      const first = await serve();
      const out = fresh();
      const cut = spawn('curl', [
        '-q',
        '-sS',
        flag,
        ...tls(),
        '--limit-rate',
        '4M',
        '-o',
        out,
        url(first.port, '/big.bin'),
      ]);
      const cutExit = new Promise<number | null>((r) => cut.on('close', r));
      await grown(out, 2 * MiB);
      await first.stop('SIGKILL');
      assert.notEqual(await cutExit, 0, 'curl must fail when the server dies mid-transfer');
      const kept = (await stat(out)).size;
      assert.ok(kept > 0 && kept < big.length, `kept ${kept}`);
      const second = await serve();
      try {
        const r = await curl([flag, ...tls(), '-C', '-', '-o', out, url(second.port, '/big.bin')]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(sha256(await readFile(out)), sha256(big));
        const l = await second.waitForLog((x) => x['msg'] === 'request');
        assert.equal(l['status'], 206);
        assert.equal(l['range'], `bytes ${kept}-${big.length - 1}/${big.length}`);
        assert.equal(l['bytes'], big.length - kept);
      } finally {
        await second.stop();
      }
    });
  }

  for (const flag of ['--http1.1', '--http2']) {
    it(`a file that changes during a response is cut (${flag}): curl fails`, async () => {
      const name = `changing-${flag.slice(2)}.bin`;
      await writeFile(join(root, name), big);
      const server = await serve();
      try {
        const out = fresh();
        const dl = spawn('curl', [
          '-q',
          '-sS',
          flag,
          ...tls(),
          '--limit-rate',
          '8M',
          '-o',
          out,
          url(server.port, `/${name}`),
        ]);
        const exit = new Promise<number | null>((r) => dl.on('close', r));
        await grown(out, MiB);
        const h = await open(join(root, name), 'r+');
        await h.write(Buffer.from('changed'), 0, 7, 100); // in place: same size, new mtime
        await h.close();
        const code = await exit;
        assert.ok(code === 18 || code === 92 || code === 56, `curl exit ${code}`);
        assert.ok((await stat(out)).size < big.length, 'the client holds a complete-looking body');
        const l = await server.waitForLog(
          (x) => x['msg'] === 'request' && x['target'] === `/${name}`,
        );
        assert.equal(l['outcome'], 'file-changed');
      } finally {
        await server.stop();
      }
    });
  }

  it('serve --encrypt: the sstream-v1 file for this client, plaintext digest in a field, Repr-Digest as a trailer', async () => {
    const server = await serve(['--encrypt']);
    try {
      const plainSha = sha256(Buffer.from('hello\n'));
      const dump = fresh();
      const sst = fresh();
      const r = await curl([
        '--http1.1',
        ...tls(),
        '-r',
        '0-2',
        '-D',
        dump,
        '-o',
        sst,
        url(server.port, '/hello.txt'),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const h = await lastHead(dump);
      assert.equal(h.status, 200, 'encrypted responses are never partial');
      assert.equal(h.fields['content-type'], 'application/vnd.securestream.sstream-v1');
      assert.equal(h.fields['securestream-plaintext-digest'], reprDigestOf(plainSha));
      assert.equal(h.fields['accept-ranges'], 'none');
      assert.equal(h.fields['etag'], undefined);
      const plain = fresh();
      const d = await runCli(['decrypt', sst, '--key', pki.client.key, '--out', plain]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(await readFile(plain, 'utf8'), 'hello\n');
      // Trailers, read by node's own HTTP/1.1 and HTTP/2 clients.
      const opts = {
        ca: readFileSync(pki.ca),
        cert: readFileSync(pki.client.cert),
        key: readFileSync(pki.client.key),
      };
      const viaH1 = await new Promise<{ body: Buffer; trailer: string | undefined }>(
        (resolve, reject) => {
          const req = h1request(
            {
              ...opts,
              host: 'localhost',
              port: server.port,
              // node's https client names no ALPN protocol: the first bytes decide.
              path: '/hello.txt',
            },
            (res) => {
              const parts: Buffer[] = [];
              res.on('data', (b: Buffer) => parts.push(b));
              res.on('end', () => {
                resolve({ body: Buffer.concat(parts), trailer: res.trailers['repr-digest'] });
              });
            },
          );
          req.on('error', reject);
          req.end();
        },
      );
      assert.equal(viaH1.trailer, reprDigestOf(sha256(viaH1.body)));
      const session = h2connect(`https://localhost:${server.port}`, opts);
      try {
        const viaH2 = await new Promise<{ body: Buffer; trailer: unknown; length: unknown }>(
          (resolve, reject) => {
            const stream = session.request({ ':path': '/hello.txt' });
            const parts: Buffer[] = [];
            let trailer: unknown;
            let length: unknown;
            stream.on('response', (headers) => (length = headers['content-length']));
            stream.on('trailers', (t: Record<string, unknown>) => (trailer = t['repr-digest']));
            stream.on('data', (b: Buffer) => parts.push(b));
            stream.on('end', () => {
              resolve({ body: Buffer.concat(parts), trailer, length });
            });
            stream.on('error', reject);
          },
        );
        assert.equal(viaH2.trailer, reprDigestOf(sha256(viaH2.body)));
        assert.equal(viaH2.length, String(viaH2.body.length));
        assert.notEqual(
          sha256(viaH2.body),
          sha256(viaH1.body),
          'each response is encrypted afresh',
        );
      } finally {
        session.close();
      }
      const l = await server.waitForLog(
        (x) => x['msg'] === 'request' && x['plaintextSha256'] !== undefined,
      );
      assert.equal(l['plaintextSha256'], plainSha);
    } finally {
      await server.stop();
    }
  });

  /** A raw HTTP/1.1 connection that asks once and then stays open; resolves with its socket. */
  const keptAlive = (port: number): Promise<{ socket: TLSSocket; closed: Promise<number> }> =>
    new Promise((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: readFileSync(pki.ca),
        cert: readFileSync(pki.client.cert),
        key: readFileSync(pki.client.key),
        ALPNProtocols: ['http/1.1'],
      });
      const closed = new Promise<number>((r) => {
        socket.on('close', () => {
          r(Date.now());
        });
      });
      socket.on('error', () => undefined);
      let seen = '';
      socket.on('data', (b: Buffer) => {
        seen += b.toString('latin1');
        if (seen.endsWith('hello\n')) resolve({ socket, closed });
      });
      socket.write('GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
    });

  it('reload (SIGHUP) closes kept-alive connections, so clients come back through a handshake', async () => {
    const server = await serve();
    try {
      const idle = await keptAlive(server.port);
      const session = h2connect(`https://localhost:${server.port}`, {
        ca: readFileSync(pki.ca),
        cert: readFileSync(pki.client.cert),
        key: readFileSync(pki.client.key),
      });
      const goaway = new Promise<void>((r) => {
        session.once('goaway', () => {
          r();
        });
      });
      await new Promise<void>((resolve) => {
        const s = session.request({ ':path': '/hello.txt' });
        s.resume();
        s.on('end', resolve);
      });
      const sent = Date.now();
      process.kill(server.pid, 'SIGHUP');
      await server.waitForLog((x) => x['msg'] === 'reloaded');
      await goaway;
      const at = await idle.closed;
      assert.ok(at - sent < 5000, `closed ${at - sent} ms after SIGHUP`);
      session.destroy();
      assert.equal(server.proc.exitCode, null, 'the server keeps running');
    } finally {
      await server.stop();
    }
  });

  it('SIGTERM closes idle kept-alive connections at once and exits well within the grace period', async () => {
    const server = await serve(['--grace', '60s']);
    const idle = await keptAlive(server.port);
    const started = Date.now();
    const code = await server.stop('SIGTERM');
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    await idle.closed;
    const c = server.logLines().find((x) => x['msg'] === 'connection' && x['wire'] === 'http/1.1');
    assert.equal(c?.['outcome'], 'ok');
    assert.equal(c['requests'], 1);
  });

  for (const flag of ['--http1.1', '--http2']) {
    it(`--max-requests-per-connection 3 (${flag}): seven URLs take three connections`, async () => {
      const server = await serve(['--max-requests-per-connection', '3']);
      try {
        const args = Array.from({ length: 7 }, () => [
          '-o',
          fresh(),
          url(server.port, '/hello.txt'),
        ]).flat();
        const r = await curl([flag, ...tls(), '-w', '%{http_code}\n', ...args]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, '200\n'.repeat(7));
        await server.waitForLog((x) => x['msg'] === 'connection' && x['requests'] === 1);
        const conns = server.logLines().filter((x) => x['msg'] === 'connection');
        assert.deepEqual(conns.map((x) => x['requests']).sort(), [1, 3, 3]);
        assert.ok(conns.every((x) => x['outcome'] === 'ok'));
      } finally {
        await server.stop();
      }
    });
  }

  it('a kept-alive connection is closed after --keep-alive-timeout without a request', async () => {
    const server = await serve(['--keep-alive-timeout', '1s']);
    try {
      const idle = await keptAlive(server.port);
      const answered = Date.now();
      const at = await idle.closed;
      assert.ok(at - answered >= 800 && at - answered < 4000, `closed after ${at - answered} ms`);
    } finally {
      await server.stop();
    }
  });
});
