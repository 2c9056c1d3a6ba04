/**
 * The CLI's compile cache (src/compilecache.ts) in real processes: node writes its cache into
 * a private folder made 0700; a folder others could write or someone else owns is not used
 * (the command still works and nothing is written there); NODE_DISABLE_COMPILE_CACHE and
 * NODE_COMPILE_CACHE are node's, and `get` works either way.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { outFolders, useServedFixture } from '../helpers/fixture.js';
import { runCli, type RunResult } from '../helpers/proc.js';

const uid = process.geteuid?.() ?? -1;
const OTHER = 65534;
const hello = 'hello, cache\n';

/** The files below `dir`, recursively (relative names). */
async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  return out;
}

describe('compile cache of the CLI', () => {
  const fx = useServedFixture({ 'hello.txt': hello });
  const outDir = outFolders(fx);
  let n = 0;
  /** A fresh XDG_CACHE_HOME inside the fixture (not made). */
  const xdg = (): string => join(fx.path, `xdg-${++n}`);
  const version = (env: NodeJS.ProcessEnv): Promise<RunResult> => runCli(['--version'], { env });
  const get = async (env: NodeJS.ProcessEnv): Promise<void> => {
    const out = await outDir();
    const r = await runCli(
      ['get', 'hello.txt', '--server', `127.0.0.1:${fx.server.port}`, '--pki', fx.pki.pki],
      { env, cwd: out },
    );
    assert.equal(r.code, 0, r.stderr);
    const sha = createHash('sha256').update(hello).digest('hex');
    assert.equal(r.stdout, `${sha}  hello.txt\n`);
    assert.equal(await readFile(join(out, 'hello.txt'), 'utf8'), hello);
  };
  const clean = { NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: undefined };

  it('is written to $XDG_CACHE_HOME/securestream, made 0700, and used by the next run', async () => {
    const base = xdg();
    const env = { ...clean, XDG_CACHE_HOME: base };
    assert.equal((await version(env)).code, 0);
    const dir = join(base, 'securestream');
    const st = await lstat(dir);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.uid, uid);
    assert.equal((await lstat(base)).mode & 0o777, 0o700);
    const first = await filesBelow(dir);
    assert.ok(first.length > 0, 'node wrote no cache');
    await get(env);
    assert.ok((await filesBelow(dir)).length > first.length, 'get added its modules');
  });

  it('is not used in a folder that others may write: nothing is written there', async () => {
    const base = xdg();
    const dir = join(base, 'securestream');
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o777);
    const env = { ...clean, XDG_CACHE_HOME: base };
    const r = await version(env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^securestream /);
    await get(env);
    assert.deepEqual(await readdir(dir), []);
    assert.equal((await lstat(dir)).mode & 0o777, 0o777);
  });

  it(
    'is not used in a folder owned by someone else',
    { skip: uid !== 0 ? 'needs root to give a folder away' : false },
    async () => {
      const base = xdg();
      const dir = join(base, 'securestream');
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chown(dir, OTHER, OTHER);
      const env = { ...clean, XDG_CACHE_HOME: base };
      await get(env);
      assert.deepEqual(await readdir(dir), []);
    },
  );

  it('stays off with NODE_DISABLE_COMPILE_CACHE=1, and get still works', async () => {
    const base = xdg();
    await mkdir(base, { mode: 0o700 });
    await get({ ...clean, XDG_CACHE_HOME: base, NODE_DISABLE_COMPILE_CACHE: '1' });
    assert.deepEqual(await readdir(base), []);
  });

  it("leaves NODE_COMPILE_CACHE's folder to node", async () => {
    const base = xdg();
    await mkdir(base, { mode: 0o700 });
    const own = join(fx.path, 'node-cache');
    await get({ ...clean, XDG_CACHE_HOME: base, NODE_COMPILE_CACHE: own });
    assert.deepEqual(await readdir(base), []);
    assert.ok((await filesBelow(own)).length > 0, 'node wrote no cache in NODE_COMPILE_CACHE');
  });
});
