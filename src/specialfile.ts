/**
 * Outputs that exist and are not regular files (issue 10): a character or block device or a
 * FIFO named as the output is written in place, as curl, wget, age and cp do. It is opened for
 * writing without being created or truncated, and never replaced by a rename, given a mode or
 * removed: `get f --out /dev/null` must not turn the device into a regular file. A socket
 * cannot be opened for writing (`output-is-socket`). Symbolic links are followed.
 *
 * A FIFO is written through the event loop (a non-blocking pipe, as Node writes a piped
 * stdout), never from the thread pool: a thread blocked in open(2) or write(2) on a FIFO whose
 * reader is absent or stalled would keep the process from exiting on Ctrl-C or SIGTERM.
 */
import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtomicFile, type AtomicFileOptions } from './atomic.js';
import { errnoCode, SecureStreamError } from './errors.js';
import { FileSink } from './filesink.js';
import { outputError } from './outputerror.js';

/** The kinds of existing output written in place. */
export type SpecialKind = 'character device' | 'block device' | 'FIFO';

/** Where a command writes its output: a temporary file renamed into place, or in place. */
export type OutputFile = AtomicFile | InPlaceFile;

/**
 * The output of a command's `--out PATH`: an existing character or block device or FIFO
 * (symbolic links followed) is opened in place (a FIFO's open waits for a reader, as
 * `cat > fifo` does, until the signal aborts); anything else gets a temporary file beside it
 * ({@link AtomicFile.create}).
 * @throws the signal's reason; SecureStreamError from `outputError`, `output-is-socket`
 */
export async function openOutput(path: string, opts: AtomicFileOptions = {}): Promise<OutputFile> {
  opts.signal?.throwIfAborted();
  const kind = await specialKind(path);
  return kind ? openSpecial(path, kind, opts) : AtomicFile.create(path, opts);
}

/**
 * {@link openOutput} for a path `specialKind` already found to be of kind `kind` (get's
 * `--out`, resolved before dialling): opened in place without looking at the path again, or
 * given a temporary file when it is no longer special.
 * @throws the signal's reason; SecureStreamError from `outputError`
 */
export async function openSpecial(
  path: string,
  kind: SpecialKind,
  opts: AtomicFileOptions = {},
): Promise<OutputFile> {
  opts.signal?.throwIfAborted();
  return (await InPlaceFile.open(path, kind, opts.signal)) ?? AtomicFile.create(path, opts);
}

function kindOf(st: Stats): SpecialKind | 'socket' | undefined {
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  return undefined;
}

/**
 * What is at `path` (following symbolic links) when it is to be written in place; undefined
 * when nothing is there (or it cannot be looked at: the write then says why), or it is a
 * regular file or a folder.
 * @throws SecureStreamError `output-is-socket` when `path` is a Unix socket
 */
export async function specialKind(path: string): Promise<SpecialKind | undefined> {
  const st = await stat(path).catch(() => undefined);
  const kind = st && kindOf(st);
  if (kind === 'socket') {
    throw new SecureStreamError(
      'output-is-socket',
      `output "${path}" is a socket, which cannot be written as a file`,
      'choose another --out',
    );
  }
  return kind;
}

/** Errors of an fsync that a character device cannot do: it has nothing to make durable. */
const CANNOT_SYNC = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EROFS']);

/** Wait between tries to open a FIFO that has no reader yet, in ms (doubling up to the cap). */
const READER_POLL_MS = { first: 10, max: 250 } as const;

/**
 * An existing device or FIFO written in place: no temporary file; `commit` and `abort` only
 * close it (what was written has gone to the device or the reader). Nothing of it can be kept
 * for `--continue`.
 */
export class InPlaceFile {
  readonly direct = true;
  /** The path written: the output itself. */
  readonly tempPath: string;
  private closed = false;

  private constructor(
    readonly path: string,
    readonly kind: SpecialKind,
    private readonly to: { handle: FileHandle } | { pipe: Socket },
  ) {
    this.tempPath = path;
  }

  /**
   * Opens `path`, of kind `kind`, for writing: O_WRONLY | O_NOCTTY, without O_CREAT or
   * O_TRUNC, so a path that vanished is not created and a regular file that took its place is
   * not emptied. Resolves to undefined when `path` is no longer special (the caller then
   * writes it as any other file).
   */
  static async open(
    path: string,
    kind: SpecialKind,
    signal: AbortSignal | undefined,
  ): Promise<InPlaceFile | undefined> {
    try {
      if (kind === 'FIFO') {
        const fd = await openFifo(path, signal);
        return fd === undefined ? undefined : new InPlaceFile(path, kind, { pipe: pipeOf(fd) });
      }
      const handle = await open(path, constants.O_WRONLY | constants.O_NOCTTY);
      const now = await handle.stat().then(kindOf);
      if (now === kind) return new InPlaceFile(path, kind, { handle });
      await handle.close();
      return undefined;
    } catch (e) {
      signal?.throwIfAborted();
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw outputError(e, path);
    }
  }

  /**
   * A stream to write to: the pipe, or the device at its current offset. Ending it leaves the
   * file open: a retry writes on with a new sink, and `commit` closes the file.
   */
  sink(): Writable {
    return 'pipe' in this.to
      ? new PipeSink(this.to.pipe, this.path)
      : new FileSink(this.to.handle, this.path, { seekable: false });
  }

  /** Syncs what can be synced (a block device) and closes it. */
  async commit(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if ('pipe' in this.to) {
      const { pipe } = this.to;
      try {
        await new Promise<void>((resolve, reject) => {
          pipe.once('error', reject);
          pipe.end(() => {
            resolve();
          });
        });
      } catch (e) {
        throw outputError(e, this.path);
      } finally {
        pipe.destroy();
      }
      return;
    }
    const { handle } = this.to;
    try {
      await handle.sync().catch((e: unknown) => {
        if (!CANNOT_SYNC.has(errnoCode(e) ?? '')) throw e;
      });
      await handle.close();
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw outputError(e, this.path);
    }
  }

  /** Closes it, nothing more: the device or FIFO stays. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if ('pipe' in this.to) this.to.pipe.destroy();
    else await this.to.handle.close().catch(() => undefined);
  }
}

/**
 * Opens a FIFO for writing without blocking: O_NONBLOCK fails with ENXIO while no reader has
 * it open, so this tries again with a growing wait until one does or `signal` aborts.
 * Undefined when it is no longer a FIFO.
 */
async function openFifo(
  path: string,
  signal: AbortSignal | undefined,
): Promise<number | undefined> {
  const flags = constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
  for (let wait: number = READER_POLL_MS.first; ; wait = Math.min(wait * 2, READER_POLL_MS.max)) {
    signal?.throwIfAborted();
    let fd: number;
    try {
      fd = openSync(path, flags); // never blocks with O_NONBLOCK
    } catch (e) {
      if (errnoCode(e) !== 'ENXIO') throw e;
      await sleep(wait, undefined, signal ? { signal } : {});
      continue;
    }
    if (kindOf(fstatSync(fd)) === 'FIFO') return fd;
    closeSync(fd);
    return undefined;
  }
}

/** The FIFO's descriptor as a non-blocking pipe stream of the event loop (libuv), write only. */
function pipeOf(fd: number): Socket {
  return new Socket({ fd, readable: false, writable: true });
}

/**
 * A Writable into a FIFO, one chunk in the pipe at a time (the rest waits in this stream's
 * buffer); its errors (EPIPE when the reader went away) become output errors naming the path.
 */
class PipeSink extends Writable {
  constructor(
    private readonly fifo: Socket,
    private readonly path: string,
  ) {
    super({ highWaterMark: 4 * 1024 * 1024, decodeStrings: false });
    fifo.on('error', (e) => {
      this.destroy(outputError(e, path));
    });
  }

  /** Done when the pipe has written the chunk: its buffer may then be reused. */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.fifo.write(chunk, (e) => {
      cb(e ? outputError(e, this.path) : null);
    });
  }

  /** Done when all written has reached the pipe; the FIFO itself stays open (see `commit`). */
  override _final(cb: (e?: Error | null) => void): void {
    this.fifo.write(Buffer.alloc(0), () => {
      cb();
    });
  }
}
