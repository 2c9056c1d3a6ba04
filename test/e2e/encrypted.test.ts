/**
 * `serve --encrypt` end to end: the stored file is sstream-v1 ciphertext bound to the client
 * certificate's key, verified on arrival; only that key opens it, and the plaintext digest
 * equals the server's sha256sum of the source.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliGet, makeFixture, type Fixture } from '../helpers/fixture.js';
import type { CertFiles, TestPki } from '../helpers/pki.js';
import { run, runCli, startServer, type ServerProcess } from '../helpers/proc.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('encrypted transfers', () => {
  let dir: Fixture;
  let pki: TestPki;
  let server: ServerProcess;
  let root: string;
  const source = randomBytes(3 * 65536 + 1234);

  before(async () => {
    dir = await makeFixture({ 'data.bin': source });
    ({ pki, root } = dir);
    server = await startServer(['--pki', pki.pki, '--root', root, '--encrypt']);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  const getAs = (client: CertFiles, args: string[], cwd?: string) =>
    runCli(
      [
        'get',
        'data.bin',
        '--server',
        `localhost:${server.port}`,
        '--ca',
        pki.ca,
        '--cert',
        client.cert,
        '--key',
        client.key,
        ...args,
      ],
      cwd ? { cwd } : {},
    );

  for (const [label, pick] of [
    ['an EC P-256 client', (p: TestPki) => p.client],
    ['an RSA-2048 client', (p: TestPki) => p.rsaClient],
    ['an EC P-384 client', (p: TestPki) => p.p384Client],
  ] as const) {
    it(`stores ciphertext for ${label} that only its key opens`, async () => {
      const client = pick(pki);
      const cwd = join(dir.path, label.replace(/\W+/g, '-'));
      await mkdir(cwd);
      const r = await getAs(client, [], cwd);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await readdir(cwd), ['data.bin.sst'], 'stored as NAME.sst, nothing else');
      const stored = await readFile(join(cwd, 'data.bin.sst'));
      assert.equal(
        r.stdout,
        `${sha256(stored)}  data.bin.sst\n`,
        'prints the digest of the stored bytes',
      );
      assert.ok(
        !r.stdout.includes(sha256(source)),
        'the plaintext digest is never printed beside ciphertext',
      );
      assert.equal(stored.subarray(0, 7).toString('latin1'), 'SSTREAM');
      assert.ok(!stored.includes(source.subarray(0, 64)), 'no plaintext in the stored file');
      const log = await server.waitForLog(
        (l) => l['fingerprint256'] !== undefined && l['sha256'] === sha256(stored),
      );
      assert.equal(log['plaintextSha256'], sha256(source));

      const d = await runCli([
        'decrypt',
        join(cwd, 'data.bin.sst'),
        '--key',
        client.key,
        '--out',
        join(cwd, 'plain.bin'),
      ]);
      assert.equal(d.code, 0, d.stderr);
      const ref = (await run('sha256sum', [join(root, 'data.bin')])).stdout.split(' ')[0];
      assert.equal(d.stdout, `${ref}  ${join(cwd, 'plain.bin')}\n`);
      assert.ok((await readFile(join(cwd, 'plain.bin'))).equals(source));
    });
  }

  it('another client key cannot open it, and a tampered byte fails; no output either time', async () => {
    const cwd = join(dir.path, 'neg');
    await mkdir(cwd);
    assert.equal((await getAs(pki.client, [], cwd)).code, 0);
    const sst = join(cwd, 'data.bin.sst');
    const wrong = await runCli([
      'decrypt',
      sst,
      '--key',
      pki.client2.key,
      '--out',
      join(cwd, 'p1'),
    ]);
    assert.equal(wrong.code, 5);
    assert.match(wrong.stderr, /securestream: error: .*not encrypted to/);
    const bytes = await readFile(sst);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 1;
    await writeFile(join(cwd, 'tampered.sst'), bytes);
    const bad = await runCli([
      'decrypt',
      join(cwd, 'tampered.sst'),
      '--key',
      pki.client.key,
      '--out',
      join(cwd, 'p2'),
    ]);
    assert.equal(bad.code, 5);
    assert.match(bad.stderr, /securestream: error: chunk 3 failed authentication/);
    assert.deepEqual((await readdir(cwd)).sort(), ['data.bin.sst', 'tampered.sst']);
  });

  it('get --decrypt stores the plaintext and checks it against the trailer', async () => {
    const out = join(dir.path, 'dec.bin');
    const r = await getAs(pki.client, ['--decrypt', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${sha256(source)}  ${out}\n`);
    assert.ok((await readFile(out)).equals(source));
  });

  it('a client whose key cannot be a recipient gets ERR unsupported-key before any body byte', async () => {
    for (const client of [pki.ed25519Client, pki.rsaPssClient]) {
      const cwd = join(dir.path, `unsupported-${client.cert.length}`);
      await mkdir(cwd, { recursive: true });
      const r = await getAs(client, [], cwd);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /securestream: error: the server refused "data.bin": unsupported-key/);
      assert.deepEqual(await readdir(cwd), []);
    }
  });

  it('an empty file and an exact multiple of 64 KiB round-trip', async () => {
    for (const size of [0, 131072]) {
      const src = randomBytes(size);
      await writeFile(join(root, `f${size}`), src);
      const out = join(dir.path, `f${size}.plain`);
      const r = await cliGet(server.port, pki.pki, `f${size}`, out, ['--decrypt']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await readFile(out)).equals(src));
    }
  });
});
