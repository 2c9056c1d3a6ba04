/**
 * dist/src/cli.js runs dist/bundle/program.js. In a checkout where `tsc` ran after the bundle
 * was made (dist/.tsbuildinfo newer than the bundle), running the bundle would run the code
 * from before that tsc: the CLI refuses with a hint instead. Without build info (an installed
 * package) or with a bundle made after tsc, it runs. A missing bundle is named the same way.
 * Works on a copy of dist/src/cli.js, dist/src/compilecache.js and dist/bundle/.
 */
import { strict as assert } from 'node:assert';
import { cp, mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../helpers/source.js';
import { CLI, run, tempDir } from '../helpers/proc.js';

const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

describe('a bundle older than the last tsc run', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let cli: string;
  let bundle: string;
  let info: string;
  const env = { NODE_DISABLE_COMPILE_CACHE: '1' };
  const at = (seconds: number): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));

  before(async () => {
    tmp = await tempDir();
    const dist = join(tmp.path, 'dist');
    cli = join(dist, 'src/cli.js');
    bundle = join(dist, 'bundle/program.js');
    info = join(dist, '.tsbuildinfo');
    await mkdir(join(dist, 'src'), { recursive: true });
    for (const f of ['cli.js', 'compilecache.js'])
      await cp(join(dirname(CLI), f), join(dist, 'src', f));
    await cp(join(dirname(CLI), '../bundle'), join(dist, 'bundle'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(tmp.path, 'package.json'));
  });
  after(async () => {
    await tmp.remove();
  });

  it('runs without build info (an installed package)', async () => {
    await rm(info, { force: true });
    const r = await run(process.execPath, [cli, '--version'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^securestream ${version.replaceAll('.', '\\.')}\n`));
  });

  it('runs when the bundle was made after tsc', async () => {
    await writeFile(info, '{}');
    await utimes(info, at(1), at(1));
    await utimes(bundle, at(2), at(2));
    const r = await run(process.execPath, [cli, '--version'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^securestream /);
  });

  it('is refused, exit 1, with the file and the command that remakes it', async () => {
    await writeFile(info, '{}');
    await utimes(bundle, at(1), at(1));
    await utimes(info, at(2), at(2));
    const r = await run(process.execPath, [cli, '--version'], { env });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `securestream: error: ${bundle} is older than the last tsc run: it would run the code from before\n` +
        'securestream: hint: run npm run build\n',
    );
  });

  it('a missing bundle is named, exit 1', async () => {
    await rm(info, { force: true });
    await rm(join(dirname(bundle)), { recursive: true });
    const r = await run(process.execPath, [cli, '--version'], { env });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^securestream: error: cannot load .*\/bundle\/program\.js \(/);
    assert.match(r.stderr, /\nsecurestream: hint: run npm run build\n$/);
  });
});
