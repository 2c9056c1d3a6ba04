/**
 * Build time (`npm run build`, `npm run build:package`, prepare): the program (src/program.ts
 * and everything it imports, dependencies included) bundled by esbuild into dist/bundle/, ES
 * modules, one file for what every command loads and one per part loaded on demand (each
 * command's modules). dist/src/cli.js runs dist/bundle/program.js: node then loads a few files
 * instead of about 200 modules, which takes a quarter off the start of every command
 * (docs/PERFORMANCE.md, "Where securestream's time goes", Start-up of `get`). The single
 * executable (scripts/dist.ts) makes its own CommonJS bundle.
 */
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outdir = join(root, 'dist/bundle');

const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
};
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src/program.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // The oldest runtime the package supports (engines: >=22).
  target: `node${/\d+/.exec(pkg.engines.node)?.[0] ?? '22'}`,
  legalComments: 'eof',
  logLevel: 'warning',
  // CommonJS dependencies require node's modules; an ES module has no `require` of its own.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  // src/version.ts: the version is fixed at build time, no package.json read at run time.
  define: { SECURESTREAM_VERSION: JSON.stringify(pkg.version) },
});
