/**
 * Installing as people install (issue 12): `npm pack` ships only what runs; the tarball
 * installs with `npm install -g` into a fresh prefix, offline, with no build tools, and the
 * installed command works end to end (the dependencies travel in the tarball:
 * bundleDependencies); a clone installs with `npm install -g FOLDER` and from a git URL too.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { access, lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { smokeTest, type Installed, runInstalled } from '../helpers/installed.js';
import { tempDir } from '../helpers/proc.js';
import { copySource, ROOT } from '../helpers/source.js';

/** npm with the pinned node first on PATH, as npm scripts run. */
function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 240_000,
  });
}

/** What a user's shell has: the node they installed, the prefix's bin, the system. */
const userEnv = (prefix: string): NodeJS.ProcessEnv => ({
  HOME: process.env['HOME'],
  PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`,
});

const SHIPPED =
  /^(package\.json|README\.md|LICENSE|dist\/src\/.+\.js|dist\/bundle\/[^/]+\.js|dist\/man\/securestream\.1|dist\/completions\/(securestream\.bash|_securestream|securestream\.fish)|docs\/[^/]+\.md|packaging\/systemd\/securestream\.(socket|service)|node_modules\/.+)$/;

async function sourceModules(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await sourceModules(dir, rel)));
    else if (e.name.endsWith('.ts')) out.push(`dist/src/${rel.replace(/\.ts$/, '.js')}`);
  }
  return out;
}

describe('npm package', { timeout: 600_000 }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let tarball: string;

  before(async () => {
    tmp = await tempDir();
    const tree = join(tmp.path, 'tree');
    await copySource(tree, true);
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp.path], tree)) as {
      filename: string;
    }[];
    tarball = join(tmp.path, packed[0]?.filename ?? 'missing');
  });
  after(async () => {
    await tmp.remove();
  });

  it('the tarball holds the built code, README, docs, man page, completions and units, nothing else', async () => {
    const listed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l && !l.endsWith('/'))
      .map((l) => l.replace(/^package\//, ''));
    const stray = listed.filter((f) => !SHIPPED.test(f));
    assert.deepEqual(stray, [], 'files outside the list of what runs');
    const code = listed.filter((f) => f.startsWith('dist/src/')).sort();
    assert.deepEqual(
      code,
      (await sourceModules(join(ROOT, 'src'))).sort(),
      'one module per src/*.ts',
    );
    for (const f of [
      'README.md',
      'dist/bundle/program.js',
      'dist/man/securestream.1',
      'dist/completions/securestream.bash',
    ])
      assert.ok(listed.includes(f), f);
    const own = listed.filter((f) => !f.startsWith('node_modules/'));
    assert.ok(!own.some((f) => /^(test|bench|scripts|src)\//.test(f) || f.endsWith('.map')));
    // the bundled dependencies are the runtime ones, not the build tools
    const bundled = new Set(
      listed
        .filter((f) => f.startsWith('node_modules/'))
        .map((f) =>
          f
            .split('/')
            .slice(1, f.startsWith('node_modules/@') ? 3 : 2)
            .join('/'),
        ),
    );
    for (const tool of ['typescript', 'esbuild', 'node', 'eslint', 'postject'])
      assert.ok(!bundled.has(tool), tool);
    assert.ok(bundled.has('commander') && bundled.has('pino'));
  });

  it('npm install -g of the tarball into a fresh prefix, offline, gives a working securestream', async () => {
    const prefix = join(tmp.path, 'prefix');
    npm(
      ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball],
      tmp.path,
    );
    const it: Installed = { cmd: [join(prefix, 'bin/securestream')], env: userEnv(prefix) };
    const v = await runInstalled(it, ['--version'], tmp.path);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^securestream \d+\.\d+\.\d+\nNode\.js \d+/);
    await access(join(prefix, 'share/man/man1/securestream.1'));
    const work = join(tmp.path, 'from-tarball');
    await mkdir(work);
    await smokeTest(it, work);
  });

  it('npm install -g of a clone folder builds it without build tools installed beforehand', async () => {
    const clone = join(tmp.path, 'clone');
    await copySource(clone, false);
    const prefix = join(tmp.path, 'prefix-clone');
    npm(['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', clone], tmp.path);
    const it: Installed = { cmd: [join(prefix, 'bin/securestream')], env: userEnv(prefix) };
    const v = await runInstalled(it, ['-V'], tmp.path);
    assert.equal(v.code, 0, v.stderr);
    const man = await readFile(join(prefix, 'share/man/man1/securestream.1'), 'utf8');
    assert.match(man, /^\.TH SECURESTREAM 1 /);
    const work = join(tmp.path, 'from-clone');
    await mkdir(work);
    await smokeTest(it, work);
  });

  it('npm install -g git+file://CLONE, offline, installs the built package, not a link into npm cache', async () => {
    // A repository whose HEAD is this tree, as a user's clone is.
    const repo = join(tmp.path, 'repo');
    await copySource(repo, false);
    const git = (args: string[]): string =>
      execFileSync('git', args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    git(['init', '-q', '-b', 'main']);
    git(['add', '-A']);
    git(['-c', 'user.name=test', '-c', 'user.email=test@localhost', 'commit', '-q', '-m', 'tree']);
    const prefix = join(tmp.path, 'prefix-git');
    npm(
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        `git+file://${repo}`,
      ],
      tmp.path,
    );
    // npm's preparation of a git dependency used to leave a link to its deleted clone here
    // (npm/cli#4148): the package must be a folder holding the built code.
    const installed = join(prefix, 'lib/node_modules/securestream');
    assert.ok((await lstat(installed)).isDirectory(), `${installed} is not a folder`);
    await access(join(installed, 'dist/src/cli.js'));
    const it: Installed = { cmd: [join(prefix, 'bin/securestream')], env: userEnv(prefix) };
    const v = await runInstalled(it, ['--version'], tmp.path);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^securestream \d+\.\d+\.\d+\nNode\.js \d+/);
    const man = await readFile(join(prefix, 'share/man/man1/securestream.1'), 'utf8');
    assert.match(man, /^\.TH SECURESTREAM 1 /);
    const work = join(tmp.path, 'from-git');
    await mkdir(work);
    await smokeTest(it, work);
  });
});
