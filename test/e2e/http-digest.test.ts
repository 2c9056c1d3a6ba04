/**
 * A file fetched over HTTP and streamed to its file (larger than SMALL_BODY and than the
 * FileSink's ring, src/filesink.ts) is verified as a whole: a body with one byte changed
 * against the server's Repr-Digest fails with `digest-mismatch` (exit 5) and leaves nothing
 * in the output folder, alone or in a batch beside good files, which are stored and printed.
 * The server is a real node:https server with the fixture's certificates that lies about one
 * file; the client is the built CLI.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, type Fixture } from '../helpers/fixture.js';
import { closeHttpPeer, listenOnLoopback, mutualTlsOptions } from '../helpers/fakeserver.js';
import { runCli, type RunResult } from '../helpers/proc.js';

/** Larger than SMALL_BODY and than one ring: streamed to the file through the ring. */
const SIZE = 3 * 1024 * 1024 + 12_345;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('HTTP bodies streamed to a file are verified whole', () => {
  let fx: Fixture;
  let server: Server;
  let port: number;
  const good = randomBytes(SIZE);
  const other = randomBytes(SIZE + 1);
  /** What is sent for bad.bin: `good` with one byte changed near the end. */
  const bad = Buffer.from(good);
  bad[SIZE - 100] = (bad[SIZE - 100] ?? 0) ^ 0x01;

  before(async () => {
    fx = await makeFixture();
    const files: Record<string, { body: Buffer; digestOf: Buffer }> = {
      '/good.bin': { body: good, digestOf: good },
      '/other.bin': { body: other, digestOf: other },
      '/bad.bin': { body: bad, digestOf: good },
    };
    server = createServer(mutualTlsOptions(fx.pki, ['http/1.1']), (req, res) => {
      const f = files[req.url ?? ''];
      if (!f) {
        res.writeHead(404).end('not-found\n');
        return;
      }
      const digest = createHash('sha256').update(f.digestOf).digest('base64');
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(f.body.length),
        'repr-digest': `sha-256=:${digest}:`,
        etag: `"${sha256(f.digestOf).slice(0, 16)}"`,
      });
      // In pieces, as a network delivers it.
      for (let i = 0; i < f.body.length; i += 100_000) res.write(f.body.subarray(i, i + 100_000));
      res.end();
    });
    port = await listenOnLoopback(server);
  });
  after(async () => {
    await closeHttpPeer(server);
    await fx.remove();
  });

  async function get(out: string, args: string[]): Promise<RunResult> {
    await mkdir(out, { recursive: true });
    return runCli([
      'get',
      ...args,
      '--protocol',
      'http',
      '--server',
      `localhost:${port}`,
      '--pki',
      fx.pki.pki,
      '--out',
      `${out}/`,
      '--quiet',
    ]);
  }

  it('a good body: stored, its sha256sum line printed', async () => {
    const out = join(fx.path, 'one-good');
    const r = await get(out, ['good.bin']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${sha256(good)}  ${join(out, 'good.bin')}\n`);
    assert.ok((await readFile(join(out, 'good.bin'))).equals(good));
  });

  it('one byte changed: digest-mismatch, exit 5, nothing left in the output folder', async () => {
    const out = join(fx.path, 'one-bad');
    const r = await get(out, ['bad.bin']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `the received bytes have SHA-256 ${sha256(bad)}, the server's Repr-Digest says ${sha256(good)}`,
      ),
    );
    assert.equal(r.stdout, '');
    assert.deepEqual(await readdir(out), []);
  });

  it('in a batch: the good files stored and printed, the changed one named and absent, exit 5', async () => {
    const out = join(fx.path, 'batch');
    const list = join(fx.path, 'list.txt');
    await writeFile(list, 'good.bin\nbad.bin\nother.bin\n');
    const r = await get(out, ['--from', list, '-j', '2']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /"bad\.bin".*SHA-256/);
    const lines = r.stdout.trim().split('\n').sort();
    assert.deepEqual(
      lines,
      [
        `${sha256(good)}  ${join(out, 'good.bin')}`,
        `${sha256(other)}  ${join(out, 'other.bin')}`,
      ].sort(),
    );
    assert.deepEqual((await readdir(out)).sort(), ['good.bin', 'other.bin']);
    assert.ok((await readFile(join(out, 'other.bin'))).equals(other));
  });
});
