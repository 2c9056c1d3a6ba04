import { Writable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { outputError } from './outputerror.js';

/**
 * Written bytes after which the sink starts an fdatasync in the background. The disk then
 * writes while more input arrives, instead of all at once in the fsync before the rename.
 */
export const WRITEBACK_BYTES = 32 * 1024 * 1024;

export interface FileSinkOptions {
  /** Written bytes between background fdatasyncs (default WRITEBACK_BYTES). */
  writebackBytes?: number;
  /** Bytes queued before `write` asks the producer to wait (default 4 MiB). */
  highWaterMark?: number;
  /** File offset of the first byte written (default 0): a resumed download appends. */
  position?: number;
  /**
   * False for a FIFO or a device written in place (src/specialfile.ts): writes go to the
   * current offset and no background fdatasync is started (default true).
   */
  seekable?: boolean;
  /** Called with the file offset after the last byte written, after every write. */
  onWritten?: (position: number) => void;
}

/**
 * A Writable over an open file that hashes nothing and copies nothing: while one write is in
 * the kernel, incoming chunks queue up and go out together in one writev, so small pieces
 * (16 KiB TLS records, decrypted chunks) become large sequential writes without
 * JavaScript-side concatenation. Writes go to explicit offsets from `position` on. Short
 * writes are completed, errors become output errors.
 */
export class FileSink extends Writable {
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private syncError: unknown;
  private readonly writebackBytes: number;
  private readonly seekable: boolean;
  private readonly onWritten: ((position: number) => void) | undefined;
  /** Background fdatasyncs started so far. */
  syncs = 0;
  /** File offset after the last byte written so far (bytes written, when not seekable). */
  position: number;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    opts: FileSinkOptions = {},
  ) {
    super({ highWaterMark: opts.highWaterMark ?? 4 * 1024 * 1024, decodeStrings: false });
    this.seekable = opts.seekable ?? true;
    this.writebackBytes = this.seekable ? (opts.writebackBytes ?? WRITEBACK_BYTES) : Infinity;
    this.position = opts.position ?? 0;
    this.onWritten = opts.onWritten;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.writeThen([chunk], cb);
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    cb: (e?: Error | null) => void,
  ): void {
    this.writeThen(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  /** Writes `bufs` and tells `cb`, with an output error naming the path on failure. */
  private writeThen(bufs: Buffer[], cb: (e?: Error | null) => void): void {
    this.writeAll(bufs).then(
      () => {
        cb();
      },
      (e: unknown) => {
        cb(outputError(e, this.path));
      },
    );
  }

  override _final(cb: (e?: Error | null) => void): void {
    void Promise.resolve(this.syncing).then(() => {
      cb(this.syncError === undefined ? null : outputError(this.syncError, this.path));
    });
  }

  private async writeAll(bufs: Buffer[]): Promise<void> {
    if (this.syncError !== undefined) throw outputError(this.syncError, this.path);
    let rest = bufs;
    while (rest.length > 0) {
      const at = this.seekable ? this.position : undefined; // undefined: the current offset
      const { bytesWritten } = await this.handle.writev(rest, at);
      this.position += bytesWritten;
      rest = skip(rest, bytesWritten);
      this.unsynced += bytesWritten;
    }
    this.onWritten?.(this.position);
    if (this.unsynced >= this.writebackBytes && !this.syncing) {
      this.unsynced = 0;
      this.syncs++;
      this.syncing = this.handle
        .datasync()
        .catch((e: unknown) => {
          this.syncError = e;
        })
        .finally(() => {
          this.syncing = undefined;
        });
    }
  }
}

/** Drops `n` written bytes from the front of a buffer list (short writes do happen). */
function skip(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= (bufs[i]?.length ?? 0)) n -= bufs[i++]?.length ?? 0;
  const rest = bufs.slice(i);
  if (n > 0 && rest[0]) rest[0] = rest[0].subarray(n);
  return rest;
}
