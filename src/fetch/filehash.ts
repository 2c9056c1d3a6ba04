/**
 * SHA-256 of a file that is still being written, on a worker thread: the resumed download's
 * kept prefix is read back and hashed while the rest of the file arrives and is written after
 * it, and the worker then hashes the new bytes from the page cache until it has caught up with
 * the writer. The main thread only counts, writes and says how far the file is written;
 * nothing is buffered in memory beyond the worker's one read buffer (READ_BYTES).
 *
 * The worker reads through its own read-only descriptor of the file, opened here and closed
 * only after the worker has exited, so a rename of the file (commit, keep) or the close of the
 * writer's handle never leaves the worker reading a descriptor number that was reused.
 */
import { openSync, closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { SecureStreamError } from '../errors.js';

/** Bytes the worker reads and hashes at a time. */
export const READ_BYTES = 1024 * 1024;

/** Slots of the shared state (BigInt64Array). */
const WRITTEN = 0; // bytes [0, WRITTEN) are on disk and may be read
const END = 1; // the file's final length, or -1 while unknown
const STOP = 2; // 1: give up at once
const SEQ = 3; // bumped on every change, what the worker waits on

/**
 * The worker's program. It is given as source text (eval) so that it also runs inside the
 * single executable, where there is no module file to point a Worker at; it reads only
 * `workerData` and speaks one message: `{ sha256 }` or `{ error, code }`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const { fd, state: sab, readBytes } = workerData;
const state = new BigInt64Array(sab);
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(readBytes);
let pos = 0;
try {
  for (;;) {
    const seq = Atomics.load(state, ${SEQ});
    if (Atomics.load(state, ${STOP}) !== 0n) break;
    const written = Number(Atomics.load(state, ${WRITTEN}));
    const end = Number(Atomics.load(state, ${END}));
    if (pos < written) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, written - pos), pos);
      if (n === 0) throw Object.assign(new Error('the file ended at byte ' + pos + ', before byte ' + written), { code: 'ESHORT' });
      hash.update(buf.subarray(0, n));
      pos += n;
      continue;
    }
    if (end >= 0 && pos >= end) {
      parentPort.postMessage({ sha256: hash.digest('hex'), bytes: pos });
      break;
    }
    Atomics.wait(state, ${SEQ}, seq);
  }
} catch (e) {
  parentPort.postMessage({ error: String(e && e.message), code: e && e.code });
}
`;

type Reply = { sha256: string; bytes: number } | { error: string; code?: string };

/**
 * One file's SHA-256, computed on a worker thread as the file grows from byte 0.
 * Call {@link written} as bytes reach the file, {@link digest} once its length is final, and
 * {@link close} on every path (it stops the worker and releases its descriptor; a running
 * worker keeps the process alive, as the transfer it belongs to does).
 */
export class GrowingFileHash {
  private readonly state = new BigInt64Array(new SharedArrayBuffer(4 * 8));
  private readonly worker: Worker;
  private readonly fd: number;
  private readonly reply: Promise<Reply>;
  private readonly exited: Promise<void>;
  private closed = false;

  /**
   * @param path the file, already holding at least `written` bytes (read through a descriptor
   *   of its own, opened now)
   * @param written bytes at the start of the file that may be hashed at once
   * @throws SecureStreamError `output-failed` when the file cannot be opened for reading
   */
  constructor(path: string, written: number) {
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw new SecureStreamError(
        'output-failed',
        `cannot open "${path}" to hash what it holds: ${(e as Error).message}`,
      );
    }
    Atomics.store(this.state, WRITTEN, BigInt(written));
    Atomics.store(this.state, END, -1n);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { fd: this.fd, state: this.state.buffer, readBytes: READ_BYTES },
      // The worker needs no more than its read buffer and a hash; keep its heap small.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    this.reply = new Promise<Reply>((resolve) => {
      this.worker.once('message', resolve);
      this.worker.once('error', (e: Error) => {
        resolve({ error: e.message });
      });
      this.worker.once('exit', () => {
        resolve({ error: 'the hashing thread stopped' });
      });
    });
    this.exited = new Promise<void>((resolve) => {
      this.worker.once('exit', () => {
        resolve();
      });
    });
  }

  /** Bytes [0, `bytes`) are on disk: the worker may read up to there. */
  written(bytes: number): void {
    Atomics.store(this.state, WRITTEN, BigInt(bytes));
    this.poke();
  }

  /**
   * The SHA-256 (lower-case hex) of the file's first `length` bytes, once the worker has read
   * them all; every byte up to `length` must have been announced with {@link written}.
   * @throws SecureStreamError `output-failed` when the file cannot be read back (shorter than
   *   announced, an I/O error)
   */
  async digest(length: number): Promise<string> {
    Atomics.store(this.state, WRITTEN, BigInt(length));
    Atomics.store(this.state, END, BigInt(length));
    this.poke();
    const r = await this.reply;
    if ('error' in r) {
      throw new SecureStreamError(
        'output-failed',
        `could not read back the file being stored to hash it: ${r.error}`,
      );
    }
    if (r.bytes !== length) {
      throw new SecureStreamError('output-failed', `hashed ${r.bytes} bytes, not ${length}`);
    }
    return r.sha256;
  }

  /** Stops the worker (if it still runs) and closes its descriptor once it has exited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.state, STOP, 1n);
    this.poke();
    await this.exited;
    closeSync(this.fd);
  }

  private poke(): void {
    Atomics.add(this.state, SEQ, 1n);
    Atomics.notify(this.state, SEQ);
  }
}
