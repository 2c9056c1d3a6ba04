import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { appendFile, open, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { READ_CHUNK, SYNC_READ_MAX, readExactly } from '../src/transport/filesource.js';
import { ServedFile } from '../src/servedfile.js';
import { inTempDir, tempDir } from './helpers/proc.js';

/** Drains the generator as the server does: a copy of each piece before asking for the next. */
async function drain(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of src) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

describe('readExactly', () => {
  const chunk = 4096;
  for (const size of [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk + 17]) {
    it(`yields exactly the ${size} bytes of an unchanged file`, async () => {
      const dir = await tempDir();
      try {
        const path = join(dir.path, 'f');
        const data = randomBytes(size);
        await writeFile(path, data);
        const fh = await open(path, 'r');
        try {
          assert.deepEqual(await drain(readExactly(fh, await fh.stat(), { chunk })), data);
        } finally {
          await fh.close();
        }
      } finally {
        await dir.remove();
      }
    });
  }

  it('a pseudo-file whose size says 0 (/proc) fails with file-changed, not an empty copy', async () => {
    const fh = await open('/proc/sys/kernel/hostname', 'r');
    try {
      const st = await fh.stat();
      assert.equal(st.size, 0, 'the premise: /proc reports size 0');
      await assert.rejects(drain(readExactly(fh, st)), {
        code: 'file-changed',
        message: /more bytes than its size of 0 said/,
      });
    } finally {
      await fh.close();
    }
  });

  it('a file that grew after its stat fails with file-changed before the last announced piece', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'f');
      await writeFile(path, randomBytes(3 * chunk));
      const fh = await open(path, 'r');
      try {
        const st = await fh.stat();
        await appendFile(path, 'more');
        const seen: number[] = [];
        await assert.rejects(
          (async () => {
            for await (const b of readExactly(fh, st, { chunk })) seen.push(b.length);
          })(),
          { code: 'file-changed' },
        );
        // Held back: a receiver counting bytes (HTTP Content-Length) must never get them all.
        assert.deepEqual(seen, [chunk, chunk], 'all but the last piece, then the failure');
      } finally {
        await fh.close();
      }
    } finally {
      await dir.remove();
    }
  });

  it('a file that shrank fails with file-changed', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'f');
      await writeFile(path, randomBytes(3 * chunk));
      const fh = await open(path, 'r+');
      try {
        const st = await fh.stat();
        await fh.truncate(chunk);
        await assert.rejects(drain(readExactly(fh, st, { chunk })), { code: 'file-changed' });
      } finally {
        await fh.close();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe('readExactly over a byte range', () => {
  it('yields exactly [start, end) and still checks the whole file before the last piece', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'f');
      const data = randomBytes(10_000);
      await writeFile(path, data);
      const fh = await open(path, 'r');
      try {
        const st = await fh.stat();
        const chunk = 4096;
        for (const [start, end] of [
          [0, 1],
          [100, 100 + chunk],
          [100, 100 + chunk + 1],
          [9_999, 10_000],
          [5, 5],
        ] as const) {
          const got = await drain(readExactly(fh, st, { chunk, start, end }));
          assert.ok(got.equals(data.subarray(start, end)), `${start}-${end}`);
        }
        await appendFile(path, 'x');
        await assert.rejects(drain(readExactly(fh, st, { chunk, start: 0, end: 10 })), {
          code: 'file-changed',
        });
      } finally {
        await fh.close();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe('readExactly of a ServedFile: small ranges with blocking calls, the rest streamed', () => {
  const openServed = (path: string, flags = 'r'): ServedFile =>
    new ServedFile(openSync(path, flags));

  for (const size of [1, 1000, SYNC_READ_MAX, SYNC_READ_MAX + 1, 3 * READ_CHUNK + 5]) {
    it(`yields exactly the ${size} bytes, in ${size <= SYNC_READ_MAX ? 'one piece' : 'pieces'}`, () =>
      inTempDir(async (dir) => {
        const path = join(dir, 'f');
        const data = randomBytes(size);
        await writeFile(path, data);
        const f = openServed(path);
        try {
          const pieces: Buffer[] = [];
          for await (const b of readExactly(f, f.statSync())) pieces.push(Buffer.from(b));
          assert.ok(Buffer.concat(pieces).equals(data));
          assert.equal(pieces.length, Math.max(1, Math.ceil(size / READ_CHUNK)));
          const range = await drain(readExactly(f, f.statSync(), { start: 1, end: size }));
          assert.ok(range.equals(data.subarray(1)));
        } finally {
          await f.close();
        }
      }));
  }

  it('a small file that grew, shrank or was touched after its stat yields nothing: file-changed', () =>
    inTempDir(async (dir) => {
      const path = join(dir, 'f');
      for (const change of ['grew', 'shrank', 'range-grew', 'touched'] as const) {
        await writeFile(path, randomBytes(1000));
        const f = openServed(path, 'r+');
        try {
          const st = f.statSync();
          if (change === 'shrank') await truncate(path, 999);
          else if (change === 'touched') await utimes(path, new Date(0), new Date(0));
          else await appendFile(path, 'x');
          const seen: number[] = [];
          const end = change === 'range-grew' ? 10 : undefined;
          await assert.rejects(
            (async () => {
              for await (const b of readExactly(f, st, { end })) seen.push(b.length);
            })(),
            { code: 'file-changed' },
            change,
          );
          assert.deepEqual(seen, [], change);
        } finally {
          await f.close();
        }
      }
    }));

  it('a pseudo-file whose size says 0 fails with file-changed', async () => {
    const f = openServed('/proc/sys/kernel/hostname');
    try {
      await assert.rejects(drain(readExactly(f, f.statSync())), { code: 'file-changed' });
    } finally {
      await f.close();
    }
  });
});
