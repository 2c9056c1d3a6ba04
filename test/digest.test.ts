/**
 * `sha256sum` lines as GNU coreutils writes them, checked against the real `sha256sum` on
 * this machine: the same line for names with a backslash, LF or CR, and `sha256sum -c` of our
 * lines verifies the files.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256sumLine } from '../src/digest.js';
import { tempDir } from './helpers/proc.js';

const HEX = 'a'.repeat(64);

describe('sha256sumLine', () => {
  const cases: [string, string, string][] = [
    ['a plain name', 'copies/big.bin', `${HEX}  copies/big.bin`],
    ['spaces and UTF-8 stay', 'a b/é.txt', `${HEX}  a b/é.txt`],
    ['a backslash: line prefixed, doubled', 'c\\d', `\\${HEX}  c\\\\d`],
    ['LF written as \\n', 'a\nb', `\\${HEX}  a\\nb`],
    ['CR written as \\r', 'e\rf', `\\${HEX}  e\\rf`],
    ['all three', '\\\n\r', `\\${HEX}  \\\\\\n\\r`],
    ['ESC is left as coreutils leaves it', 'g\u001bh', `${HEX}  g\u001bh`],
  ];
  for (const [what, path, want] of cases) {
    it(what, () => {
      assert.equal(sha256sumLine(HEX, path), want);
    });
  }
});

describe('sha256sumLine against GNU sha256sum', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const names = ['plain.bin', 'back\\slash', 'new\nline', 'carriage\rreturn', 'tab\tand\\all\n'];

  before(async () => {
    dir = await tempDir();
    for (const n of names) await writeFile(join(dir.path, n), `contents of ${n}`);
  });
  after(async () => {
    await dir.remove();
  });

  it('prints the line sha256sum prints, and sha256sum -c verifies our lines', () => {
    const ours = names.map((n) =>
      sha256sumLine(createHash('sha256').update(`contents of ${n}`).digest('hex'), n),
    );
    const theirs = execFileSync('sha256sum', ['--', ...names], { cwd: dir.path, encoding: 'utf8' });
    assert.equal(theirs, ours.map((l) => `${l}\n`).join(''));
    const checked = execFileSync('sha256sum', ['-c', '-'], {
      cwd: dir.path,
      input: ours.map((l) => `${l}\n`).join(''),
      encoding: 'utf8',
    });
    assert.equal(checked.split('\n').filter((l) => l.endsWith(': OK')).length, names.length);
  });
});
