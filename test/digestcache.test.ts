import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DigestCache } from '../src/transport/digestcache.js';
import { cliGet, makeFixture } from './helpers/fixture.js';
import { startServer, tempDir } from './helpers/proc.js';

describe('digest cache', () => {
  it('keys on device, inode, size, mtime and ctime; a rewrite in place misses', async () => {
    const dir = await tempDir();
    try {
      const f = join(dir.path, 'f');
      await writeFile(f, 'aaaa');
      const cache = new DigestCache();
      const before = await stat(f);
      cache.set(before, 'x'.repeat(64));
      assert.equal(cache.get(await stat(f)), 'x'.repeat(64));
      await new Promise((r) => setTimeout(r, 15));
      await writeFile(f, 'bbbb'); // same size, same inode
      const after = await stat(f);
      assert.equal(after.ino, before.ino);
      assert.equal(cache.get(after), undefined);
    } finally {
      await dir.remove();
    }
  });

  it('drops the least recently used entry at capacity', () => {
    const cache = new DigestCache(2);
    const st = (ino: number) => ({ dev: 1, ino, size: 1, mtimeMs: 1, ctimeMs: 1 }) as never;
    cache.set(st(1), 'a');
    cache.set(st(2), 'b');
    assert.equal(cache.get(st(1)), 'a'); // 1 is now the most recent
    cache.set(st(3), 'c');
    assert.equal(cache.size, 2);
    assert.equal(cache.get(st(2)), undefined);
    assert.equal(cache.get(st(1)), 'a');
  });

  it('a server never sends a stale digest after a same-size rewrite', async () => {
    const dir = await makeFixture();
    const { pki, root } = dir;
    const server = await startServer(['--pki', pki.pki, '--root', root]);
    try {
      const f = join(root, 'f.bin');
      for (let round = 0; round < 3; round++) {
        const content = randomBytes(200_000);
        await writeFile(f, content);
        const out = join(dir.path, `out-${round}`);
        for (let again = 0; again < 2; again++) {
          const r = await cliGet(server.port, pki.pki, 'f.bin', out);
          assert.equal(r.code, 0, r.stderr);
          const hex = createHash('sha256').update(content).digest('hex');
          assert.equal(r.stdout, `${hex}  ${out}\n`);
          assert.ok((await readFile(out)).equals(content));
        }
        await new Promise((r) => setTimeout(r, 15));
      }
    } finally {
      await server.stop();
      await dir.remove();
    }
  });
});
