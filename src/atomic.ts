import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { SecureStreamError, errnoCode } from './errors.js';

/**
 * An output file that appears at its path only when complete: bytes go to a temporary file
 * beside the target, `commit` fsyncs and renames it into place, `abort` removes it. A file
 * already at the target path stays untouched until the rename.
 */
export class AtomicFile {
  private constructor(
    readonly path: string,
    readonly tempPath: string,
    readonly handle: FileHandle,
  ) {}

  private done = false;

  static async create(path: string, mode = 0o644): Promise<AtomicFile> {
    const tempPath = join(
      dirname(path),
      `.${basename(path)}.${randomBytes(6).toString('hex')}.part`,
    );
    let handle: FileHandle;
    try {
      handle = await open(tempPath, 'wx', mode);
    } catch (e) {
      throw outputError(e, path);
    }
    return new AtomicFile(path, tempPath, handle);
  }

  /** Makes the file visible at `finalPath` (default: the path given at creation, same folder). */
  async commit(finalPath = this.path): Promise<void> {
    if (this.done) return;
    try {
      await this.handle.sync();
      await this.handle.close();
      await rename(this.tempPath, finalPath);
      this.done = true;
    } catch (e) {
      await this.abort();
      throw outputError(e, finalPath);
    }
    await syncDir(dirname(finalPath));
  }

  /** Removes the temporary file; safe to call more than once and after commit. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
  }
}

/**
 * Makes a rename in `dir` durable. Best effort: the file's bytes are already synced and in
 * place, and some file systems cannot fsync a folder; a failure here changes nothing a user
 * could act on.
 */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  if (!d) return;
  await d.sync().catch(() => undefined);
  await d.close().catch(() => undefined);
}

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
