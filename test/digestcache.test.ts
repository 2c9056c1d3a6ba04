import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DigestCache, SharedHash } from '../src/transport/digestcache.js';
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

  it('one shared hash for concurrent sends: whoever leads feeds it, stopped sends hand over', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        // per send: piece size, and after how many pieces it stops (or never)
        fc.array(fc.tuple(fc.integer({ min: 1, max: 700 }), fc.option(fc.nat(8))), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (bytes, sends, schedule) => {
          const file = Buffer.from(bytes);
          const h = new SharedHash(file.length);
          const state = sends.map(([piece, stopAfter]) => ({ pos: 0, piece, stopAfter, n: 0 }));
          const live = () => state.filter((s) => s.pos < file.length && s.n !== s.stopAfter);
          const step = (s: (typeof state)[number]) => {
            const b = file.subarray(s.pos, s.pos + s.piece);
            h.offer(s.pos, b);
            s.pos += b.length;
            s.n++;
          };
          for (const pick of schedule) {
            const l = live();
            const s = l[pick % Math.max(l.length, 1)];
            if (s) step(s);
          }
          for (let l = live(); l.length > 0; l = live()) step(l[0] as (typeof state)[number]);
          const someoneFinished = state.some((s) => s.pos >= file.length);
          const want = createHash('sha256').update(file).digest('hex');
          if (someoneFinished) assert.equal(h.digest, want);
          else assert.equal(h.digest, undefined);
        },
      ),
    );
  });

  it('join and leave: one running hash per version, remembered only from a verified send', () => {
    const cache = new DigestCache();
    const st = { dev: 1, ino: 7, size: 3, mtimeMs: 1, ctimeMs: 1 } as never;
    const a = cache.join(st);
    const b = cache.join(st);
    assert.equal(a, b);
    assert.equal(cache.runningCount, 1);
    a.offer(0, Buffer.from('ab'));
    assert.equal(cache.leave(st, a, false), undefined); // a stopped after two bytes
    assert.equal(cache.runningCount, 1); // b still uses it
    b.offer(0, Buffer.from('ab'));
    b.offer(2, Buffer.from('c'));
    const abc = createHash('sha256').update('abc').digest('hex');
    assert.equal(cache.leave(st, b, true), abc);
    assert.equal(cache.runningCount, 0);
    assert.equal(cache.get(st), abc);
    const c = cache.join({ ...(st as object), ino: 8 } as never);
    assert.equal(cache.leave({ ...(st as object), ino: 8 } as never, c, false), undefined);
    assert.equal(cache.runningCount, 0);
    assert.equal(cache.size, 1);
  });
});

describe('digest cache: ensure (HTTP computes the digest before the headers)', () => {
  /** Runs `fn` with the stat of a fresh three-byte file and an empty cache. */
  const withVersion = async (fn: (st: Stats, cache: DigestCache) => Promise<void>) => {
    const dir = await tempDir();
    try {
      const f = join(dir.path, 'f');
      await writeFile(f, 'abc');
      await fn(await stat(f), new DigestCache());
    } finally {
      await dir.remove();
    }
  };

  it('concurrent callers for one version share one computation; the result is remembered', () =>
    withVersion(async (st, cache) => {
      let calls = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const hashNow = async (): Promise<string> => {
        calls++;
        await gate;
        return 'd'.repeat(64);
      };
      const waiting = [
        cache.ensure(st, hashNow),
        cache.ensure(st, hashNow),
        cache.ensure(st, hashNow),
      ];
      release();
      assert.deepEqual(await Promise.all(waiting), [
        'd'.repeat(64),
        'd'.repeat(64),
        'd'.repeat(64),
      ]);
      assert.equal(calls, 1);
      assert.equal(await cache.ensure(st, hashNow), 'd'.repeat(64));
      assert.equal(calls, 1, 'a cached digest costs no computation');
    }));

  it('a failed computation is not remembered: the next caller computes again', () =>
    withVersion(async (st, cache) => {
      await assert.rejects(
        cache.ensure(st, () => Promise.reject(new Error('file changed'))),
        /file changed/,
      );
      assert.equal(cache.get(st), undefined);
      assert.equal(await cache.ensure(st, () => Promise.resolve('e'.repeat(64))), 'e'.repeat(64));
    }));
});
