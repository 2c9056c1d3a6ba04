/**
 * Output names of up to 255 bytes (NAME_MAX) work in every command that writes a file: the
 * temporary name beside the output must fit too, whatever the output name.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import { runCli, startServer, type ServerProcess } from '../helpers/proc.js';

/** A name of exactly `n` UTF-8 bytes, with multi-byte characters in it. */
function nameOf(n: number, tail = ''): string {
  const head = 'é-日本-';
  const rest = n - Buffer.byteLength(head + tail);
  return `${head}${'x'.repeat(rest)}${tail}`;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('long output names', () => {
  let fx: Fixture;
  let server: ServerProcess;
  const content = Buffer.from('long names are names too\n'.repeat(4096));

  before(async () => {
    fx = await makeFixture({
      'file.bin': content,
      'other.bin': content,
      [nameOf(255)]: content,
    });
    server = await startServer(['--pki', fx.pki.pki, '--root', fx.root]);
  });
  after(async () => {
    await server.stop();
    await fx.remove();
  });

  async function only(dir: string, name: string): Promise<void> {
    assert.deepEqual(await readdir(dir), [name], 'the output and nothing else');
  }

  for (const n of [237, 250, 255]) {
    it(`get --out with a ${n}-byte name`, async () => {
      const dir = join(fx.path, `get-${n}`);
      await mkdir(dir);
      const name = nameOf(n);
      const r = await cliGet(server.port, fx.pki.pki, 'file.bin', join(dir, name));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(await readFile(join(dir, name))), sha(content));
      assert.equal(r.stdout, `${sha(content)}  ${join(dir, name)}\n`);
      await only(dir, name);
    });
  }

  it('get with a 255-byte name and no --out stores it under that name', async () => {
    const dir = join(fx.path, 'get-default');
    await mkdir(dir);
    const r = await runCli(
      ['get', nameOf(255), '--server', `localhost:${server.port}`, '--pki', fx.pki.pki, '--quiet'],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(await readFile(join(dir, nameOf(255)))), sha(content));
    await only(dir, nameOf(255));
  });

  it('encrypt --out and decrypt --out with 255-byte names', async () => {
    const dir = join(fx.path, 'format');
    await mkdir(dir);
    const plain = join(fx.path, 'plain.bin');
    await writeFile(plain, content);
    const sst = join(dir, nameOf(255, '.sst'));
    const enc = await runCli(['encrypt', plain, '--to', fx.pki.client.cert, '--out', sst]);
    assert.equal(enc.code, 0, enc.stderr);
    await only(dir, nameOf(255, '.sst'));
    const out = join(fx.path, 'plain-out');
    await mkdir(out);
    const dec = await runCli([
      'decrypt',
      sst,
      '--key',
      fx.pki.client.key,
      '--out',
      join(out, nameOf(255)),
    ]);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stdout, `${sha(content)}  ${join(out, nameOf(255))}\n`);
    assert.equal(sha(await readFile(join(out, nameOf(255)))), sha(content));
    await only(out, nameOf(255));
  });

  it('a 256-byte --out fails before connecting, with a clear error, and leaves nothing', async () => {
    const dir = join(fx.path, 'too-long');
    await mkdir(dir);
    const r = await cliGet(server.port, fx.pki.pki, 'other.bin', join(dir, nameOf(256)));
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^securestream: error: output path ".*" is too long for the file system/m,
    );
    assert.deepEqual(await readdir(dir), []);
    await new Promise((res) => setTimeout(res, 300)); // a connection would be logged by now
    assert.ok(
      !server.logLines().some((l) => l['request'] === 'other.bin'),
      'no request for a name that cannot be stored',
    );
  });
});
