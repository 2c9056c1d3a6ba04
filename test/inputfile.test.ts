import { strict as assert } from 'node:assert';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readInputFile, type InputFileKind } from '../src/inputfile.js';
import { tempDir } from './helpers/pki.js';

const KIND: InputFileKind = {
  maxBytes: 1000,
  noun: 'test file',
  missing: 'input-not-found',
  unreadable: 'input-unreadable',
  tooLarge: 'pki-invalid',
  missingHint: 'create it',
};

let dir: string;
before(async () => {
  dir = await tempDir('inputfile');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fails(path: string, code: string, message: RegExp, hint?: string): Promise<void> {
  await assert.rejects(readInputFile(path, KIND), (e: Error & { code?: string; hint?: string }) => {
    assert.equal(e.code, code);
    assert.match(e.message, message);
    if (hint !== undefined) assert.equal(e.hint, hint);
    return true;
  });
}

describe('readInputFile', () => {
  test('reads up to the cap exactly; one byte more is refused before reading', async () => {
    const ok = join(dir, 'ok');
    await writeFile(ok, Buffer.alloc(1000, 7));
    assert.deepEqual(await readInputFile(ok, KIND), Buffer.alloc(1000, 7));
    const big = join(dir, 'big');
    await writeFile(big, Buffer.alloc(1001, 7));
    await fails(
      big,
      'pki-invalid',
      /"\S+big" is 1001 bytes, more than the 1000 allowed for a test file/,
    );
    const empty = join(dir, 'empty');
    await writeFile(empty, '');
    assert.equal((await readInputFile(empty, KIND)).length, 0);
  });

  test("missing and unreadable files carry the kind's codes", async () => {
    await fails(
      join(dir, 'absent'),
      'input-not-found',
      /file "\S+absent" does not exist/,
      'create it',
    );
    const folder = join(dir, 'folder');
    await mkdir(folder);
    await fails(folder, 'input-unreadable', /cannot read "\S+folder": it is a directory/);
  });

  test('a pseudo-file whose size stat cannot tell is still capped', async () => {
    // /proc files report size 0 and hold more: the cap applies to the bytes read
    await fails(
      '/proc/self/maps',
      'pki-invalid',
      /is at least 1001 bytes, more than the 1000 allowed/,
    );
  });
});
