/**
 * Where the bytes of one download go, whatever wire brought them: the output path rules of
 * `--out`, a file that appears only when complete (AtomicFile), an existing device or FIFO
 * written in place (src/specialfile.ts) or standard output, the
 * sstream-v1 decoder for an encrypted body, and the plaintext digest check when it decrypts.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SecureStreamError, errnoCode } from '../errors.js';
import type { Mode } from '../protocol.js';
import { specialKind, type SpecialKind } from '../specialfile.js';
import { sstreamDecoder } from '../transport/sstream.js';

/**
 * Where a download goes: a file (an undecrypted sstream-v1 body may get its own name), an
 * existing device or FIFO (`special`: bytes go out as they come, like stdout's), or stdout.
 */
export type Output =
  | { kind: 'stdout' }
  | { kind: 'file'; path: string; encryptedPath: string }
  | { kind: 'special'; path: string; special: SpecialKind };

/** The output for NAME stored as `name` (a relative path) inside `dir`. */
export function inFolder(dir: string, name: string): Output & { kind: 'file' } {
  const path = join(dir, name);
  return { kind: 'file', path, encryptedPath: `${path}.sst` };
}

/**
 * `--out` for one name as curl and wget read it: absent, the basename of NAME here (NAME.sst
 * for an encrypted body stored as is); `-`, standard output; an existing folder (or a path
 * ending in `/`, which must then exist), the basename of NAME in it; anything else, that file,
 * whatever the mode. Whichever it is, an existing character or block device or FIFO there
 * (symbolic links followed) is written in place, whatever the mode.
 * @throws SecureStreamError `output-dir-missing`, `output-is-socket`
 */
export async function resolveOutput(name: string, out: string | undefined): Promise<Output> {
  if (out === '-') return { kind: 'stdout' };
  const output: Output & { kind: 'file' } =
    out !== undefined && !(await isFolder(out))
      ? { kind: 'file', path: out, encryptedPath: out }
      : inFolder(out ?? '.', posix.basename(name));
  const special = await specialKind(output.path);
  return special ? { kind: 'special', path: output.path, special } : output;
}

/**
 * Whether `out` names an existing folder. A path ending in `/` must be one
 * (`output-dir-missing` otherwise); any other path that is not a folder is a file name.
 */
export async function isFolder(out: string): Promise<boolean> {
  return stat(out).then(
    (s) => s.isDirectory(),
    (e: unknown) => {
      if (out.endsWith('/')) throw missingFolder(out, e);
      return false;
    },
  );
}

/** `output-dir-missing` for an output folder that `stat` could not find (`e`). */
export function missingFolder(dir: string, e: unknown): SecureStreamError {
  return new SecureStreamError(
    'output-dir-missing',
    errnoCode(e) === 'ENOTDIR'
      ? `output folder "${dir}" is not a folder`
      : `output folder "${dir}" does not exist`,
    'create the folder or choose another --out',
    { cause: e },
  );
}

/** The path a finished download is renamed to: NAME, or NAME.sst for ciphertext kept as is. */
export function finalPath(
  output: Output & { kind: 'file' },
  mode: Mode,
  decrypts: boolean,
): string {
  return mode === 'sstream-v1' && !decrypts ? output.encryptedPath : output.path;
}

/** What storing a body found out. */
export interface Stored {
  /** True when the body was sstream-v1 and the plaintext was stored. */
  decrypts: boolean;
  /** SHA-256 of the plaintext stored, when decrypted. */
  plaintextSha256?: string;
}

/**
 * Pipes `body` into `sink`, through the sstream-v1 decoder when `mode` says so (verifying
 * every chunk; decrypting with `decrypt`). Rejects with the body's error, a format error, or
 * `output-failed` when standard output closes early.
 */
export async function storeBody(
  body: Readable,
  mode: Mode,
  key: KeyObject,
  decrypt: boolean,
  sink: Writable,
): Promise<Stored> {
  const decoder = mode === 'sstream-v1' ? sstreamDecoder(key, decrypt) : undefined;
  const plaintextHash = decoder?.decrypts ? createHash('sha256') : undefined;
  if (plaintextHash) decoder?.stream.on('data', (b: Buffer) => plaintextHash.update(b));
  await (decoder ? pipeline(body, decoder.stream, sink) : pipeline(body, sink)).catch(
    (e: unknown) => {
      throw sink === process.stdout && errnoCode(e) === 'EPIPE' ? stdoutClosed(e) : e;
    },
  );
  return plaintextHash
    ? { decrypts: true, plaintextSha256: plaintextHash.digest('hex') }
    : { decrypts: false };
}

/** Throws `digest-mismatch` unless the plaintext stored is the one the server hashed. */
export function checkPlaintext(got: string, expected: string | undefined): void {
  if (got !== expected) {
    throw new SecureStreamError(
      'digest-mismatch',
      `the decrypted file has SHA-256 ${got}, the server says ${expected ?? '(none)'}`,
    );
  }
}

export function stdoutClosed(e: unknown): SecureStreamError {
  return new SecureStreamError(
    'output-failed',
    'standard output was closed before the transfer completed',
    undefined,
    { cause: e },
  );
}
