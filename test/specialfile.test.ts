/**
 * Outputs written in place (src/specialfile.ts): which paths are, what commit and abort do to
 * them (nothing but close), and a FIFO's open, which waits for a reader without blocking the
 * process. The devices are made here (`mknod c 1 3`, the null device; root, as CI is).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { lstat, readdir, readFile, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { AtomicFile } from '../src/atomic.js';
import { SecureStreamError } from '../src/errors.js';
import { InPlaceFile, openOutput, specialKind } from '../src/specialfile.js';
import { run, tempDir } from './helpers/proc.js';
import { isRoot } from './helpers/tmpfs.js';

describe('outputs written in place', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  const fresh = (name: string): string => join(dir.path, `${++n}-${name}`);

  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  it('a regular file, a missing path and a folder are not special', async () => {
    assert.equal(await specialKind(fresh('missing')), undefined);
    assert.equal(await specialKind(dir.path), undefined);
    const file = await openOutput(fresh('regular'));
    assert.ok(file instanceof AtomicFile);
    await file.abort();
  });

  it('a socket is refused with output-is-socket', async () => {
    const path = fresh('sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      await assert.rejects(openOutput(path), (e: unknown) => {
        assert.ok(e instanceof SecureStreamError);
        assert.equal(e.code, 'output-is-socket');
        return true;
      });
      assert.ok((await lstat(path)).isSocket());
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
  });

  it(
    'a null device is written in place; commit and abort leave it a device',
    { skip: !isRoot && 'mknod needs root' },
    async () => {
      const path = fresh('null');
      execFileSync('mknod', [path, 'c', '1', '3']);
      const link = fresh('link');
      await symlink(path, link);
      for (const target of [path, link]) {
        assert.equal(await specialKind(target), 'character device');
        const file = await openOutput(target);
        assert.ok(file instanceof InPlaceFile);
        assert.equal(file.tempPath, target);
        await pipeline(Readable.from([Buffer.alloc(100_000, 1)]), file.sink());
        await file.commit(); // fsync of the null device fails with EINVAL: not an error here
        await file.abort();
        const again = await openOutput(target);
        await again.abort();
        assert.ok((await lstat(path)).isCharacterDevice());
        assert.ok((await lstat(link)).isSymbolicLink());
      }
    },
  );

  it('a FIFO: open waits for a reader, the bytes arrive in order, nothing is left', async () => {
    const path = fresh('fifo');
    execFileSync('mkfifo', [path]);
    const before = await readdir(dir.path);
    let opened = false;
    const opening = openOutput(path).then((f) => {
      opened = true;
      return f;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(opened, false, 'opened with no reader');
    const read = run('cat', [path]);
    const file = await opening;
    assert.ok(file instanceof InPlaceFile && file.kind === 'FIFO');
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16_384, i));
    // Two sinks in turn, as a resumed download writes on after a failed attempt.
    await pipeline(Readable.from(chunks.slice(0, 20)), file.sink());
    await pipeline(Readable.from(chunks.slice(20)), file.sink());
    await file.commit();
    assert.ok((await read).stdoutBytes.equals(Buffer.concat(chunks)));
    assert.ok((await lstat(path)).isFIFO());
    assert.deepEqual(await readdir(dir.path), before);
  });

  it('a FIFO without a reader: an abort of the signal ends the wait, the FIFO stays', async () => {
    const path = fresh('fifo');
    execFileSync('mkfifo', [path]);
    const ac = new AbortController();
    const opening = openOutput(path, { signal: ac.signal });
    setTimeout(() => {
      ac.abort(new Error('interrupted'));
    }, 150);
    await assert.rejects(opening, /interrupted/);
    assert.ok((await lstat(path)).isFIFO());
  });

  it('a path that stopped being special is written as a new file', async () => {
    const path = fresh('was-fifo');
    assert.equal(await InPlaceFile.open(path, 'FIFO', undefined), undefined);
    assert.equal(await InPlaceFile.open(path, 'character device', undefined), undefined);
    const file = await openOutput(path);
    assert.ok(file instanceof AtomicFile);
    await file.handle.writeFile('x');
    await file.commit();
    assert.equal(await readFile(path, 'utf8'), 'x');
  });
});
