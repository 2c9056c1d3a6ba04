import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { open, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { GrowingFileHash, READ_BYTES } from '../../src/fetch/filehash.js';
import { FileSink } from '../../src/filesink.js';
import { SecureStreamError } from '../../src/errors.js';
import { tempDir } from '../helpers/proc.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('GrowingFileHash', () => {
  it('hashes a kept prefix and the bytes a FileSink appends after it, across a rename', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'part');
      const prefix = randomBytes(3 * READ_BYTES + 17);
      await writeFile(path, prefix);
      const handle = await open(path, 'r+');
      const h = new GrowingFileHash(path, prefix.length);
      try {
        const sink = new FileSink(handle, path, {
          position: prefix.length,
          highWaterMark: 64 * 1024,
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
        // The worker reads through its own descriptor: a rename and the writer's close do not
        // stop it.
        await handle.close();
        await rename(path, join(dir.path, 'renamed'));
        const whole = Buffer.concat([prefix, ...rest]);
        assert.equal(await h.digest(whole.length), sha(whole));
      } finally {
        await h.close();
      }
    } finally {
      await dir.remove();
    }
  });

  it('a file shorter than announced is an output error, not a digest', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'short');
      await writeFile(path, randomBytes(1000));
      const h = new GrowingFileHash(path, 1000);
      try {
        await assert.rejects(h.digest(2000), (e: unknown) => {
          assert.ok(e instanceof SecureStreamError);
          assert.equal(e.code, 'output-failed');
          assert.match(e.message, /file ended at byte 1000, before byte 2000/);
          return true;
        });
      } finally {
        await h.close();
      }
    } finally {
      await dir.remove();
    }
  });

  it('close stops a worker that waits for bytes that never come; a missing file fails at once', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'idle');
      await writeFile(path, Buffer.alloc(10));
      const h = new GrowingFileHash(path, 10);
      await h.close();
      await h.close();
      assert.throws(
        () => new GrowingFileHash(join(dir.path, 'absent'), 0),
        (e: unknown) => e instanceof SecureStreamError && e.code === 'output-failed',
      );
    } finally {
      await dir.remove();
    }
  });
});
