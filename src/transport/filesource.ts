import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { SecureStreamError } from '../errors.js';

/** Size of each read from disk: large reads keep syscalls and JS turns per GiB low. */
export const READ_CHUNK = 1024 * 1024;

/**
 * Yields exactly `at.size` bytes of an open file in READ_CHUNK pieces, with the next read
 * already in flight while the caller sends the current one. If the file turns out shorter, or
 * its size, mtime or ctime differ at the end from `at` (it changed while being sent), it
 * throws `file-changed`: PROTOCOL-v1 wants the connection aborted without a trailer rather
 * than a mixed copy delivered.
 */
export async function* readExactly(
  handle: FileHandle,
  at: Stats,
  chunk = READ_CHUNK,
): AsyncGenerator<Buffer> {
  const size = at.size;
  let pos = 0;
  const readAt = async (at: number): Promise<Buffer> => {
    const want = Math.min(chunk, size - at);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await handle.read(buf, got, want - got, at + got);
      if (bytesRead === 0) throw changed();
      got += bytesRead;
    }
    return buf;
  };
  let pending: Promise<Buffer> | undefined;
  const start = (at: number): Promise<Buffer> => {
    const p = readAt(at);
    p.catch(() => undefined); // awaited below; this only stops an unhandled rejection on early exit
    return p;
  };
  if (size > 0) pending = start(0);
  while (pending) {
    const buf = await pending;
    pos += buf.length;
    pending = pos < size ? start(pos) : undefined;
    yield buf;
  }
  const now = await handle.stat();
  if (now.size !== size || now.mtimeMs !== at.mtimeMs || now.ctimeMs !== at.ctimeMs) {
    throw changed();
  }
}

function changed(): SecureStreamError {
  return new SecureStreamError('file-changed', 'the file changed size while it was being sent');
}
