import { createHash } from 'node:crypto';
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
  private readonly running = new Map<string, SharedHash>();
  private readonly pending = new Map<string, Promise<string>>();

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

  /**
   * The digest of this version, from the cache or from `hashNow` (a full read of the file that
   * throws if the file changed meanwhile). Concurrent callers for one version share one call,
   * so fifty clients asking for a new file's headers cost one pass over it.
   */
  async ensure(st: Stats, hashNow: () => Promise<string>): Promise<string> {
    const known = this.get(st);
    if (known !== undefined) return known;
    const k = DigestCache.key(st);
    let p = this.pending.get(k);
    if (!p) {
      p = hashNow().then((hex) => {
        this.set(st, hex);
        return hex;
      });
      const done = (): void => {
        if (this.pending.get(k) === p) this.pending.delete(k);
      };
      p.then(done, done);
      this.pending.set(k, p);
    }
    return p;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The hash of this file version that every send of it running at the same time feeds, so
   * that fifty clients fetching a new file cost one SHA-256 pass, not fifty. Pair with `leave`.
   */
  join(st: Stats): SharedHash {
    const k = DigestCache.key(st);
    let h = this.running.get(k);
    if (!h) {
      h = new SharedHash(st.size);
      this.running.set(k, h);
    }
    h.users++;
    return h;
  }

  /**
   * A send of this version is over. `verified`: it read the whole file and found it unchanged
   * at the end, so the shared digest is this version's and is remembered. Returns that digest.
   */
  leave(st: Stats, h: SharedHash, verified: boolean): string | undefined {
    h.users--;
    const k = DigestCache.key(st);
    const hex = verified ? h.digest : undefined;
    if (hex !== undefined) this.set(st, hex);
    if ((hex !== undefined || h.users === 0) && this.running.get(k) === h) this.running.delete(k);
    return hex;
  }

  /** Versions being hashed right now (for tests). */
  get runningCount(): number {
    return this.running.size;
  }
}

/**
 * SHA-256 of one file version, fed by whichever of its concurrent sends has read furthest.
 * Every send reads the file front to back, so the one in the lead offers bytes just past what
 * is hashed and the others offer bytes already hashed, which are skipped. A send that stops
 * leaves the lead to the next; none waits for another. Sends agree on the bytes because they
 * share the (device, inode, size, mtime, ctime) key and each checks it again at its end.
 */
export class SharedHash {
  private readonly hash = createHash('sha256');
  private hashed = 0;
  private hex: string | undefined;
  users = 0;

  constructor(readonly size: number) {
    if (size === 0) this.hex = this.hash.digest('hex');
  }

  /** Bytes a send has just read at offset `pos`. */
  offer(pos: number, buf: Buffer): void {
    const end = pos + buf.length;
    if (end <= this.hashed) return;
    // A send offers every piece it reads, in order, so it can never be past the hashed prefix.
    if (pos > this.hashed) throw new Error(`hash gap: offered ${pos}, hashed ${this.hashed}`);
    this.hash.update(pos === this.hashed ? buf : buf.subarray(this.hashed - pos));
    this.hashed = end;
    if (end === this.size) this.hex = this.hash.digest('hex');
  }

  /** Set once every byte of the file has been offered. */
  get digest(): string | undefined {
    return this.hex;
  }
}
