import { Writable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { outputError } from './outputerror.js';

/**
 * Written bytes after which the sink starts an fdatasync in the background. The disk then
 * writes while more input arrives, instead of all at once in the fsync before the rename.
 */
export const WRITEBACK_BYTES = 32 * 1024 * 1024;

/** Bytes of the ring a FileSink copies its input into: what it holds at most, in bytes. */
export const RING_BYTES = 1024 * 1024;

/**
 * Chunks the stream itself queues while the ring is full, in bytes, before `write` asks the
 * producer to wait.
 */
const QUEUE_BYTES = 64 * 1024;

/** Free rings of RING_BYTES kept for the next sink (a batch opens file after file). */
const MAX_FREE_RINGS = 8;
const freeRings: Buffer[] = [];

export interface FileSinkOptions {
  /** Written bytes between background fdatasyncs (default WRITEBACK_BYTES). */
  writebackBytes?: number;
  /**
   * Size of the ring, in bytes (default RING_BYTES, pooled): what is held taken but not yet
   * written before chunks queue in the stream (QUEUE_BYTES more, then `write` returns false).
   */
  ringBytes?: number;
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
 * A Writable over an open file that copies every chunk it takes into a ring of its own and
 * acknowledges it at once; one write at a time takes everything the ring holds (one writev,
 * two pieces where it wraps), so 16 KiB TLS records become large sequential writes. The
 * copy is the point: a record handed in is garbage as soon as `write` returns, instead of
 * waiting in a queue while the disk is busy, long enough for the garbage collector to move
 * it to the old generation (with eight transfers at once that made a full mark-compact
 * every few megabytes; docs/PERFORMANCE.md "Client CPU per byte"). Memory: the ring
 * (`ringBytes`) and at most QUEUE_BYTES of chunks while it is full. Writes go to
 * explicit offsets from `position` on. Short writes are completed, errors become output
 * errors.
 */
export class FileSink extends Writable {
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private syncError: unknown;
  private readonly writebackBytes: number;
  private readonly seekable: boolean;
  private readonly onWritten: ((position: number) => void) | undefined;
  private readonly ringBytes: number;
  private ring: Buffer | undefined;
  /** Bytes taken into the ring so far, and bytes of them written (both since the start). */
  private taken = 0;
  private stored = 0;
  private writing = false;
  private failure: Error | undefined;
  /** A chunk that waits for room in the ring. */
  private waiting: (() => void) | undefined;
  /** `_final`'s callback, once every byte taken has been written. */
  private finishing: ((e?: Error | null) => void) | undefined;
  /** Background fdatasyncs started so far. */
  syncs = 0;
  /** File offset after the last byte written so far (bytes written, when not seekable). */
  position: number;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    opts: FileSinkOptions = {},
  ) {
    super({ highWaterMark: QUEUE_BYTES, decodeStrings: false });
    this.seekable = opts.seekable ?? true;
    this.writebackBytes = this.seekable ? (opts.writebackBytes ?? WRITEBACK_BYTES) : Infinity;
    this.position = opts.position ?? 0;
    this.onWritten = opts.onWritten;
    this.ringBytes = Math.max(1, opts.ringBytes ?? RING_BYTES);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.take(chunk, 0, cb);
  }

  /** Copies `chunk` from `from` on into the ring, waiting for room as needed, then `cb`. */
  private take(chunk: Buffer, from: number, cb: (e?: Error | null) => void): void {
    if (this.failure) {
      cb(this.failure);
      return;
    }
    const ring = (this.ring ??=
      this.ringBytes === RING_BYTES ? takeRing() : newRing(this.ringBytes));
    const size = ring.length;
    while (from < chunk.length) {
      const room = size - (this.taken - this.stored);
      if (room === 0) {
        this.waiting = () => {
          this.take(chunk, from, cb);
        };
        this.flush();
        return;
      }
      const at = this.taken % size;
      const n = Math.min(room, size - at, chunk.length - from);
      chunk.copy(ring, at, from, from + n);
      this.taken += n;
      from += n;
    }
    this.flush();
    cb();
  }

  /** Starts a write of everything taken and not yet written, unless one is running. */
  private flush(): void {
    const ring = this.ring;
    if (this.writing || this.failure || !ring || this.stored === this.taken) return;
    const size = ring.length;
    const start = this.stored % size;
    const end = this.taken;
    const n = end - this.stored;
    const bufs =
      start + n <= size
        ? [ring.subarray(start, start + n)]
        : [ring.subarray(start), ring.subarray(0, start + n - size)];
    this.writing = true;
    this.writeAll(bufs).then(
      () => {
        this.writing = false;
        this.stored = end;
        this.afterWrite();
      },
      (e: unknown) => {
        this.writing = false;
        this.fail(outputError(e, this.path));
      },
    );
  }

  private afterWrite(): void {
    if (this.destroyed) {
      this.releaseRing();
      return;
    }
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
    this.flush();
    if (this.finishing && !this.writing && this.stored === this.taken) this.finish();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const waiting = this.waiting;
    this.waiting = undefined;
    const finishing = this.finishing;
    this.finishing = undefined;
    if (waiting) waiting();
    else if (finishing) finishing(e);
    else this.destroy(e);
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (this.failure) {
      cb(this.failure);
      return;
    }
    this.finishing = cb;
    this.flush();
    if (!this.writing) this.finish();
  }

  /** Every byte is written: waits for a background fdatasync still running, then `_final`'s cb. */
  private finish(): void {
    const cb = this.finishing;
    this.finishing = undefined;
    if (!cb) return;
    this.releaseRing();
    void Promise.resolve(this.syncing).then(() => {
      cb(this.syncError === undefined ? null : outputError(this.syncError, this.path));
    });
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    // A write in flight still reads the ring: it goes back to the pool when that one ends.
    if (!this.writing) this.releaseRing();
    cb(e);
  }

  private releaseRing(): void {
    const ring = this.ring;
    this.ring = undefined;
    if (ring?.length === RING_BYTES && freeRings.length < MAX_FREE_RINGS) freeRings.push(ring);
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

function takeRing(): Buffer {
  return freeRings.pop() ?? newRing(RING_BYTES);
}

function newRing(bytes: number): Buffer {
  return Buffer.allocUnsafeSlow(bytes);
}

/** Drops `n` written bytes from the front of a buffer list (short writes do happen). */
function skip(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= (bufs[i]?.length ?? 0)) n -= bufs[i++]?.length ?? 0;
  const rest = bufs.slice(i);
  if (n > 0 && rest[0]) rest[0] = rest[0].subarray(n);
  return rest;
}
