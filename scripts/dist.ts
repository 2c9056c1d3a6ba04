/**
 * `npm run dist [-- OUTDIR]`: dist/bin/securestream-<platform>-<arch> (or OUTDIR/bin/…), one self-contained executable (a
 * Node.js single executable application, nodejs.org/api/single-executable-applications.html).
 * esbuild bundles the program (src/program.ts) and its dependencies into one CommonJS file; node turns it into a
 * preparation blob with a code cache; postject injects the blob into a copy of the pinned
 * Node.js binary (devDependency `node`). The result runs with no Node.js installed.
 */
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where sea/ and bin/ go: dist/ of the tree, or the folder given (tests build side by side). */
const outRoot = resolve(process.argv[2] ?? join(root, 'dist'));
const work = join(outRoot, 'sea');
/** The fuse postject flips so the binary looks for its blob (Node's documented value). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${String(r.status ?? r.signal)})`);
}

async function main(): Promise<void> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    version: string;
    devDependencies: Record<string, string>;
  };
  // The runtime inside the executable is the pinned one, and the blob (with its code cache)
  // must be made by that same binary.
  const nodeBin = join(root, 'node_modules/node/bin/node');
  const pinned = pkg.devDependencies['node'];
  const got = spawnSync(nodeBin, ['-p', 'process.versions.node'], {
    encoding: 'utf8',
  }).stdout.trim();
  if (got !== pinned)
    throw new Error(
      `${nodeBin} is ${got || 'missing'}, not the pinned ${pinned ?? '?'}: run npm ci`,
    );

  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const bundle = join(work, 'securestream.cjs');
  await build({
    // The program without src/cli.ts: the blob's code cache replaces node's compile cache,
    // and the program is already bundled here.
    stdin: {
      contents: "import { run } from './program.js';\nrun();\n",
      resolveDir: join(root, 'src'),
      sourcefile: 'sea-main.ts',
      loader: 'ts',
    },
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${pinned.split('.')[0] ?? '24'}`,
    legalComments: 'eof',
    logLevel: 'warning',
    define: {
      // src/version.ts: no package.json next to an executable.
      SECURESTREAM_VERSION: JSON.stringify(pkg.version),
      // Read only where SECURESTREAM_VERSION is unset or the program is not a single
      // executable (src/version.ts, src/argv.ts), which the bundle never is.
      'import.meta': '{}',
    },
  });

  const blob = join(work, 'prep.blob');
  const config = join(work, 'sea-config.json');
  await writeFile(
    config,
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
    }),
  );
  run(nodeBin, ['--experimental-sea-config', config]);

  const out = join(outRoot, 'bin', `securestream-${process.platform}-${process.arch}`);
  await mkdir(dirname(out), { recursive: true });
  await rm(out, { force: true });
  await copyFile(nodeBin, out);
  await chmod(out, 0o755);
  run(join(root, 'node_modules/.bin/postject'), [
    out,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    SEA_FUSE,
  ]);
  process.stdout.write(`${out}\n`);
}

await main();
