/**
 * A file opened for serving, by its descriptor. Reads and stats of large files go through
 * libuv's thread pool; the blocking forms are for the few small calls of a small file, where
 * a thread-pool round trip (a promise, two thread switches) costs ten times the call itself
 * (docs/PERFORMANCE.md, "HTTP on the same port"). The descriptor is read-only, so closing it
 * never waits for a flush and is done in place.
 */
import { closeSync, fstat, fstatSync, read, readSync, type Stats } from 'node:fs';

export class ServedFile {
  private closed = false;

  constructor(readonly fd: number) {}

  /** Reads up to `length` bytes at `position` into `buf` at `offset`, in the thread pool. */
  read(
    buf: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }> {
    return new Promise((resolve, reject) => {
      read(this.fd, buf, offset, length, position, (e, bytesRead) => {
        if (e) reject(e);
        else resolve({ bytesRead });
      });
    });
  }

  /** The same read, blocking: for small files only. */
  readSync(buf: Buffer, offset: number, length: number, position: number): number {
    return readSync(this.fd, buf, offset, length, position);
  }

  stat(): Promise<Stats> {
    return new Promise((resolve, reject) => {
      fstat(this.fd, (e, st) => {
        if (e) reject(e);
        else resolve(st);
      });
    });
  }

  statSync(): Stats {
    return fstatSync(this.fd);
  }

  /** Closes the descriptor; safe to call more than once. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
    return Promise.resolve();
  }
}
