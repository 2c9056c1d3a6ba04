/**
 * `serve --reload-interval`: files swapped the way Kubernetes swaps a mounted Secret or
 * ConfigMap (every file a symlink through `..data`, which is itself a symlink to a timestamped
 * folder, replaced by one atomic rename) are reloaded without a signal: new handshakes see the
 * new certificate and new rules; a bad version is logged once and the previous material stays;
 * content that did not change does not reload. Also the watch alone, on a folder.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContentWatch, contentFingerprint } from '../../src/reloadwatch.js';
import { makeFixture, type Fixture } from '../helpers/fixture.js';
import { issueFromTestCa } from '../helpers/pki.js';
import { startServer, tempDir, type ServerProcess } from '../helpers/proc.js';
import { rawExchange } from '../helpers/raw.js';
import { holdTransfer } from '../helpers/transfer.js';

const DAY = 86_400_000;
const FAILED = 'reload failed; keeping the previous material';
const FILES = ['ca.crt', 'tls.crt', 'tls.key', 'rules.yaml'] as const;
type Version = Record<(typeof FILES)[number], string>;

/**
 * A Kubernetes-style projected volume: `dir/NAME` → `..data/NAME`, `..data` → `..<stamp>`.
 * `publish` writes a new timestamped folder and flips `..data` to it in one rename(2).
 */
class ProjectedVolume {
  private n = 0;
  constructor(readonly dir: string) {}

  async publish(v: Version): Promise<void> {
    const stamp = `..2026_01_01_00_00_${String(this.n++).padStart(2, '0')}.${randomBytes(4).toString('hex')}`;
    await mkdir(join(this.dir, stamp));
    for (const f of FILES) await writeFile(join(this.dir, stamp, f), v[f], { mode: 0o600 });
    await symlink(stamp, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.n === 1) for (const f of FILES) await symlink(join('..data', f), join(this.dir, f));
  }
}

describe('--reload-interval with a Kubernetes-style symlink flip', () => {
  let fx: Fixture;
  let vol: ProjectedVolume;
  let server: ServerProcess;
  let first: Version;

  const fingerprintSeen = async (): Promise<string> => {
    const held = await holdTransfer({
      port: server.port,
      ca: fx.pki.ca,
      client: fx.pki.client,
      name: 'hello.txt',
    });
    await held.finish();
    return held.serverFingerprint;
  };
  const ask = async (): Promise<string> =>
    (
      await rawExchange({
        port: server.port,
        ca: fx.pki.ca,
        client: fx.pki.client,
        send: 'GET hello.txt\n',
      })
    ).received.toString();
  const next = (since: number): Promise<Record<string, unknown>> =>
    server.waitForLog((l) => l['msg'] === 'reloaded' || l['msg'] === FAILED, { since });

  before(async () => {
    fx = await makeFixture({ 'hello.txt': 'hello\n' });
    vol = new ProjectedVolume(join(fx.path, 'secret'));
    await mkdir(vol.dir);
    first = {
      'ca.crt': await readFile(fx.pki.ca, 'utf8'),
      'tls.crt': await readFile(fx.pki.server.cert, 'utf8'),
      'tls.key': await readFile(fx.pki.server.key, 'utf8'),
      'rules.yaml': 'rules:\n  - anyone: true\n    allow: "**"\n',
    };
    await vol.publish(first);
    const at = (f: string): string => join(vol.dir, f);
    server = await startServer([
      '--ca',
      at('ca.crt'),
      '--cert',
      at('tls.crt'),
      '--key',
      at('tls.key'),
      '--access',
      at('rules.yaml'),
      '--root',
      fx.root,
      '--reload-interval',
      '200ms',
    ]);
  });
  after(async () => {
    await server.stop();
    await fx.remove();
  });

  it('rotates certificate and rules on a flip, without a signal', async () => {
    const before = await fingerprintSeen();
    const now = Date.now();
    const rotated = await issueFromTestCa(fx.pki, {
      kind: 'server',
      commonName: 'localhost flipped',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      keySpec: { kind: 'ec', curve: 'P-256' },
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 30 * DAY),
    });
    const since = server.logLines().length;
    await vol.publish({
      ...first,
      'tls.crt': rotated.certPem,
      'tls.key': rotated.keyPem,
      'rules.yaml': 'rules:\n  - cn: client\n    deny: hello.txt\n',
    });
    const l = await next(since);
    assert.equal(l['msg'], 'reloaded', JSON.stringify(l));
    assert.equal(l['trigger'], 'interval');
    assert.equal(l['cert'], 'CN=localhost flipped');
    assert.notEqual(await fingerprintSeen().catch(() => 'refused'), before);
    assert.equal(await ask(), 'ERR forbidden access denied\n');
    // one flip, one reload: nothing changes over the next intervals
    await new Promise((r) => setTimeout(r, 700));
    const reloads = server
      .logLines()
      .slice(since)
      .filter((x) => x['msg'] === 'reloaded');
    assert.equal(reloads.length, 1);
  });

  it('keeps the previous material when the new version is bad, and says so once', async () => {
    const current = await ask();
    const since = server.logLines().length;
    await vol.publish({ ...first, 'tls.key': await readFile(fx.pki.client.key, 'utf8') });
    const l = await next(since);
    assert.equal(l['msg'], FAILED);
    assert.equal(l['trigger'], 'interval');
    assert.equal(l['code'], 'pki-key-mismatch');
    assert.equal(await ask(), current, 'the previous rules and certificate still hold');
    await new Promise((r) => setTimeout(r, 700));
    const failures = server
      .logLines()
      .slice(since)
      .filter((x) => x['msg'] === FAILED);
    assert.equal(failures.length, 1, 'a bad version is tried once, not every interval');
    // the next good version is taken
    const since2 = server.logLines().length;
    await vol.publish(first);
    assert.equal((await next(since2))['msg'], 'reloaded');
    assert.match(await ask(), /^OK 6 plain\n/);
  });
});

describe('ContentWatch', () => {
  it('sees content, not timestamps: a rewrite with the same bytes is no change', async () => {
    const dir = await tempDir();
    try {
      const a = join(dir.path, 'a');
      const gone = join(dir.path, 'gone');
      await writeFile(a, 'one');
      let calls = 0;
      const watch = new ContentWatch([a, gone], 60_000, () => {
        calls++;
        return Promise.resolve();
      });
      watch.start(await contentFingerprint([a, gone]));
      assert.equal(await watch.check(), false);
      await writeFile(a, 'one');
      assert.equal(await watch.check(), false);
      await writeFile(a, 'two');
      assert.equal(await watch.check(), true);
      assert.equal(await watch.check(), false);
      await writeFile(gone, '');
      assert.equal(await watch.check(), true, 'a file that appears is a change');
      assert.equal(calls, 2);
      watch.stop();
    } finally {
      await dir.remove();
    }
  });
});
