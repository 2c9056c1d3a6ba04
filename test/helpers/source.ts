/**
 * A copy of the source tree as a clone has it (tracked and new files, no node_modules, no
 * dist), for the tests that build and install the package without touching the tree the
 * other tests run from.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/helpers → the package root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Copies the tree into `dest`; `withModules` also runs `npm ci` there as a clone would (from
 * npm's cache where it can; install scripts skipped: the pinned node comes from PATH).
 */
export async function copySource(dest: string, withModules: boolean): Promise<void> {
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  )
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    await mkdir(dirname(join(dest, f)), { recursive: true });
    await copyFile(join(ROOT, f), join(dest, f)).catch((e: unknown) => {
      // a file deleted in the work tree but not yet in the index
      if ((e as { code?: string }).code !== 'ENOENT') throw e;
    });
  }
  if (withModules) {
    execFileSync('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dest,
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` },
      stdio: 'ignore',
      timeout: 240_000,
    });
  }
}
