import type { Stats } from 'node:fs';

/** How many file digests a server remembers (least recently used are dropped first). */
export const DIGEST_CACHE_ENTRIES = 4096;

/**
 * SHA-256 digests of served files, keyed by what identifies one version of a file: device,
 * inode, size, mtime and ctime. ctime cannot be set from user space and changes on every
 * write, so a file rewritten in place gets a new key. Should a stale entry ever be used, the
 * client's own digest of the bytes it received disagrees with the trailer and it keeps
 * nothing: the cache can cost a retry, never a wrong file.
 */
export class DigestCache {
  private readonly entries = new Map<string, string>();

  constructor(private readonly capacity = DIGEST_CACHE_ENTRIES) {}

  static key(st: Stats): string {
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  }

  get(st: Stats): string | undefined {
    const k = DigestCache.key(st);
    const hex = this.entries.get(k);
    if (hex !== undefined) {
      this.entries.delete(k);
      this.entries.set(k, hex);
    }
    return hex;
  }

  set(st: Stats, hex: string): void {
    const k = DigestCache.key(st);
    this.entries.delete(k);
    this.entries.set(k, hex);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
