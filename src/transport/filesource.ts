import type { Stats } from 'node:fs';
import { SecureStreamError } from '../errors.js';

/** What readExactly needs of an open file: a FileHandle, or a ServedFile. */
export interface PositionalFile {
  read(
    buf: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  stat(): Promise<Stats>;
  /** Blocking forms; when present, ranges up to SYNC_READ_MAX bytes are read with them. */
  readSync?(buf: Buffer, offset: number, length: number, position: number): number;
  statSync?(): Stats;
}

/**
 * Size of each read from disk. Large enough that syscalls and JS turns per GiB stay few, small
 * enough that many connections at once hold little memory (two of these each).
 */
export const READ_CHUNK = 256 * 1024;

/**
 * Ranges up to this many bytes are read whole with blocking calls (one read, one stat) when
 * the file offers them: from the page cache that takes microseconds, through the thread pool
 * ten times as long (docs/PERFORMANCE.md, "HTTP on the same port").
 */
export const SYNC_READ_MAX = 64 * 1024;

/**
 * Yields exactly the bytes `[start, end)` of an open file (default: all `at.size` of them) in
 * READ_CHUNK pieces, with the next read already in flight while the caller sends the current
 * one. If the file turns out shorter or longer (a read past `at.size` returns a byte), or its
 * size, mtime or ctime differ from `at` (it changed while being sent), it throws `file-changed`:
 * the connection must be cut rather than a copy delivered that differs from the file
 * (docs/PROTOCOL.md §2.2, §7.4). The check runs before the last piece is handed out, so a
 * receiver that counts bytes (HTTP's Content-Length) never gets a complete-looking body of a
 * changed file.
 *
 * Two buffers alternate for the whole file instead of a fresh one per read (no garbage, flat
 * memory). The caller must be completely done with a yielded buffer before it asks for the
 * next one, e.g. by awaiting the socket write's callback.
 */
export async function* readExactly(
  handle: PositionalFile,
  at: Stats,
  opts: { chunk?: number; start?: number; end?: number } = {},
): AsyncGenerator<Buffer> {
  const size = at.size;
  const from = opts.start ?? 0;
  const to = opts.end ?? size;
  if (to > from && to - from <= SYNC_READ_MAX && handle.readSync && handle.statSync) {
    yield readSmall(handle as Required<PositionalFile>, at, from, to);
    return;
  }
  const chunk = Math.min(opts.chunk ?? READ_CHUNK, Math.max(to - from, 1));
  // One byte more than a piece: the piece that ends at the file's end also looks one byte past
  // it, so that check costs no read of its own.
  const pool = [Buffer.allocUnsafe(chunk + 1), Buffer.allocUnsafe(chunk + 1)];
  let turn = 0;
  let lookedPast = false;
  const readAt = async (pos: number): Promise<Buffer> => {
    const want = Math.min(chunk, to - pos);
    const room = pos + want === size ? want + 1 : want;
    const buf = pool[turn++ % 2] as Buffer;
    let got = 0;
    while (got < want) {
      const { bytesRead } = await handle.read(buf, got, room - got, pos + got);
      if (bytesRead === 0) throw changed();
      got += bytesRead;
    }
    if (got > want) throw grew(size);
    // A short read of a regular file ends at its end: nothing lies past the announced size.
    if (room > want) lookedPast = true;
    return buf.subarray(0, want);
  };
  const start = (pos: number): Promise<Buffer> => {
    const p = readAt(pos);
    p.catch(() => undefined); // awaited below; this only stops an unhandled rejection on early exit
    return p;
  };
  const unchanged = async (): Promise<void> => {
    // The announced length must be the whole file. A byte past it means the size lied: a
    // pseudo-file (/proc, /sys) whose stat size is 0 or a page, or a file that grew. The pool
    // buffer not holding the last piece is free: the caller is done with the one before.
    if (!lookedPast) {
      const probe = (pool[turn % 2] as Buffer).subarray(0, 1);
      if ((await handle.read(probe, 0, 1, size)).bytesRead > 0) throw grew(size);
    }
    checkUnchanged(at, await handle.stat());
  };
  let pos = from;
  let pending = to > from ? start(from) : undefined;
  if (!pending) await unchanged();
  while (pending) {
    const buf = await pending;
    pos += buf.length;
    pending = pos < to ? start(pos) : undefined;
    if (!pending) await unchanged();
    yield buf;
  }
}

/**
 * `[from, to)` of a small range in one buffer, with blocking calls and the same checks as the
 * streamed path: the file's end is looked past, and its stat must not have changed.
 */
function readSmall(file: Required<PositionalFile>, at: Stats, from: number, to: number): Buffer {
  const size = at.size;
  const want = to - from;
  const room = to === size ? want + 1 : want;
  const buf = Buffer.allocUnsafe(room);
  let got = 0;
  while (got < want) {
    const n = file.readSync(buf, got, room - got, from + got);
    if (n === 0) throw changed();
    got += n;
  }
  if (got > want) throw grew(size);
  if (room === want && file.readSync(Buffer.allocUnsafe(1), 0, 1, size) > 0) throw grew(size);
  checkUnchanged(at, file.statSync());
  return buf.subarray(0, want);
}

function checkUnchanged(at: Stats, now: Stats): void {
  if (now.size !== at.size || now.mtimeMs !== at.mtimeMs || now.ctimeMs !== at.ctimeMs) {
    throw changed();
  }
}

function grew(size: number): SecureStreamError {
  return new SecureStreamError(
    'file-changed',
    `the file has more bytes than its size of ${size} said (a pseudo-file, or it grew while being sent)`,
  );
}

function changed(): SecureStreamError {
  return new SecureStreamError('file-changed', 'the file changed while it was being sent');
}
