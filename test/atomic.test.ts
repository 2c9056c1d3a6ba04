import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AtomicFile, NAME_MAX, tempName, truncateUtf8 } from '../src/atomic.js';
import { InterruptedError } from '../src/errors.js';
import { tempDir } from './helpers/proc.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('atomic file names', () => {
  it('fit NAME_MAX for every output name length, ASCII and multi-byte', () => {
    for (let n = 0; n <= 300; n++) {
      for (const unit of ['a', 'é', '日', '😀']) {
        const name = unit.repeat(Math.ceil(n / bytes(unit))).slice(0, n);
        const t = tempName(name);
        assert.ok(bytes(t) <= NAME_MAX, `${bytes(t)} bytes for a ${bytes(name)}-byte name`);
        assert.match(t, /^\..*\.[0-9a-f]{12}\.part$/);
        assert.ok(!t.includes('\ufffd'), 'cut inside a character');
      }
    }
  });

  it('keep short names whole, so the temporary file says what it is for', () => {
    assert.match(tempName('big.bin'), /^\.big\.bin\.[0-9a-f]{12}\.part$/);
  });

  it('truncateUtf8 cuts at a character boundary', () => {
    assert.equal(truncateUtf8('aé', 2), 'a');
    assert.equal(truncateUtf8('aé', 3), 'aé');
    assert.equal(truncateUtf8('😀😀', 7), '😀');
    assert.equal(truncateUtf8('abc', 0), '');
  });
});

describe('atomic file', () => {
  it('a 255-byte name: written through a fitting temporary name, committed whole', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'n'.repeat(NAME_MAX));
      const file = await AtomicFile.create(path);
      assert.equal(bytes(file.tempPath.slice(dir.path.length + 1)), NAME_MAX);
      await file.handle.writeFile('content');
      await file.commit();
      assert.equal(await readFile(path, 'utf8'), 'content');
      assert.deepEqual(await readdir(dir.path), ['n'.repeat(NAME_MAX)]);
    } finally {
      await dir.remove();
    }
  });

  it('a name longer than NAME_MAX fails with output-name-too-long and leaves nothing', async () => {
    const dir = await tempDir();
    try {
      await assert.rejects(AtomicFile.create(join(dir.path, 'n'.repeat(NAME_MAX + 1))), {
        code: 'output-name-too-long',
      });
      const file = await AtomicFile.create(join(dir.path, 'n'.repeat(NAME_MAX)));
      await assert.rejects(file.commit(join(dir.path, 'n'.repeat(NAME_MAX + 1))), {
        code: 'output-name-too-long',
      });
      assert.deepEqual(await readdir(dir.path), []);
    } finally {
      await dir.remove();
    }
  });

  it('is 0600 until commit, then the mode asked for less the umask', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'out');
      const file = await AtomicFile.create(path, { mode: 0o666 });
      assert.equal((await stat(file.tempPath)).mode & 0o777, 0o600);
      await file.commit();
      const umask = parseInt(
        /^Umask:\s*([0-7]+)$/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1] ?? '',
        8,
      );
      assert.equal((await stat(path)).mode & 0o777, 0o666 & ~umask);
      const key = await AtomicFile.create(join(dir.path, 'key'), { mode: 0o600 });
      await key.commit();
      assert.equal((await stat(join(dir.path, 'key'))).mode & 0o777, 0o600);
    } finally {
      await dir.remove();
    }
  });

  it('an abort of its signal removes the temporary file at once; commit then fails', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'out');
      await writeFile(path, 'previous');
      const ac = new AbortController();
      const file = await AtomicFile.create(path, { signal: ac.signal });
      await file.handle.write('partial');
      ac.abort(new InterruptedError('SIGTERM'));
      // Synchronously: nothing else has had a turn to run since the abort.
      assert.deepEqual(readdirSync(dir.path), ['out']);
      await assert.rejects(file.commit(), { code: 'interrupted', exitCode: 143 });
      assert.equal(await readFile(path, 'utf8'), 'previous');
      await assert.rejects(AtomicFile.create(path, { signal: ac.signal }), {
        code: 'interrupted',
      });
      assert.deepEqual(await readdir(dir.path), ['out']);
    } finally {
      await dir.remove();
    }
  });
});
