/**
 * Downloads over real sockets between real processes: bytes and digests must match the
 * source exactly, alone and with many clients at once.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cliGet, useServedFixture } from '../helpers/fixture.js';
import { run, runCli } from '../helpers/proc.js';
import { holdTransfer } from '../helpers/transfer.js';

const KiB = 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('download', () => {
  const fx = useServedFixture();
  let out: string;

  before(async () => {
    out = join(fx.path, 'out');
    await mkdir(out);
  });

  const get = (name: string, outPath: string) => cliGet(fx.server.port, fx.pki.pki, name, outPath);

  for (const size of [0, 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 10 * 1024 * KiB]) {
    it(`stores ${size} bytes exactly and prints the sha256sum line`, async () => {
      const name = `file-${size}.bin`;
      const src = randomBytes(size);
      await writeFile(join(fx.root, name), src);
      const target = join(out, name);
      const r = await get(name, target);
      assert.equal(r.code, 0, r.stderr);
      const stored = await readFile(target);
      assert.equal(stored.length, size);
      assert.ok(stored.equals(src), 'stored bytes differ from the source');
      const reference = await run('sha256sum', [join(fx.root, name)]);
      const refHex = reference.stdout.split(' ')[0];
      assert.equal(r.stdout, `${refHex}  ${target}\n`);
      assert.equal(refHex, sha256(src));
      const log = await fx.server.waitForLog((l) => l['request'] === name && l['outcome'] === 'ok');
      assert.equal(log['sha256'], refHex);
      assert.equal(log['bytes'], size);
      assert.equal(log['subject'], 'CN=client');
      assert.equal(log['cipher'], 'ECDHE-ECDSA-AES128-GCM-SHA256');
      assert.equal(log['protocol'], 'TLSv1.2');
    });
  }

  it('defaults the output to the basename of NAME in the current folder', async () => {
    await mkdir(join(fx.root, 'sub'), { recursive: true });
    const src = randomBytes(1000);
    await writeFile(join(fx.root, 'sub', 'nested.bin'), src);
    const cwd = join(fx.path, 'cwd');
    await mkdir(cwd);
    const r = await runCli(
      ['get', 'sub/nested.bin', '--server', `127.0.0.1:${fx.server.port}`, '--pki', fx.pki.pki],
      { cwd },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${sha256(src)}  nested.bin\n`);
    assert.ok((await readFile(join(cwd, 'nested.bin'))).equals(src));
    assert.deepEqual(await readdir(cwd), ['nested.bin']);
  });

  it('serves 20 clients at once, each verified', async () => {
    const sizes = Array.from(
      { length: 20 },
      (_, i) => [0, 1, 4095, 65536, 300_000, 2_000_000][i % 6] ?? 0,
    );
    const sources = await Promise.all(
      sizes.map(async (size, i) => {
        const src = randomBytes(size + i);
        await writeFile(join(fx.root, `many-${i}`), src);
        return src;
      }),
    );
    const results = await Promise.all(
      sources.map((_, i) => get(`many-${i}`, join(out, `many-${i}`))),
    );
    for (const [i, r] of results.entries()) {
      const src = sources[i] as Buffer;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${sha256(src)}  ${join(out, `many-${i}`)}\n`);
      assert.ok((await readFile(join(out, `many-${i}`))).equals(src));
    }
  });

  it('sends one new file to several clients at once, two stalling and one of them quitting', async () => {
    // The server hashes a file version once for all its concurrent sends: the stalled ones
    // start first and hold the lead, the others overtake them, and one stalled send is dropped.
    const src = randomBytes(6 * 1024 * KiB + 5);
    await writeFile(join(fx.root, 'shared.bin'), src);
    const hold = () =>
      holdTransfer({
        port: fx.server.port,
        ca: fx.pki.ca,
        client: fx.pki.client,
        name: 'shared.bin',
      });
    const quitting = await hold();
    const stalled = await hold();
    const gets = Array.from({ length: 4 }, (_, i) => get('shared.bin', join(out, `shared-${i}`)));
    quitting.socket.destroy();
    const results = await Promise.all(gets);
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${sha256(src)}  ${join(out, `shared-${i}`)}\n`);
    }
    const late = await stalled.finish();
    assert.equal(late.complete, true, late.error);
    assert.equal(late.bodySha256, sha256(src));
    assert.equal(late.trailer, `SHA256 ${sha256(src)}\n`);
  });

  it('aborts without a trailer when the file is rewritten during the send, then serves the new bytes', async () => {
    const path = join(fx.root, 'moving.bin');
    await writeFile(path, randomBytes(8 * 1024 * KiB));
    const held = await holdTransfer({
      port: fx.server.port,
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'moving.bin',
    });
    const fh = await open(path, 'r+');
    await fh.write(Buffer.from('x'), 0, 1, 7 * 1024 * KiB); // same size, new ctime
    await fh.close();
    const r = await held.finish();
    assert.equal(r.complete, false);
    assert.equal(r.trailer, '');
    assert.equal(r.length, 8 * 1024 * KiB);
    const now = await readFile(path);
    const again = await get('moving.bin', join(out, 'moving.bin'));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `${sha256(now)}  ${join(out, 'moving.bin')}\n`);
  });

  it('prints protocol and suite with --verbose', async () => {
    await writeFile(join(fx.root, 'v.bin'), 'v');
    const r = await cliGet(fx.server.port, fx.pki.pki, 'v.bin', join(out, 'v.bin'), ['--verbose']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /with TLSv1\.2 ECDHE-ECDSA-AES128-GCM-SHA256/);
    assert.match(r.stderr, /receiving 1 bytes, mode plain/);
  });
});
