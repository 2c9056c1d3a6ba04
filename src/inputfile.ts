/**
 * One reader for every small input file a command takes (certificates, keys, CA files, CRLs,
 * access rules, passphrase files): read whole, never more than a named cap, with errors that
 * say which file and what to do. Large payloads are streamed elsewhere, never read here.
 */
import { open } from 'node:fs/promises';
import { SecureStreamError, errnoCode, type ErrorCode } from './errors.js';

/** What kind of file is read, and how its failures are reported. */
export interface InputFileKind {
  /** Largest accepted size in bytes; a larger file is refused before anything is read. */
  maxBytes: number;
  /** How the file is called in messages, e.g. "pem file", "crl". */
  noun: string;
  /** Error code when the file does not exist. */
  missing: ErrorCode;
  /** Error code when it cannot be read (permissions, a folder, an I/O error). */
  unreadable: ErrorCode;
  /** Error code when it is larger than `maxBytes`. */
  tooLarge: ErrorCode;
  /** Hint printed with `missing`. */
  missingHint?: string;
}

/**
 * Reads `path` whole. Throws a SecureStreamError with the kind's codes: `missing` (ENOENT),
 * `unreadable` (a folder, EACCES, I/O), `tooLarge` (over `maxBytes`, checked on the size
 * before reading and again on the bytes read, so a file that grows meanwhile is caught too).
 */
export async function readInputFile(path: string, kind: InputFileKind): Promise<Buffer> {
  try {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      if (st.size > kind.maxBytes) throw tooLarge(path, kind, `${st.size}`);
      // Read until EOF, not just the size stat gave: a file that grows, or a pseudo-file that
      // says 0, must not come back cut. One byte more than allowed is where it stops.
      let buf = Buffer.allocUnsafe(Math.min(st.size, kind.maxBytes) + 1);
      let filled = 0;
      for (;;) {
        if (filled === buf.length) {
          if (filled > kind.maxBytes) throw tooLarge(path, kind, `at least ${filled}`);
          const bigger = Buffer.allocUnsafe(Math.min(2 * buf.length + 4096, kind.maxBytes + 1));
          buf.copy(bigger, 0, 0, filled);
          buf = bigger;
        }
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, filled);
        if (bytesRead === 0) return buf.subarray(0, filled);
        filled += bytesRead;
      }
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof SecureStreamError) throw e;
    throw readError(e, path, kind);
  }
}

function tooLarge(path: string, kind: InputFileKind, size: string): SecureStreamError {
  return new SecureStreamError(
    kind.tooLarge,
    `"${path}" is ${size} bytes, more than the ${kind.maxBytes} allowed for a ${kind.noun}`,
  );
}

function readError(e: unknown, path: string, kind: InputFileKind): SecureStreamError {
  const code = errnoCode(e);
  if (code === 'ENOENT') {
    return new SecureStreamError(kind.missing, `file "${path}" does not exist`, kind.missingHint, {
      cause: e,
    });
  }
  const why =
    code === 'EISDIR'
      ? 'it is a directory'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : e instanceof Error
          ? e.message
          : String(e);
  return new SecureStreamError(kind.unreadable, `cannot read "${path}": ${why}`, undefined, {
    cause: e,
  });
}
