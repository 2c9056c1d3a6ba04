/** The errors of writing an output file, worded for the user who chose the path. */
import { SecureStreamError, errnoCode } from './errors.js';

/** Longest file name (one path component) in bytes on Linux file systems: NAME_MAX. */
export const NAME_MAX = 255;

/** Maps file-system errors on the output path to errors a user can act on. */
export function outputError(e: unknown, path: string): SecureStreamError {
  if (e instanceof SecureStreamError) return e;
  const code = errnoCode(e);
  switch (code) {
    case 'ENOENT':
      return new SecureStreamError(
        'output-dir-missing',
        `output folder of "${path}" does not exist`,
        'create the folder or choose another --out',
        { cause: e },
      );
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new SecureStreamError(
        'output-not-writable',
        `cannot write "${path}": permission denied or read-only file system`,
        'choose a writable --out',
        { cause: e },
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return new SecureStreamError(
        'disk-full',
        `no space left on the device while writing "${path}"`,
        'free some space or choose another --out',
        { cause: e },
      );
    case 'ENAMETOOLONG':
      return new SecureStreamError(
        'output-name-too-long',
        `output path "${path}" is too long for the file system (at most ${NAME_MAX} bytes per name)`,
        'choose a shorter --out',
        { cause: e },
      );
    case 'EPIPE':
      return new SecureStreamError(
        'output-failed',
        `the reader of "${path}" went away before the transfer completed`,
        undefined,
        { cause: e },
      );
    case 'EISDIR':
      return new SecureStreamError(
        'output-is-directory',
        `output path "${path}" is a directory`,
        undefined,
        { cause: e },
      );
    default:
      return new SecureStreamError(
        'output-failed',
        `cannot write "${path}": ${e instanceof Error ? e.message : String(e)}`,
        undefined,
        { cause: e },
      );
  }
}
