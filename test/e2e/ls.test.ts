/**
 * `securestream ls` against a real server with access rules: a client sees exactly what it may
 * read (a denied file or folder is invisible, to `ls` and to patterns alike), in names,
 * `--long` and `--json`; a server without HTTP says it has no listing.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, useServedFixture, type Fixture } from '../helpers/fixture.js';
import { runCli, startServer, type ServerProcess } from '../helpers/proc.js';

const sha256 = (b: string): string => createHash('sha256').update(b).digest('hex');

describe('ls', () => {
  let dir: Fixture;
  let server: ServerProcess;
  let lineOnly: ServerProcess;

  before(async () => {
    dir = await makeFixture({
      'top.txt': 'top\n',
      'public/a.txt': 'a\n',
      'public/sub/b.txt': 'bb\n',
      'public/secret.txt': 'not for client\n',
      'secret/s.txt': 's\n',
      'other/o.txt': 'o\n',
    });
    const rules = join(dir.path, 'rules.yaml');
    await writeFile(
      rules,
      [
        'rules:',
        '  - cn: client',
        '    deny: ["public/secret.txt", "secret/**"]',
        '  - cn: client',
        '    allow: ["public/**", "top.txt"]',
        '',
      ].join('\n'),
    );
    server = await startServer(['--pki', dir.pki.pki, '--root', dir.root, '--access', rules]);
    lineOnly = await startServer(['--pki', dir.pki.pki, '--root', dir.root, '--no-http']);
  });
  after(async () => {
    await server.stop();
    await lineOnly.stop();
    await dir.remove();
  });

  const ls = (args: string[], port = server.port) =>
    runCli(['ls', ...args, '--server', `localhost:${port}`, '--pki', dir.pki.pki]);
  const get = (args: string[]) =>
    runCli(['get', ...args, '--server', `localhost:${server.port}`, '--pki', dir.pki.pki]);

  it('the root: only what the rules let this client read; denied files and folders are invisible', async () => {
    const r = await ls([]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'public/\ntop.txt\n');
  });

  it('a folder, --long: type, size, time, SHA-256 when known, name', async () => {
    await get(['public/a.txt', '--out', '-']);
    const r = await ls(['public', '--long']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2, r.stdout);
    assert.match(
      lines[0] ?? '',
      new RegExp(`^- +2 {2}\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z {2}${sha256('a\n')} {2}public/a\\.txt$`),
    );
    assert.match(lines[1] ?? '', /^d +- {2}\S+ {2}- +public\/sub\/$/);
  });

  it('--json: one array of entries with full names', async () => {
    const r = await ls(['--json', 'public/**']);
    assert.equal(r.code, 0, r.stderr);
    const entries = JSON.parse(r.stdout) as { name: string; type: string; size?: number }[];
    assert.deepEqual(
      entries.map((e) => [e.name, e.type, e.size]),
      [
        ['public/a.txt', 'file', 2],
        ['public/sub', 'folder', undefined],
        ['public/sub/b.txt', 'file', 3],
      ],
    );
  });

  it('a denied folder is refused like one that does not exist; patterns never reach denied files', async () => {
    const denied = await ls(['secret']);
    assert.equal(denied.code, 4, denied.stderr);
    assert.match(denied.stderr, /^securestream: error: the server refused "secret": forbidden/m);
    const got = await get(['secret/*', 'public/*.txt', '--out', dir.path]);
    assert.equal(got.code, 4, got.stderr);
    assert.equal(got.stdout, `${sha256('a\n')}  ${join(dir.path, 'a.txt')}\n`);
  });

  it('a name that is neither file nor folder: refused, quoted as typed (no slash added)', async () => {
    // Under access rules a missing name is refused as a denied one is: forbidden.
    const r = await ls(['nope']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(
      r.stderr,
      /^securestream: error: the server refused "nope": forbidden \(access denied\)$/m,
    );
    assert.doesNotMatch(r.stderr, /"nope\/"/);
    assert.equal(r.stdout, '');
  });

  it('a file name lists that file', async () => {
    const r = await ls(['public/sub/b.txt']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'public/sub/b.txt\n');
  });

  it('a server without HTTP has no listing: a refusal that says so', async () => {
    const r = await ls([], lineOnly.port);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /does not speak HTTP\/1\.1/);
  });
});

describe('ls without access rules', () => {
  const fx = useServedFixture({ 'logs/a.log': 'a\n' });

  it('a name that is neither file nor folder: not-found, quoted as typed', async () => {
    const r = await runCli([
      'ls',
      'nope',
      '--server',
      `localhost:${fx.server.port}`,
      '--pki',
      fx.pki.pki,
    ]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(
      r.stderr,
      /^securestream: error: the server refused "nope": not-found \(no such file or folder\)$/m,
    );
    assert.equal(r.stdout, '');
  });
});
