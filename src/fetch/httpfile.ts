/**
 * One file over HTTP/1.1 (docs/PROTOCOL.md "HTTP" and "Resuming"), with verified resume:
 * after a failure, or from a partial kept by an earlier run, the rest is asked for with
 * `Range: bytes=N-` and `If-Range: <ETag>`. A 206 means the server still has the version the
 * held bytes belong to, and the rest is appended; a 200 means the file changed, and the
 * download starts over from byte 0. Either way the file is committed only when the SHA-256 of
 * all its bytes (the held ones re-read from disk when they come from an earlier run) equals
 * the server's Repr-Digest; a resumed file that does not match starts over once. Held bytes
 * from disk are hashed on a worker thread (GrowingFileHash) while the rest is requested and
 * written after them, so the read-back overlaps the transfer. Encrypted responses are made
 * with fresh keys each time and cannot be resumed: a retry starts over.
 */
import { createHash } from 'node:crypto';
import { renameSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AtomicFile, writeWholeFile } from '../atomic.js';
import { openSpecial, type OutputFile } from '../specialfile.js';
import { targetOf } from '../http/target.js';
import { SecureStreamError, errnoCode, isSecureStreamError } from '../errors.js';
import type { Mode } from '../protocol.js';
import { retry } from '../retry.js';
import type { HttpConnection, HttpResponse } from '../transport/httpclient.js';
import { DownloadCheck, type HeldPrefix } from '../transport/integrity.js';
import { received } from '../scavenge.js';
import { GrowingFileHash } from './filehash.js';
import {
  MAX_REFUSAL_BODY,
  PLAINTEXT_DIGEST_FIELD,
  contentLength,
  contentRange,
  field,
  modeOf,
  refusalOf,
  sha256OfDigestField,
  strongEtag,
} from './httpfields.js';
import type { FetchJob, FetchResult, FetchSettings, Fetched } from './job.js';
import {
  findPartial,
  partialPaths,
  removePartial,
  removeRecord,
  writeRecord,
  writeRecordSync,
  type PartialPaths,
} from './partial.js';
import { checkPlaintext, finalPath, storeBody, stdoutClosed } from './store.js';

/** Fetches `job` on `conn`, resuming or retrying as `s` allows. */
export function fetchOverHttp(
  conn: HttpConnection,
  job: FetchJob,
  s: FetchSettings,
): Promise<Fetched> {
  return new HttpTransfer(conn, job, s).run();
}

/**
 * Bodies up to this many bytes are held in memory and written in one go when complete; larger
 * ones stream to their temporary file as they arrive.
 */
export const SMALL_BODY = 256 * 1024;

const fresh = (): HeldPrefix => ({ bytes: 0, hash: createHash('sha256') });

class HttpTransfer {
  private file: OutputFile | undefined;
  private readonly paths: PartialPaths | undefined;
  /** The bytes of the current version held (on disk or already on stdout), hashed. */
  private held: HeldPrefix = fresh();
  /**
   * Bytes of the file on disk that this process has not hashed: a partial kept by an earlier
   * run, or what an attempt hashed on the worker thread before it failed.
   */
  private fromDisk: { bytes: number } | undefined;
  /** The current attempt's hash of the stored file, when the held bytes come from disk. */
  private follower: GrowingFileHash | undefined;
  /** The version the held bytes belong to: its entity tag and length. */
  private etag: string | undefined;
  private length: number | undefined;
  private mode: Mode = 'plain';
  /** Bytes of the file known to be written (for a kept partial's record). */
  private onDisk = 0;
  /** Where the body goes on disk: a FileSink (its `position`), or a device or FIFO. */
  private sink: (Writable & { position?: number }) | undefined;
  private received = 0;
  private resumedAt: number | undefined;
  private startedOver = false;
  /** Bytes went to stdout or a device written in place: they cannot be taken back. */
  private wroteOut = false;
  /** The file may hold bytes (from an earlier attempt or run): emptied before starting over. */
  private written = false;

  constructor(
    private readonly conn: HttpConnection,
    private readonly job: FetchJob,
    private readonly s: FetchSettings,
  ) {
    this.paths =
      job.output.kind === 'file' && s.keepPartial ? partialPaths(job.output.path) : undefined;
  }

  async run(): Promise<Fetched> {
    await this.open();
    const policy = this.s.retry && {
      ...this.s.retry,
      retryable: (e: unknown) => this.canRetry() && (this.s.retry?.retryable(e) ?? false),
    };
    try {
      return await retry(() => this.attempt(), policy, {
        signal: this.s.signal,
        onRetry: (e, ms) => {
          const how = this.resumable()
            ? `resuming at byte ${this.heldBytes()} in ${ms} ms`
            : `starting over in ${ms} ms`;
          this.s.note(`"${this.job.name}": ${(e as Error).message}; ${how}`);
        },
      });
    } catch (e) {
      await this.giveUp();
      throw e;
    }
  }

  /**
   * The output file: a kept partial adopted (--continue), a new temporary file when the first
   * byte is to be written, or a device or FIFO, opened once for all attempts (closing a FIFO
   * would end its reader).
   */
  private async open(): Promise<void> {
    const { output } = this.job;
    if (output.kind === 'special') {
      this.file =
        this.job.file ??
        (await openSpecial(output.path, output.special, { signal: this.s.signal }));
      return;
    }
    if (output.kind !== 'file') return;
    const opts = { signal: this.s.signal, syncFolder: this.s.syncFolder };
    if (this.s.resume) {
      const found = await findPartial(output.path, this.job.name);
      if (found.kind === 'usable') {
        const { record, paths } = found;
        const adopted = await AtomicFile.adopt(output.path, paths.data, opts);
        this.file = adopted;
        this.written = true;
        // Writes in flight when the partial was kept may have landed after its record.
        await adopted.handle.truncate(record.bytes);
        await removeRecord(paths);
        this.etag = record.etag;
        this.length = record.length;
        this.fromDisk = { bytes: record.bytes };
        this.onDisk = record.bytes;
      } else if (found.kind === 'unusable') {
        this.s.note(
          `"${this.job.name}": not resuming from ${found.paths.data}: ${found.reason}; starting over`,
        );
        await removePartial(found.paths);
      }
    }
    if (this.file && !this.file.direct) this.watchSignal(this.file);
  }

  /** The temporary file, made when the first byte is to be written. */
  private async ensureFile(): Promise<OutputFile | undefined> {
    const { output } = this.job;
    if (this.file || output.kind !== 'file') return this.file;
    const file = await AtomicFile.create(output.path, {
      signal: this.s.signal,
      syncFolder: this.s.syncFolder,
    });
    this.file = file;
    this.watchSignal(file);
    return file;
  }

  /** With --keep-partial, a signal keeps the partial instead of removing it. */
  private watchSignal(file: AtomicFile): void {
    const paths = this.paths;
    if (paths) {
      file.keepOnAbort((f) => {
        this.keepNow(f, paths);
      });
    }
  }

  /** One request: the whole file, or the rest of the version held. */
  private async attempt(): Promise<Fetched> {
    const start = this.resumeOffset();
    const headers: Record<string, string> = {};
    if (start > 0 && this.etag) {
      headers['range'] = `bytes=${start}-`;
      headers['if-range'] = this.etag;
      // Held bytes on disk are hashed on another thread from now on: while the request goes
      // out, and while the rest is written after them.
      if (this.fromDisk && this.file && !this.file.direct && !this.follower) {
        this.follower = new GrowingFileHash(this.file.tempPath, start);
      }
    }
    try {
      return await this.exchange(start, headers);
    } finally {
      await this.stopFollower();
    }
  }

  private async exchange(start: number, headers: Record<string, string>): Promise<Fetched> {
    const res = await this.conn.get(targetOf(this.job.name), headers, this.s.signal);
    let at = 0;
    if (res.status === 206 && start > 0) {
      at = this.resumeWith(res, start);
    } else if (res.status === 200) {
      if (start > 0) {
        this.s.note(
          `"${this.job.name}": the file changed on the server since the first ${start} bytes were stored; starting over`,
        );
      }
      await this.startOver();
    } else {
      throw refusalOf(this.job.name, res.status, await readCapped(res.body));
    }
    this.mode = modeOf(res.headers);
    if (this.s.verbose) {
      const n = field(res.headers, 'content-length') ?? '?';
      this.s.note(
        `receiving ${n} bytes, mode ${this.mode}${at > 0 ? `, from byte ${at} on (HTTP 206)` : ''}`,
      );
    }
    try {
      return this.mode === 'plain' ? await this.plain(res, at) : await this.encrypted(res);
    } catch (e) {
      if (isSecureStreamError(e) && e.code === 'digest-mismatch' && at > 0 && !this.startedOver) {
        // The held bytes are not the server's: changed or damaged here. Never splice.
        this.s.note(
          `"${this.job.name}": the ${at} bytes held did not match the server's file; starting over`,
        );
        this.startedOver = true;
        await this.startOver();
        this.etag = undefined;
        return this.attempt();
      }
      throw e;
    }
  }

  /** Where the next request starts: after the bytes held, or 0. */
  private resumeOffset(): number {
    if (!this.etag || this.length === undefined) return 0;
    // A kept partial that is already whole still asks for its last byte: the server's 206
    // confirms the version, and the digest checks the whole.
    if (this.fromDisk) return Math.min(this.fromDisk.bytes, Math.max(this.length - 1, 0));
    return this.held.bytes;
  }

  /** Bytes of the current version held, hashed or not. */
  private heldBytes(): number {
    return this.fromDisk?.bytes ?? this.held.bytes;
  }

  private async stopFollower(): Promise<void> {
    const f = this.follower;
    this.follower = undefined;
    await f?.close();
  }

  /** A 206 for the range asked: checks it and takes the held bytes as the prefix. */
  private resumeWith(res: HttpResponse, start: number): number {
    const range = contentRange(res.headers);
    if (range.start !== start || range.end !== range.size - 1 || range.size !== this.length) {
      throw new SecureStreamError(
        'protocol',
        `the server sent bytes ${range.start}-${range.end}/${range.size} for "${this.job.name}", asked for ${start}- of ${this.length}`,
      );
    }
    if (this.fromDisk && this.follower) {
      this.held = { bytes: start, hash: 'elsewhere' };
      this.onDisk = start;
      this.fromDisk = undefined;
    }
    this.resumedAt ??= start;
    return start;
  }

  /** Forgets the bytes held: the file is emptied (stdout and a device cannot be). */
  private async startOver(): Promise<void> {
    await this.stopFollower();
    if (this.wroteOut) {
      throw new SecureStreamError(
        'digest-mismatch',
        `"${this.job.name}" changed on the server after ${this.held.bytes} bytes went to ${this.file ? `"${this.file.path}"` : 'standard output'}`,
      );
    }
    if (this.file && this.written && !this.file.direct) await this.file.handle.truncate(0);
    this.held = fresh();
    this.fromDisk = undefined;
    this.onDisk = 0;
    this.written = false;
    this.resumedAt = undefined;
  }

  private async plain(res: HttpResponse, at: number): Promise<Fetched> {
    const sha = sha256OfDigestField(field(res.headers, 'repr-digest'));
    if (!sha) {
      res.body.destroy();
      throw new SecureStreamError(
        'protocol',
        `the server sent no Repr-Digest for "${this.job.name}"`,
        'a securestream server always sends one; is this another HTTP server?',
      );
    }
    const rest = contentLength(res.headers);
    if (at === 0) {
      this.etag = strongEtag(res.headers);
      this.length = rest;
    }
    const check = new DownloadCheck(this.length, this.held);
    check.expect(sha, "the server's Repr-Digest");
    if (rest !== undefined) this.s.announce(rest);
    const { output } = this.job;
    if (!this.file && output.kind === 'file' && rest !== undefined && rest <= SMALL_BODY) {
      return this.small(res, check, output.path);
    }
    const sink = await this.sinkAt(at);
    try {
      await pump(res.body, sink, (chunk) => {
        check.add(chunk);
        this.received += chunk.length;
        this.wroteOut ||= this.inPlace();
        this.s.progress(chunk.length);
      });
      await this.settle(sink);
    } catch (e) {
      await this.settle(sink).catch(() => undefined);
      if (this.held.hash === 'elsewhere') {
        // The hash of what is on disk stays on the worker, which stops with this attempt: the
        // next one hashes those bytes from disk again.
        this.fromDisk = { bytes: this.onDisk };
        this.held = fresh();
      } else {
        // Every byte hashed was handed to the sink, and the sink has written what it took.
        this.held = { bytes: check.received, hash: this.held.hash };
      }
      throw this.bodyError(e, check);
    }
    const { follower } = this;
    const sha256 = follower
      ? check.end(check.full ? await follower.digest(check.length) : undefined)
      : check.end();
    this.held = { bytes: check.received, hash: this.held.hash };
    return this.commit(res, sha256, check.length, false);
  }

  /**
   * A small body whole in memory, then written in one go (writeWholeFile): nothing is on disk
   * before every byte has arrived and verified, so a retry simply asks again.
   */
  private async small(res: HttpResponse, check: DownloadCheck, path: string): Promise<Fetched> {
    const parts: Buffer[] = [];
    try {
      await pump(res.body, undefined, (chunk) => {
        check.add(chunk);
        parts.push(chunk);
        this.received += chunk.length;
        this.s.progress(chunk.length);
      });
    } catch (e) {
      this.held = fresh();
      throw this.bodyError(e, check);
    }
    const sha256 = check.end();
    const committed = writeWholeFile(path, Buffer.concat(parts), {
      signal: this.s.signal,
      syncFolder: this.s.syncFolder,
    });
    return { result: this.result(res, path, sha256, check.length, false), committed };
  }

  private async encrypted(res: HttpResponse): Promise<Fetched> {
    // Fresh keys in every response: nothing of it can be resumed.
    this.etag = undefined;
    this.length = contentLength(res.headers);
    const check = new DownloadCheck(this.length);
    if (this.length !== undefined) this.s.announce(this.length);
    // The file first: a 'data' listener sets the body flowing.
    const sink = await this.sinkAt(0);
    res.body.on('data', (b: Buffer) => {
      received(b.length);
      try {
        check.add(b);
      } catch (e) {
        res.body.destroy(e as Error);
      }
      this.received += b.length;
      this.wroteOut ||= this.inPlace();
      this.s.progress(b.length);
    });
    let stored;
    try {
      stored = await storeBody(res.body, 'sstream-v1', this.s.privateKey, this.s.decrypt, sink);
    } catch (e) {
      throw this.bodyError(e, check);
    }
    const bodySha = sha256OfDigestField(res.trailer('repr-digest'));
    if (bodySha) check.expect(bodySha, "the server's Repr-Digest trailer");
    let sha256 = check.end();
    if (stored.decrypts) {
      sha256 = stored.plaintextSha256 ?? '';
      checkPlaintext(sha256, sha256OfDigestField(field(res.headers, PLAINTEXT_DIGEST_FIELD)));
    }
    return this.commit(res, sha256, check.length, stored.decrypts);
  }

  /** Starts the commit (sync, rename) and hands back the result without waiting for it. */
  private commit(res: HttpResponse, sha256: string, size: number, decrypts: boolean): Fetched {
    let path = '-';
    let committed = Promise.resolve();
    const { output } = this.job;
    const { file, paths } = this;
    if (file && output.kind !== 'stdout') {
      path = output.kind === 'file' ? finalPath(output, this.mode, decrypts) : output.path;
      const done = file.direct ? file.commit() : file.commit(path);
      committed = done.then(() => (paths ? removePartial(paths) : undefined));
    }
    return { result: this.result(res, path, sha256, size, decrypts), committed };
  }

  private result(
    res: HttpResponse,
    path: string,
    sha256: string,
    size: number,
    decrypts: boolean,
  ): FetchResult {
    return {
      name: this.job.name,
      path,
      mode: this.mode,
      size,
      received: this.received,
      sha256,
      decrypted: decrypts,
      protocol: res.protocol,
      cipher: res.cipher,
      ...(this.resumedAt === undefined ? {} : { resumedAt: this.resumedAt }),
    };
  }

  private async sinkAt(position: number): Promise<Writable> {
    const file = await this.ensureFile();
    if (!file) return process.stdout;
    this.written = true;
    const { follower } = this;
    this.sink = file.direct
      ? file.sink()
      : file.sink(
          position,
          follower &&
            ((n: number) => {
              follower.written(n);
            }),
        );
    return this.sink;
  }

  /** Waits until the file sink has written all it took (stdout needs no waiting). */
  private async settle(sink: Writable): Promise<void> {
    if (sink !== this.sink) return;
    sink.end();
    try {
      await finished(sink);
    } finally {
      this.onDisk = this.sink.position ?? this.onDisk; // no position: written in place
    }
  }

  private bodyError(e: unknown, check: DownloadCheck): SecureStreamError {
    // Timeouts and interruptions come as our own errors; anything else cut the response short.
    if (e instanceof SecureStreamError) return e;
    if (this.s.signal?.aborted) {
      return new SecureStreamError('interrupted', 'interrupted before the transfer completed');
    }
    if (errnoCode(e) === 'EPIPE' && !this.file) return stdoutClosed(e);
    return check.truncated('the connection closed');
  }

  /** Whether bytes written go out at once: to stdout, or to a device or FIFO. */
  private inPlace(): boolean {
    return this.file === undefined || this.file.direct;
  }

  /** Whether another attempt could do any good (stdout cannot take back what went out). */
  private canRetry(): boolean {
    return !(this.wroteOut && !this.resumable());
  }

  private resumable(): boolean {
    return this.mode === 'plain' && this.etag !== undefined && this.heldBytes() > 0;
  }

  /** After the last failure: keep the partial when asked and worth it, else remove it. */
  private async giveUp(): Promise<void> {
    if (!this.file || this.s.signal?.aborted) return;
    const bytes = this.onDisk;
    if (
      this.paths &&
      !this.file.direct &&
      this.etag &&
      this.length !== undefined &&
      bytes > 0 &&
      this.mode === 'plain'
    ) {
      try {
        await this.file.keep(this.paths.data);
        await writeRecord(this.paths, this.record(bytes));
        this.s.note(
          `"${this.job.name}": kept ${bytes} of ${this.length} bytes in ${this.paths.data}; run again with --continue to resume`,
        );
        return;
      } catch {
        await removePartial(this.paths);
      }
    }
    if (this.paths && this.mode === 'sstream-v1') {
      this.s.note(
        `"${this.job.name}": an encrypted response cannot be resumed (fresh keys each time); nothing kept`,
      );
    }
    await this.file.abort();
  }

  /** The signal path (SIGINT…): rename and describe the partial synchronously, or throw. */
  private keepNow(f: AtomicFile, paths: PartialPaths): void {
    const bytes = this.sink?.position ?? this.onDisk;
    if (!this.etag || this.length === undefined || bytes === 0 || this.mode !== 'plain') {
      throw new Error('nothing worth keeping');
    }
    if (f.tempPath !== paths.data) renameSync(f.tempPath, paths.data);
    writeRecordSync(paths, this.record(bytes));
    this.s.note(`"${this.job.name}": kept ${bytes} bytes in ${paths.data} for --continue`);
  }

  private record(bytes: number) {
    return {
      format: 'securestream-partial/1' as const,
      name: this.job.name,
      output: (this.job.output.kind === 'file' ? this.job.output.path : '').split('/').pop() ?? '',
      etag: this.etag ?? '',
      length: this.length ?? 0,
      bytes,
    };
  }
}

/** A refusal's body, as text, up to MAX_REFUSAL_BODY bytes. */
async function readCapped(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const b of body as AsyncIterable<Buffer>) {
    if (n < MAX_REFUSAL_BODY) parts.push(b.subarray(0, MAX_REFUSAL_BODY - n));
    n += b.length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Moves `body` into `sink` (or nowhere), calling `each` on every chunk before it is written, with
 * the sink's backpressure; resolves at the body's end. Events rather than async iteration: a
 * large body comes in some 65,000 TLS records per GiB, and a promise per record shows in the
 * profile. A throw from `each` fails the body with it; so does a body that closes before its end.
 */
function pump(
  body: Readable,
  sink: Writable | undefined,
  each: (chunk: Buffer) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (e?: Error): void => {
      if (done) return;
      done = true;
      body.off('data', onData);
      sink?.off('error', onSinkError);
      if (e === undefined) resolve();
      else reject(e);
    };
    const onData = (chunk: Buffer): void => {
      received(chunk.length);
      try {
        each(chunk);
      } catch (e) {
        body.destroy(e as Error);
        finish(e as Error);
        return;
      }
      if (sink && !sink.write(chunk)) {
        body.pause();
        sink.once('drain', () => body.resume());
      }
    };
    const onSinkError = (e: Error): void => {
      body.destroy();
      finish(e);
    };
    body.on('data', onData);
    body.once('end', () => {
      finish();
    });
    body.once('error', (e) => {
      finish(e);
    });
    body.once('close', () => {
      finish(body.readableEnded ? undefined : new Error('the body closed before its end'));
    });
    sink?.once('error', onSinkError);
  });
}
