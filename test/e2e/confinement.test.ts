/**
 * Names that try to leave the served root, or are not regular files: each gets its code, the
 * same words whether or not the target exists, and not one byte of anything outside.
 */
import { strict as assert } from 'node:assert';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeFixture, type Fixture } from '../helpers/fixture.js';
import type { TestPki } from '../helpers/pki.js';
import { startServer, type ServerProcess } from '../helpers/proc.js';
import { rawExchange } from '../helpers/raw.js';

const SECRET = 'top-secret-outside-the-root';

describe('path confinement', () => {
  let dir: Fixture;
  let pki: TestPki;
  let server: ServerProcess;

  before(async () => {
    dir = await makeFixture({ 'inside.txt': 'inside\n' });
    pki = dir.pki;
    const root = dir.root;
    await mkdir(join(root, 'sub'));
    await writeFile(join(dir.path, 'secret.txt'), SECRET);
    await symlink(join(dir.path, 'secret.txt'), join(root, 'escape'));
    await symlink(dir.path, join(root, 'escape-dir'));
    await symlink(join(root, 'inside.txt'), join(root, 'sub', 'alias'));
    await symlink(join(dir.path, 'does-not-exist'), join(root, 'dangling-out'));
    server = await startServer(['--pki', pki.pki, '--root', root]);
  });
  after(async () => {
    await server.stop();
    await dir.remove();
  });

  const ask = async (request: Buffer | string): Promise<string> => {
    const r = await rawExchange({
      port: server.port,
      ca: pki.ca,
      client: pki.client,
      send: request,
    });
    const text = r.received.toString('latin1');
    assert.ok(!text.includes(SECRET), 'a refusal leaked bytes from outside the root');
    return text;
  };

  const cases: [string, Buffer | string, string][] = [
    ['a ".." segment', 'GET ../secret.txt\n', 'ERR forbidden access denied\n'],
    ['a ".." in the middle', 'GET sub/../../secret.txt\n', 'ERR forbidden access denied\n'],
    ['an absolute path', `GET /etc/passwd\n`, 'ERR forbidden access denied\n'],
    ['a backslash', 'GET ..\\secret.txt\n', 'ERR forbidden access denied\n'],
    ['a symlink out of the root', 'GET escape\n', 'ERR forbidden access denied\n'],
    [
      'a path through a symlinked folder out of the root',
      'GET escape-dir/secret.txt\n',
      'ERR forbidden access denied\n',
    ],
    [
      'a missing file behind a symlink out of the root',
      'GET escape-dir/nothing-here\n',
      'ERR forbidden access denied\n',
    ],
    ['a dangling symlink out of the root', 'GET dangling-out\n', 'ERR forbidden access denied\n'],
    ['a directory', 'GET sub\n', 'ERR forbidden access denied\n'],
    ['a missing file', 'GET nothing-here.txt\n', 'ERR not-found no such file\n'],
    [
      'a NUL byte',
      Buffer.from('GET inside.txt\0x\n', 'latin1'),
      'ERR bad-request name contains a control character\n',
    ],
    ['an empty name', 'GET \n', 'ERR bad-request empty name\n'],
    ['an empty segment', 'GET sub//alias\n', 'ERR bad-request name has an empty segment\n'],
    [
      'invalid UTF-8',
      Buffer.from([0x47, 0x45, 0x54, 0x20, 0xff, 0xfe, 0x0a]),
      'ERR bad-request name is not valid UTF-8\n',
    ],
    ['a lower-case verb', 'get inside.txt\n', 'ERR bad-request expected "GET <name>"\n'],
    [
      'bytes after the request line',
      'GET inside.txt\nGET inside.txt\n',
      'ERR bad-request data after the request line\n',
    ],
    [
      'a request line over 4096 bytes',
      `GET ${'a'.repeat(5000)}\n`,
      'ERR bad-request request line too long\n',
    ],
    [
      'a name over 1024 bytes',
      `GET ${'a'.repeat(1025)}\n`,
      'ERR bad-request name longer than 1024 bytes\n',
    ],
  ];
  for (const [what, request, expected] of cases) {
    it(`refuses ${what}`, async () => {
      assert.equal(await ask(request), expected);
    });
  }

  it('serves a symlink that stays inside the root, and CR LF line ends', async () => {
    const text = await ask('GET sub/alias\r\n');
    assert.match(text, /^OK 7 plain\ninside\nSHA256 [0-9a-f]{64}\n$/);
  });

  it('answers garbage without a newline by closing after the line cap', async () => {
    assert.equal(await ask(Buffer.alloc(8192, 0x41)), 'ERR bad-request request line too long\n');
  });

  it('logs every refusal with its outcome and the server keeps serving', async () => {
    const line = await server.waitForLog(
      (l) => l['request'] === 'escape' && l['outcome'] === 'forbidden',
    );
    assert.equal(line['reason'], 'outside the served root');
    const ok = await ask('GET inside.txt\n');
    assert.match(ok, /^OK 7 plain\ninside\n/);
  });
});
