import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { appendFile, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readExactly } from '../src/transport/filesource.js';
import { tempDir } from './helpers/proc.js';

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
