/**
 * SIGHUP reloads certificate, key, CA and access rules without a restart: new handshakes see
 * the new material while a large transfer in flight finishes untouched, and a reload that fails
 * validation keeps the old material and logs why.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, type Fixture } from '../helpers/fixture.js';
import { issueFromTestCa, type TestPki } from '../helpers/pki.js';
import { startServer, type ServerProcess } from '../helpers/proc.js';
import { rawExchange } from '../helpers/raw.js';
import { holdTransfer, sha256File } from '../helpers/transfer.js';

const DAY = 86_400_000;
const FAILED = 'reload failed; keeping the previous material';

describe('reload on SIGHUP', () => {
  let dir: Fixture;
  let pki: TestPki;
  let live: string;
  let root: string;
  let server: ServerProcess;

  /** Writes a file next to its target and renames it into place, as an operator should. */
  async function put(path: string, data: string): Promise<void> {
    await writeFile(`${path}.new`, data, { mode: 0o600 });
    await rename(`${path}.new`, path);
  }

  async function hup(): Promise<Record<string, unknown>> {
    const since = server.logLines().length;
    process.kill(server.pid, 'SIGHUP');
    return server.waitForLog((l) => l['msg'] === 'reloaded' || l['msg'] === FAILED, { since });
  }

  async function fingerprintSeen(): Promise<string> {
    const held = await holdTransfer({
      port: server.port,
      ca: pki.ca,
      client: pki.client,
      name: 'hello.txt',
    });
    const fp = held.serverFingerprint;
    assert.equal((await held.finish()).complete, true);
    return fp;
  }

  before(async () => {
    dir = await makeFixture({
      'hello.txt': 'hello\n',
      'big.bin': randomBytes(32 * 1024 * 1024),
    });
    ({ pki, root } = dir);
    live = join(dir.path, 'live');
    await mkdir(live);
    await copyFile(pki.ca, join(live, 'ca.crt'));
    await copyFile(pki.server.cert, join(live, 'server.crt'));
    await copyFile(pki.server.key, join(live, 'server.key'));
    await writeFile(join(live, 'rules.yaml'), 'rules:\n  - anyone: true\n    allow: "**"\n');
    server = await startServer([
      '--ca',
      join(live, 'ca.crt'),
      '--cert',
      join(live, 'server.crt'),
      '--key',
      join(live, 'server.key'),
      '--access',
      join(live, 'rules.yaml'),
      '--root',
      root,
    ]);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  it('rotates the server certificate while a large transfer runs', async () => {
    const before = await fingerprintSeen();
    const held = await holdTransfer({
      port: server.port,
      ca: pki.ca,
      client: pki.client,
      name: 'big.bin',
    });
    assert.equal(held.serverFingerprint, before);

    const now = Date.now();
    const next = await issueFromTestCa(pki, {
      kind: 'server',
      commonName: 'localhost rotated',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      keySpec: { kind: 'ec', curve: 'P-256' },
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 30 * DAY),
    });
    // Key first, then certificate: a reload between the two would fail validation, not serve
    // a mismatched pair.
    await put(join(live, 'server.key'), next.keyPem);
    await put(join(live, 'server.crt'), next.certPem);
    const l = await hup();
    assert.equal(l['msg'], 'reloaded', JSON.stringify(l));
    assert.equal(l['cert'], 'CN=localhost rotated');

    const after = await fingerprintSeen();
    assert.notEqual(after, before);
    assert.equal(l['certFingerprint256'], after);

    const done = await held.finish();
    assert.equal(done.complete, true);
    assert.equal(done.bodySha256, sha256File(join(root, 'big.bin')));
  });

  it('a reload that fails validation keeps the old material and says why', async () => {
    const current = await fingerprintSeen();
    const good = await readFile(join(live, 'server.key'), 'utf8');
    await put(join(live, 'server.key'), await readFile(pki.client.key, 'utf8'));
    try {
      const l = await hup();
      assert.equal(l['msg'], FAILED);
      assert.equal(l['code'], 'pki-key-mismatch');
      assert.match(String(l['reason']), /does not belong to certificate/);
      assert.equal(await fingerprintSeen(), current, 'the previous certificate stays in use');
    } finally {
      await put(join(live, 'server.key'), good);
    }
  });

  it('reloads the CA: a client of a newly trusted CA gets in', async () => {
    const rogue = () =>
      rawExchange({
        port: server.port,
        ca: pki.ca,
        client: pki.rogueClient,
        send: 'GET hello.txt\n',
      });
    assert.equal((await rogue()).received.length, 0);
    const bundle = (await readFile(pki.ca, 'utf8')) + (await readFile(pki.rogueCa, 'utf8'));
    await put(join(live, 'ca.crt'), bundle);
    assert.equal((await hup())['msg'], 'reloaded');
    assert.match((await rogue()).received.toString(), /^OK 6 plain\n/);
    await put(join(live, 'ca.crt'), await readFile(pki.ca, 'utf8'));
    assert.equal((await hup())['msg'], 'reloaded');
    assert.equal((await rogue()).received.length, 0);
  });

  it('reloads access rules; invalid rules keep the previous ones', async () => {
    const ask = async () =>
      (
        await rawExchange({
          port: server.port,
          ca: pki.ca,
          client: pki.client,
          send: 'GET hello.txt\n',
        })
      ).received.toString();
    assert.match(await ask(), /^OK /);
    await put(join(live, 'rules.yaml'), 'rules:\n  - cn: client\n    deny: hello.txt\n');
    assert.equal((await hup())['msg'], 'reloaded');
    assert.equal(await ask(), 'ERR forbidden access denied\n');

    await put(
      join(live, 'rules.yaml'),
      'rules:\n  - cn: client\n    allow: hello.txt\n    oops: 1\n',
    );
    const l = await hup();
    assert.equal(l['msg'], FAILED);
    assert.equal(l['code'], 'access-invalid');
    assert.match(String(l['reason']), /rules\.yaml" line 4: unknown key "oops"/);
    assert.equal(await ask(), 'ERR forbidden access denied\n', 'the previous rules still hold');
  });
});
