/**
 * The single executable (`npm run dist`, issue 12): built from this tree, it runs every
 * first-day command, `serve --workers 2` included, with no node on the PATH.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runInstalled, smokeTest, type Installed } from '../helpers/installed.js';
import { tempDir } from '../helpers/proc.js';
import { ROOT } from '../helpers/source.js';

describe('single executable', { timeout: 300_000 }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let exe: Installed;

  before(async () => {
    tmp = await tempDir();
    const out = execFileSync(process.execPath, [join(ROOT, 'dist/scripts/dist.js')], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 240_000,
    });
    const file = out.trim().split('\n').pop() ?? '';
    assert.match(file, /dist\/bin\/securestream-linux-x64$/);
    // An empty folder as the whole PATH: no node, no npm, nothing to fall back on.
    const bare = join(tmp.path, 'empty-path');
    await mkdir(bare);
    exe = { cmd: [file], env: { PATH: bare } };
  });
  after(async () => {
    await tmp.remove();
  });

  it('prints its version and the Node.js and OpenSSL built into it, with no node on the PATH', async () => {
    const noNode = await runInstalled(
      { cmd: ['/bin/sh', '-c', 'command -v node'], env: exe.env },
      [],
      tmp.path,
    );
    assert.notEqual(noNode.code, 0, 'node is reachable from the test PATH');
    const r = await runInstalled(exe, ['--version'], tmp.path);
    assert.equal(r.code, 0, r.stderr);
    const pinned = (
      JSON.parse(execFileSync('cat', [join(ROOT, 'package.json')], { encoding: 'utf8' })) as {
        devDependencies: Record<string, string>;
      }
    ).devDependencies['node'];
    assert.match(
      r.stdout,
      new RegExp(`^securestream \\d+\\.\\d+\\.\\d+\\nNode\\.js ${pinned ?? '?'}\\nOpenSSL `),
    );
  });

  it('pki init, serve --workers 2, two gets, encrypt and decrypt, all through the executable', async () => {
    const work = join(tmp.path, 'smoke');
    await mkdir(work);
    await smokeTest(exe, work, 2);
  });

  it('usage errors keep their exit code and house format', async () => {
    const r = await runInstalled(exe, ['get'], tmp.path);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^securestream: error: nothing to get$/m);
  });
});
