/**
 * serve --access: identities (CN, SAN DNS/email/URI, fingerprint) mapped to globs, first match
 * wins, denials byte-identical to a refusal outside the root, the deciding rule in the log,
 * symlinks inside the root unable to widen a grant, and invalid files refused at start.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliGet, cliServeRefuses, makeFixture, type Fixture } from '../helpers/fixture.js';
import { issueFromTestCa, type CertFiles, type TestPki } from '../helpers/pki.js';
import { startServer, type ServerProcess } from '../helpers/proc.js';
import { rawExchange } from '../helpers/raw.js';

const DENIED = 'ERR forbidden access denied\n';

describe('access rules', () => {
  let dir: Fixture;
  let pki: TestPki;
  let server: ServerProcess;
  let root: string;
  let sanClient: CertFiles;

  before(async () => {
    const files = ['public/a.txt', 'secret/s.txt', 'ci/c.txt', 'ops/o.txt', 'artifacts/x.bin'];
    dir = await makeFixture({
      ...Object.fromEntries(files.map((f) => [f, `${f}\n`])),
      'pinned/p.txt': 'pinned\n',
      '.env': 'TOKEN=1\n',
    });
    ({ pki, root } = dir);
    const day = 86_400_000;
    const made = await issueFromTestCa(pki, {
      kind: 'client',
      commonName: 'robot',
      dnsNames: ['build.example.org'],
      emails: ['ops@example.org'],
      uris: ['spiffe://example.org/ci'],
      keySpec: { kind: 'ec', curve: 'P-256' },
      notBefore: new Date(Date.now() - day),
      notAfter: new Date(Date.now() + day),
    });
    sanClient = { cert: join(dir.path, 'robot.crt'), key: join(dir.path, 'robot.key') };
    await writeFile(sanClient.cert, made.certPem);
    await writeFile(sanClient.key, made.keyPem, { mode: 0o600 });

    await symlink('../secret/s.txt', join(root, 'public/leak.txt'));

    const client2Fp = new X509Certificate(await readFile(pki.client2.cert)).fingerprint256;
    const rules = join(dir.path, 'rules.yaml');
    await writeFile(
      rules,
      [
        '# who may read what; first match wins, no match is denied',
        'rules:',
        '  - cn: client',
        '    deny: ["secret/**"]',
        '  - cn: client',
        '    allow: ["**"]',
        `  - fingerprint: "${client2Fp}"`,
        '    allow: pinned/*',
        '  - dns: build.example.org',
        '    allow: artifacts/**',
        '  - email: ops@example.org',
        '    allow: ops/*',
        '  - uri: spiffe://example.org/ci',
        '    allow: ci/*',
        '',
      ].join('\n'),
    );
    server = await startServer(['--pki', pki.pki, '--root', root, '--access', rules]);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  async function ask(client: CertFiles, name: string): Promise<string> {
    const r = await rawExchange({ port: server.port, ca: pki.ca, client, send: `GET ${name}\n` });
    return r.received.toString();
  }

  async function logFor(name: string, since: number): Promise<Record<string, unknown>> {
    return server.waitForLog((l) => l['msg'] === 'connection' && l['request'] === name, {
      since,
    });
  }

  it('allows by CN and logs the rule', async () => {
    const since = server.logLines().length;
    assert.match(await ask(pki.client, 'public/a.txt'), /^OK 13 plain\npublic\/a\.txt\nSHA256 /);
    const l = await logFor('public/a.txt', since);
    assert.equal(l['outcome'], 'ok');
    assert.equal(l['rule'], 'rules.yaml#2 (cn=client)');
  });

  it('denies with the bytes of a refusal outside the root, and logs the deciding rule', async () => {
    const since = server.logLines().length;
    const outside = await ask(pki.client, '/etc/passwd');
    const denied = await ask(pki.client, 'secret/s.txt');
    const missing = await ask(pki.client, 'secret/does-not-exist');
    assert.equal(outside, DENIED);
    assert.equal(denied, DENIED);
    assert.equal(missing, DENIED, 'a denied client must not learn what exists');
    const l = await logFor('secret/s.txt', since);
    assert.equal(l['outcome'], 'forbidden');
    assert.equal(l['rule'], 'rules.yaml#1 (cn=client)');
  });

  it('a symlink inside the root cannot lead to a denied file', async () => {
    const since = server.logLines().length;
    assert.equal(await ask(pki.client, 'public/leak.txt'), DENIED);
    const l = await logFor('public/leak.txt', since);
    assert.equal(l['rule'], 'rules.yaml#1 (cn=client) via "secret/s.txt"');
  });

  it('** in an allow list does not reach dotfiles', async () => {
    assert.equal(await ask(pki.client, '.env'), DENIED);
  });

  it('matches a pinned SHA-256 fingerprint', async () => {
    const since = server.logLines().length;
    assert.match(await ask(pki.client2, 'pinned/p.txt'), /^OK 7 plain\n/);
    assert.equal(await ask(pki.client2, 'public/a.txt'), DENIED);
    const l = await logFor('pinned/p.txt', since);
    assert.match(String(l['rule']), /^rules\.yaml#3 \(fingerprint=[0-9a-f]{64}\)$/);
  });

  it('matches subjectAltName DNS, email and URI', async () => {
    assert.match(await ask(sanClient, 'artifacts/x.bin'), /^OK /);
    assert.match(await ask(sanClient, 'ops/o.txt'), /^OK /);
    assert.match(await ask(sanClient, 'ci/c.txt'), /^OK /);
    assert.equal(await ask(sanClient, 'public/a.txt'), DENIED);
  });

  it('a client no rule names is denied; the log says so', async () => {
    const since = server.logLines().length;
    assert.equal(await ask(pki.rsaClient, 'public/a.txt'), DENIED);
    const l = await logFor('public/a.txt', since);
    assert.equal(l['rule'], 'rules.yaml (no rule matched: denied)');
  });

  it('get exits 4 on a denied name and stores nothing', async () => {
    const out = join(dir.path, 'denied.txt');
    const r = await cliGet(server.port, pki.pki, 'secret/s.txt', out);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /forbidden \(access denied\)/);
    await assert.rejects(readFile(out), { code: 'ENOENT' });
  });

  it('an invalid rules file stops the server at start, naming file, line and key', async () => {
    const bad = join(dir.path, 'bad.yaml');
    await writeFile(bad, 'rules:\n  - cn: alice\n    paths: ["**"]\n');
    const r = await cliServeRefuses(pki.pki, root, ['--access', bad]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.split('\n')[0],
      `securestream: error: access rules "${bad}" line 3: unknown key "paths"`,
    );
    const missing = await cliServeRefuses(pki.pki, root, ['--access', join(dir.path, 'nope.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /access rules ".*nope\.yaml" do not exist/);
  });
});
