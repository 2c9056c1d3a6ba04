import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { FileSink } from '../src/filesink.js';
import { tempDir } from './helpers/proc.js';

describe('file sink', () => {
  it('stores every byte in order while background fdatasyncs overlap the writes', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'out');
      const handle = await open(path, 'wx');
      const sink = new FileSink(handle, path, {
        writebackBytes: 256 * 1024,
        ringBytes: 64 * 1024,
      });
      const source = createHash('sha256');
      let total = 0;
      for (let i = 0; i < 400; i++) {
        const chunk = randomBytes(1 + ((i * 7919) % 40_000));
        source.update(chunk);
        total += chunk.length;
        if (!sink.write(chunk)) await new Promise((r) => sink.once('drain', r));
      }
      sink.end();
      await finished(sink);
      await handle.close();
      const stored = await readFile(path);
      assert.equal(stored.length, total);
      assert.equal(createHash('sha256').update(stored).digest('hex'), source.digest('hex'));
      assert.ok(sink.syncs >= 2, `expected background syncs for ${total} bytes, saw ${sink.syncs}`);
    } finally {
      await dir.remove();
    }
  });

  it('fails with output-failed when the file cannot be written, and syncs nothing', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'out');
      await (await open(path, 'w')).close();
      const handle = await open(path, 'r');
      const sink = new FileSink(handle, path, { writebackBytes: 1024 });
      const err = await new Promise<unknown>((resolve) => {
        sink.on('error', resolve);
        sink.write(randomBytes(4096));
      });
      await handle.close();
      assert.equal((err as { code?: string }).code, 'output-failed');
      assert.equal(sink.syncs, 0);
    } finally {
      await dir.remove();
    }
  });

  it('from a position on: appends after what is there (a resumed download), positions tracked', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'out');
      const head = randomBytes(5000);
      const tail = randomBytes(70_000);
      await writeFile(path, Buffer.concat([head, Buffer.from('stale tail')]));
      const handle = await open(path, 'r+');
      await handle.truncate(head.length);
      const sink = new FileSink(handle, path, { position: head.length, ringBytes: 1024 });
      for (let i = 0; i < tail.length; i += 7000) sink.write(tail.subarray(i, i + 7000));
      sink.end();
      await finished(sink);
      await handle.close();
      assert.equal(sink.position, head.length + tail.length);
      assert.ok((await readFile(path)).equals(Buffer.concat([head, tail])));
    } finally {
      await dir.remove();
    }
  });

  it('through a ring smaller than the chunks: every byte in order, chunks reusable once taken', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'out');
      const handle = await open(path, 'wx');
      // A ring smaller than the chunks: every chunk wraps it and waits for room.
      const sink = new FileSink(handle, path, { ringBytes: 3000 });
      const reused = Buffer.alloc(10_000);
      const expected: Buffer[] = [];
      for (let i = 0; i < 50; i++) {
        randomBytes(reused.length).copy(reused);
        expected.push(Buffer.from(reused));
        // The producer overwrites its buffer as soon as the sink has taken it.
        await new Promise<void>((resolve, reject) => {
          sink.write(reused, (e) => {
            if (e) reject(e);
            else resolve();
          });
        });
        reused.fill(0xee);
      }
      sink.end();
      await finished(sink);
      await handle.close();
      assert.ok((await readFile(path)).equals(Buffer.concat(expected)));
      assert.equal(sink.position, 500_000);
    } finally {
      await dir.remove();
    }
  });
});
