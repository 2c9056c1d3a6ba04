/** Names for `get`: patterns told from plain names, and `--from` lists checked line by line. */
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SecureStreamError } from '../../src/errors.js';
import { isPattern, readNameList } from '../../src/fetch/names.js';
import { tempDir } from '../helpers/proc.js';

const noStdin = (): Promise<Buffer> => Promise.reject(new Error('no stdin here'));

describe('names', () => {
  it('patterns: * ? [ ] { } and **; plain names are not', () => {
    for (const p of ['*.gz', 'logs/**/*.gz', 'a?.txt', 'f[0-9].bin', '{a,b}.txt']) {
      assert.equal(isPattern(p), true, p);
    }
    for (const n of ['a.txt', 'logs/2024/app.gz', 'with space.txt', 'ü.bin']) {
      assert.equal(isPattern(n), false, n);
    }
  });

  it('--from a file that is missing or a folder: input-not-found / input-unreadable, a hint, no errno text', async () => {
    const dir = await tempDir();
    try {
      const missing = join(dir.path, 'missing.txt');
      await assert.rejects(readNameList(missing, noStdin), (e: unknown) => {
        assert.ok(e instanceof SecureStreamError);
        assert.equal(e.code, 'input-not-found');
        assert.equal(e.message, `name list "${missing}" does not exist`);
        assert.equal(
          e.hint,
          '--from takes a file of names, one per line, or "-" for standard input',
        );
        return true;
      });
      await assert.rejects(readNameList(dir.path, noStdin), (e: unknown) => {
        assert.ok(e instanceof SecureStreamError);
        assert.equal(e.code, 'input-unreadable');
        assert.equal(e.message, `cannot read the name list "${dir.path}": it is a folder`);
        return true;
      });
    } finally {
      await dir.remove();
    }
  });

  it('--from: one name per line, CR LF and blank lines accepted', async () => {
    const dir = await tempDir();
    try {
      const list = join(dir.path, 'list');
      await writeFile(list, 'a.txt\r\n\nsub/b.bin\n  \nc d.txt');
      assert.deepEqual(await readNameList(list, noStdin), ['a.txt', 'sub/b.bin', 'c d.txt']);
      assert.deepEqual(await readNameList('-', () => Promise.resolve(Buffer.from('x\ny\n'))), [
        'x',
        'y',
      ]);
    } finally {
      await dir.remove();
    }
  });

  it('--from: a name the server would refuse is a usage error naming its line', async () => {
    const dir = await tempDir();
    try {
      const list = join(dir.path, 'list');
      await writeFile(list, 'ok.txt\n../etc/passwd\n');
      await assert.rejects(readNameList(list, noStdin), {
        code: 'usage',
        message: /^".*list" line 2: invalid name "\.\.\/etc\/passwd"/,
      });
      await assert.rejects(readNameList(join(dir.path, 'missing'), noStdin), {
        code: 'input-not-found',
      });
    } finally {
      await dir.remove();
    }
  });
});
