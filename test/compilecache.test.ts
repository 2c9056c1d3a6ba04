/**
 * The compile cache folder (src/compilecache.ts): where it is, made 0700, and refused when
 * anyone but its owner could put code in it.
 */
import { strict as assert } from 'node:assert';
import { chmod, chown, lstat, mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compileCacheDir, privateCacheDir } from '../src/compilecache.js';
import { tempDir } from './helpers/proc.js';

const uid = process.geteuid?.() ?? -1;
const asRoot = { skip: uid !== 0 ? 'needs root to give a folder to another user' : false };
/** nobody, on Debian. */
const OTHER = 65534;

describe('compileCacheDir', () => {
  const home = (): string => '/home/u';
  it('is $XDG_CACHE_HOME/securestream for an absolute XDG_CACHE_HOME', () => {
    assert.equal(compileCacheDir({ XDG_CACHE_HOME: '/c' }, home), '/c/securestream');
  });
  it('is ~/.cache/securestream otherwise (a relative XDG_CACHE_HOME is ignored, as XDG says)', () => {
    assert.equal(compileCacheDir({}, home), '/home/u/.cache/securestream');
    assert.equal(compileCacheDir({ XDG_CACHE_HOME: 'c' }, home), '/home/u/.cache/securestream');
  });
  it('is left to node under NODE_COMPILE_CACHE or NODE_DISABLE_COMPILE_CACHE', () => {
    assert.equal(compileCacheDir({ NODE_COMPILE_CACHE: '/x' }, home), undefined);
    assert.equal(compileCacheDir({ NODE_DISABLE_COMPILE_CACHE: '1' }, home), undefined);
  });
  it('is none without a home', () => {
    assert.equal(
      compileCacheDir({}, () => {
        throw new Error('no passwd entry');
      }),
      undefined,
    );
    assert.equal(
      compileCacheDir({}, () => ''),
      undefined,
    );
  });
});

describe('privateCacheDir', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  /** A fresh folder owned by us, mode 0755. */
  const fresh = async (): Promise<string> => {
    const d = join(tmp.path, `case-${++n}`);
    await mkdir(d);
    await chmod(d, 0o755);
    return d;
  };
  before(async () => {
    tmp = await tempDir();
  });
  after(async () => {
    await tmp.remove();
  });

  it('makes the folder and its missing parents mode 0700 and returns it', async () => {
    const base = await fresh();
    const dir = join(base, '.cache', 'securestream');
    assert.equal(privateCacheDir(dir, uid), dir);
    for (const d of [dir, join(base, '.cache')]) {
      const st = await lstat(d);
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o777, 0o700, d);
      assert.equal(st.uid, uid);
    }
  });

  it('takes an existing folder of ours that only we can write', async () => {
    const dir = join(await fresh(), 'securestream');
    await mkdir(dir, { mode: 0o755 });
    assert.equal(privateCacheDir(dir, uid), dir);
  });

  it('refuses a folder that group or others may write, and leaves it as it is', async () => {
    for (const mode of [0o770, 0o707, 0o777]) {
      const dir = join(await fresh(), 'securestream');
      await mkdir(dir);
      await chmod(dir, mode);
      assert.equal(privateCacheDir(dir, uid), undefined, mode.toString(8));
      assert.equal((await lstat(dir)).mode & 0o777, mode);
    }
  });

  it('makes nothing below a folder others may write without the sticky bit', async () => {
    const open = await fresh();
    await chmod(open, 0o777);
    const dir = join(open, 'securestream');
    assert.equal(privateCacheDir(dir, uid), undefined);
    assert.deepEqual(await readdir(open), []);
  });

  it('takes a folder below a sticky world-writable one (as /tmp)', async () => {
    const sticky = await fresh();
    await chmod(sticky, 0o1777);
    const dir = join(sticky, 'securestream');
    assert.equal(privateCacheDir(dir, uid), dir);
  });

  it('follows a link only into safe folders', async () => {
    const base = await fresh();
    const open = await fresh();
    await chmod(open, 0o777);
    await mkdir(join(open, 'target'), { mode: 0o700 });
    await symlink(join(open, 'target'), join(base, 'securestream'));
    assert.equal(privateCacheDir(join(base, 'securestream'), uid), undefined);
    const safe = join(await fresh(), 'target');
    await mkdir(safe, { mode: 0o700 });
    await symlink(safe, join(base, 'linked'));
    assert.equal(privateCacheDir(join(base, 'linked'), uid), safe);
  });

  it('refuses a folder owned by another user', asRoot, async () => {
    const dir = join(await fresh(), 'securestream');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, OTHER, OTHER);
    assert.equal(privateCacheDir(dir, uid), undefined);
  });

  it('makes no home: nothing when more than the cache folder and its parent are missing', async () => {
    const base = await fresh();
    const home = join(base, 'nonexistent');
    assert.equal(privateCacheDir(join(home, '.cache', 'securestream'), uid), undefined);
    assert.deepEqual(await readdir(base), []);
    // an XDG_CACHE_HOME below an existing folder is made, with the cache folder
    const xdg = join(base, 'xdg');
    assert.equal(privateCacheDir(join(xdg, 'securestream'), uid), join(xdg, 'securestream'));
    assert.equal((await lstat(xdg)).mode & 0o777, 0o700);
  });

  it("makes nothing in another user's folder (root with someone else's HOME)", asRoot, async () => {
    const home = await fresh();
    await chown(home, OTHER, OTHER);
    assert.equal(privateCacheDir(join(home, '.cache', 'securestream'), uid), undefined);
    assert.deepEqual(await readdir(home), []);
  });
});
