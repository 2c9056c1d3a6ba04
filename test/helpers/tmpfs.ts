/**
 * Small tmpfs mounts for tests of full or read-only disks. Only root can mount; callers skip
 * with the reason when `mountTmpfs` says no.
 */
import { spawnSync } from 'node:child_process';

export const isRoot = process.getuid?.() === 0;

/** Mounts a tmpfs with `options` (e.g. `size=2m` or `size=1m,ro`) on `dir`. */
export function mountTmpfs(dir: string, options: string): { ok: boolean; error: string } {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  return { ok: r.status === 0, error: `${r.stderr}${r.error?.message ?? ''}`.trim() };
}

export function umount(dir: string): void {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
}
