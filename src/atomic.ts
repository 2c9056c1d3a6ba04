import {
  closeSync,
  fchmodSync,
  fsync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { FileSink } from './filesink.js';
import { NAME_MAX, outputError } from './outputerror.js';

export { NAME_MAX, outputError };

/** A temporary file is readable by its owner only until the final rename gives it its mode. */
export const TEMP_MODE = 0o600;

/**
 * What a new output file gets by default: 0666 less the umask, as curl, wget and age (and the
 * shell's `>`) create files. Keys pass 0o600.
 */
export const DEFAULT_OUTPUT_MODE = 0o666;

export interface AtomicFileOptions {
  /** Permission bits the file gets at commit, before the umask is applied (default 0o666). */
  mode?: number;
  /**
   * Whether commit also syncs the folder (default true). A batch that commits many files
   * into a few folders passes false and syncs each folder once at the end (FolderSyncs).
   */
  syncFolder?: boolean;
  /**
   * Aborting it (src/interrupt.ts does so on SIGINT, SIGTERM and SIGHUP) removes the
   * temporary file at once, synchronously, wherever the writer is; later writes and `commit`
   * fail with the signal's reason.
   */
  signal?: AbortSignal | undefined;
}

/**
 * An output file that appears at its path only when complete: bytes go to a temporary file
 * beside the target (mode 0600), `commit` fsyncs it, gives it its mode and renames it into
 * place, `abort` removes it. A file already at the target path stays untouched until the rename.
 */
export class AtomicFile {
  /** Not written in place (src/specialfile.ts has the kind of output that is). */
  readonly direct = false;
  private done = false;
  /** What an abort of the signal does instead of removing the file (see keepOnAbort). */
  private keeper: ((file: AtomicFile) => void) | undefined;
  private readonly onAbort = (): void => {
    if (this.keeper && !this.done) {
      this.done = true;
      try {
        this.keeper(this);
      } catch {
        this.discard(true);
      }
      void this.handle.close().catch(() => undefined);
      return;
    }
    this.discard();
  };

  private constructor(
    readonly path: string,
    readonly tempPath: string,
    readonly handle: FileHandle,
    private readonly mode: number,
    private readonly signal: AbortSignal | undefined,
    private readonly syncFolder: boolean,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * Creates the temporary file for `path`.
   * @throws the signal's reason when already aborted; SecureStreamError from {@link outputError}
   */
  static async create(path: string, opts: AtomicFileOptions = {}): Promise<AtomicFile> {
    opts.signal?.throwIfAborted();
    checkNameFits(path);
    return AtomicFile.openTemp(path, join(dirname(path), tempName(basename(path))), 'wx', opts);
  }

  /**
   * Takes over `tempPath`, an existing file of ours beside `path` (a partial download kept by
   * an earlier run), opened for reading and writing: it is committed, kept or removed like a
   * file made by `create`.
   * @throws SecureStreamError from {@link outputError} when it cannot be opened
   */
  static async adopt(
    path: string,
    tempPath: string,
    opts: AtomicFileOptions = {},
  ): Promise<AtomicFile> {
    opts.signal?.throwIfAborted();
    return AtomicFile.openTemp(path, tempPath, 'r+', opts);
  }

  /** Opens `tempPath` with `flags` (a new one gets TEMP_MODE) as the temporary file of `path`. */
  private static async openTemp(
    path: string,
    tempPath: string,
    flags: 'wx' | 'r+',
    opts: AtomicFileOptions,
  ): Promise<AtomicFile> {
    let handle: FileHandle;
    try {
      handle = await open(tempPath, flags, TEMP_MODE);
    } catch (e) {
      throw outputError(e, path);
    }
    const mode = (opts.mode ?? DEFAULT_OUTPUT_MODE) & ~umask();
    const file = new AtomicFile(path, tempPath, handle, mode, opts.signal, opts.syncFolder ?? true);
    if (opts.signal?.aborted) file.discard(); // aborted while the file was being opened
    return file;
  }

  /**
   * On an abort of the signal, runs `keep` (synchronously, as the removal would) instead of
   * removing the file: a partial download asked to be kept is renamed and described there.
   * If `keep` throws, the file is removed after all. `undefined` restores the removal.
   */
  keepOnAbort(keep: ((file: AtomicFile) => void) | undefined): void {
    this.keeper = keep;
  }

  /**
   * A FileSink over the temporary file from byte `position` on; `onWritten` is told the file
   * offset after every write.
   */
  sink(position = 0, onWritten?: (position: number) => void): FileSink {
    return new FileSink(this.handle, this.path, { position, ...(onWritten && { onWritten }) });
  }

  /**
   * Syncs the bytes written so far, closes the file and renames it to `partialPath` (mode
   * 0600 as ever): a partial download kept for a later `--continue`. Removes it instead if
   * that fails, and throws.
   */
  async keep(partialPath: string): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    try {
      await this.handle.sync();
      await this.handle.close();
      await rename(this.tempPath, partialPath);
    } catch (e) {
      await this.handle.close().catch(() => undefined);
      await unlink(this.tempPath).catch(() => undefined);
      throw outputError(e, partialPath);
    }
    if (this.syncFolder) await syncDir(dirname(partialPath));
  }

  /**
   * Makes the file visible at `finalPath` (default: the path given at creation, same folder)
   * with its final mode.
   */
  async commit(finalPath = this.path): Promise<void> {
    if (this.done) {
      this.signal?.throwIfAborted();
      return;
    }
    try {
      await this.handle.sync();
      await this.handle.chmod(this.mode);
      await this.handle.close();
      this.signal?.throwIfAborted();
      await rename(this.tempPath, finalPath);
      this.done = true;
      this.signal?.removeEventListener('abort', this.onAbort);
    } catch (e) {
      await this.abort();
      this.signal?.throwIfAborted();
      throw outputError(e, finalPath);
    }
    if (this.syncFolder) await syncDir(dirname(finalPath));
  }

  /** Removes the temporary file; safe to call more than once and after commit. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    await this.handle.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
  }

  /**
   * The abort path of a signal: the name goes synchronously, before anything else can run, so
   * even a process that dies right after leaves nothing behind; writes still in flight land in
   * the unlinked file and are freed with the descriptor.
   */
  private discard(force = false): void {
    if (this.done && !force) return;
    this.done = true;
    try {
      unlinkSync(this.tempPath);
    } catch {
      // already gone
    }
    void this.handle.close().catch(() => undefined);
  }
}

/**
 * Stores `data`, already complete and verified in memory, at `path` with the guarantees of an
 * AtomicFile (temporary file 0600 beside it, synced, given its mode, renamed into place; gone on
 * any failure or an abort of the signal), for small files in batches: the steps run as direct
 * system calls and only the fsync goes to the thread pool, where an AtomicFile pays a round trip
 * through it for each of six steps.
 * @throws the signal's reason when aborted; SecureStreamError from {@link outputError}
 */
export async function writeWholeFile(
  path: string,
  data: Buffer,
  opts: AtomicFileOptions = {},
): Promise<void> {
  opts.signal?.throwIfAborted();
  checkNameFits(path);
  const tempPath = join(dirname(path), tempName(basename(path)));
  let fd: number | undefined;
  let gone = false;
  const remove = (): void => {
    if (gone) return;
    gone = true;
    try {
      unlinkSync(tempPath);
    } catch {
      // never created, or already renamed
    }
  };
  opts.signal?.addEventListener('abort', remove, { once: true });
  try {
    fd = openSync(tempPath, 'wx', TEMP_MODE);
    for (let at = 0; at < data.length;) at += writeSync(fd, data, at, data.length - at, at);
    const handle = fd;
    await new Promise<void>((resolve, reject) => {
      fsync(handle, (e) => {
        if (e) reject(e);
        else resolve();
      });
    });
    fchmodSync(fd, (opts.mode ?? DEFAULT_OUTPUT_MODE) & ~umask());
    closeSync(fd);
    fd = undefined;
    opts.signal?.throwIfAborted();
    renameSync(tempPath, path);
    gone = true;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    remove();
    opts.signal?.throwIfAborted();
    throw outputError(e, path);
  } finally {
    opts.signal?.removeEventListener('abort', remove);
  }
  if (opts.syncFolder ?? true) await syncDir(dirname(path));
}

/**
 * Throws `output-name-too-long` when the last component of `path` is over NAME_MAX bytes:
 * said before any work (a download, a decryption) that the final rename would then refuse.
 */
export function checkNameFits(path: string): void {
  if (Buffer.byteLength(basename(path)) > NAME_MAX) {
    throw outputError(Object.assign(new Error('name too long'), { code: 'ENAMETOOLONG' }), path);
  }
}

/**
 * `.NAME.<12 hex>.part`, with NAME shortened (at a UTF-8 character boundary) so that the
 * whole name fits NAME_MAX bytes whatever the output name.
 */
export function tempName(name: string): string {
  const suffix = `.${randomBytes(6).toString('hex')}.part`;
  return `.${truncateUtf8(name, NAME_MAX - 1 - suffix.length)}${suffix}`;
}

/** The longest prefix of `s` of at most `max` UTF-8 bytes that ends on a character boundary. */
export function truncateUtf8(s: string, max: number): string {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= max) return s;
  let n = max;
  while (n > 0 && ((bytes[n] ?? 0) & 0xc0) === 0x80) n--; // back off a continuation byte
  return bytes.subarray(0, n).toString('utf8');
}

let cachedUmask: number | undefined;

/** Assumed when the umask cannot be read: the final file is then its owner's alone. */
const FALLBACK_UMASK = 0o077;

/**
 * The process umask, read from /proc (Linux 4.7+). `process.umask()` without an argument sets
 * the mask to 0 for a moment to read it, racing file creation on other threads.
 */
function umask(): number {
  if (cachedUmask === undefined) {
    let m: RegExpExecArray | null = null;
    try {
      m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    } catch {
      // not Linux: keep the fallback
    }
    cachedUmask = m?.[1] === undefined ? FALLBACK_UMASK : parseInt(m[1], 8);
  }
  return cachedUmask;
}

/**
 * Makes a rename in `dir` durable. Best effort: the file's bytes are already synced and in
 * place, and some file systems cannot fsync a folder; a failure here changes nothing a user
 * could act on.
 */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  if (!d) return;
  await d.sync().catch(() => undefined);
  await d.close().catch(() => undefined);
}
