/**
 * Where things are. The benchmark runs the CLI from a snapshot of dist/ taken at start, so a
 * rebuild by someone else during a long run cannot swap code under a measurement.
 */
import { cpSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const REPO = resolve(here, '../..');
/** JSON results, git-ignored except .gitkeep. */
export const RESULTS = resolve(REPO, 'bench/results');

let dist = resolve(here, '..');

/** The built CLI, `securestream`. */
export const cliPath = (): string => join(dist, 'src/cli.js');
/** The node:tls handshake loop (bench/handshake.ts, built). */
export const handshakePath = (): string => join(dist, 'bench/handshake.js');
/** The bare node:tls server of case 3 (bench/bare-server.ts, built). */
export const barePath = (): string => join(dist, 'bench/bare-server.js');
/** The many-downloads-in-one-process client (bench/fetcher.ts, built). */
export const fetcherPath = (): string => join(dist, 'bench/fetcher.js');

/**
 * Copies dist/src, dist/bundle (what dist/src/cli.js runs) and dist/bench with package.json (ESM) into `dir`, links node_modules, and
 * runs every child from there.
 */
export function snapshotBuild(dir: string): string {
  const from = resolve(here, '..');
  for (const sub of ['src', 'bundle', 'bench'])
    cpSync(join(from, sub), join(dir, 'dist', sub), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  dist = join(dir, 'dist');
  return dist;
}
