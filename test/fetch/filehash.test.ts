import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { open, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { GrowingFileHash, READ_BYTES } from '../../src/fetch/filehash.js';
import { FileSink } from '../../src/filesink.js';
import { SecureStreamError } from '../../src/errors.js';
import { inTempDir } from '../helpers/proc.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A GrowingFileHash of `path` from `written` bytes on, given to `fn` and closed after it. */
async function withHash(
  path: string,
  written: number,
  fn: (h: GrowingFileHash) => Promise<void>,
): Promise<void> {
  const h = new GrowingFileHash(path, written);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

describe('GrowingFileHash', () => {
  it('hashes a kept prefix and the bytes a FileSink appends after it, across a rename', () =>
    inTempDir(async (dir) => {
      const path = join(dir, 'part');
      const prefix = randomBytes(3 * READ_BYTES + 17);
      await writeFile(path, prefix);
      const handle = await open(path, 'r+');
      await withHash(path, prefix.length, async (h) => {
        const sink = new FileSink(handle, path, {
          position: prefix.length,
          ringBytes: 64 * 1024,
          onWritten: (n) => {
            h.written(n);
          },
        });
        const rest: Buffer[] = [];
        for (let i = 0; i < 300; i++) {
          const chunk = randomBytes(1 + ((i * 7919) % 40_000));
          rest.push(chunk);
          if (!sink.write(chunk)) await new Promise((r) => sink.once('drain', r));
        }
        sink.end();
        await finished(sink);
        // The worker reads through its own descriptor: a rename and the writer's close do
        // not stop it.
        await handle.close();
        await rename(path, join(dir, 'renamed'));
        const whole = Buffer.concat([prefix, ...rest]);
        assert.equal(await h.digest(whole.length), sha(whole));
      });
    }));

  it('a file shorter than announced is an output error, not a digest', () =>
    inTempDir(async (dir) => {
      const path = join(dir, 'short');
      await writeFile(path, randomBytes(1000));
      await withHash(path, 1000, async (h) => {
        await assert.rejects(h.digest(2000), (e: unknown) => {
          assert.ok(e instanceof SecureStreamError);
          assert.equal(e.code, 'output-failed');
          assert.match(e.message, /file ended at byte 1000, before byte 2000/);
          return true;
        });
      });
    }));

  it('close stops a worker that waits for bytes that never come; a missing file fails at once', () =>
    inTempDir(async (dir) => {
      const path = join(dir, 'idle');
      await writeFile(path, Buffer.alloc(10));
      const h = new GrowingFileHash(path, 10);
      await h.close();
      await h.close();
      assert.throws(
        () => new GrowingFileHash(join(dir, 'absent'), 0),
        (e: unknown) => e instanceof SecureStreamError && e.code === 'output-failed',
      );
    }));
});
