/**
 * Sending one response body: `OK`, the file's bytes (as read or as an sstream-v1 encoder
 * makes them), with backpressure from the socket. The digests come out for the trailer; the
 * session writes it. The file's digest is shared with concurrent sends of the same version of
 * the file through the DigestCache.
 */
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { SecureStreamError } from '../errors.js';
import type { OpenedFile } from '../files.js';
import { encodeOk, type Mode } from '../protocol.js';
import type { DigestCache, SharedHash } from './digestcache.js';
import { readExactly } from './filesource.js';

/** Turns plaintext chunks into the body sent on the wire (sstream-v1), or is absent (plain). */
export interface BodyEncoder {
  mode: Mode;
  /** Body length in bytes for a plaintext of `size` bytes. */
  length(size: number): number;
  /**
   * Encodes `source` and hands the output to `write` in batches; `write` resolves once the
   * socket can take more. The encoder keeps no view of a source buffer once it asks for the
   * next one, so the source may reuse its buffers.
   */
  pipe(
    source: AsyncIterable<Buffer>,
    write: (pieces: Buffer[]) => Promise<void> | undefined,
  ): Promise<void>;
}

/** Progress of a send, kept up to date while it runs (the log reads it whatever happens). */
export interface SendProgress {
  /** The `OK` line has gone out: from here on a failure can only abort the connection. */
  headerSent: boolean;
  /** Body bytes handed to the socket. */
  bytes: number;
}

/** The trailer's digests, lower-case hex. */
export interface SentDigests {
  /** SHA-256 of the body bytes sent. */
  sha256: string;
  /** SHA-256 of the file, in sstream-v1 mode. */
  plaintextSha256?: string;
}

/**
 * Sends `OK <length> <mode>` and the body of `opened`. Throws `file-changed` when the file is
 * not what its stat said by the end (the caller must then abort: PROTOCOL-v1 §2.2), and
 * `client-gone` when the socket closes under it.
 */
export async function sendBody(
  socket: TLSSocket,
  opened: OpenedFile,
  encoder: BodyEncoder | undefined,
  digests: DigestCache,
  progress: SendProgress,
): Promise<SentDigests> {
  const { stat } = opened;
  const mode: Mode = encoder?.mode ?? 'plain';
  const length = encoder ? encoder.length(stat.size) : stat.size;
  // The file's digest is either known for this version of the file or computed while its
  // bytes go out, once for all concurrent sends of it; the body digest of an encrypted
  // response is new every time.
  const known = digests.get(stat);
  const shared = known === undefined ? digests.join(stat) : undefined;
  let verified = false;
  let fileSha256 = known;
  let bodySha256: string | undefined;
  try {
    // Two reused read buffers: plain bodies go from them straight to the socket, and the
    // encoder is done with one before it asks for the next.
    const source = readExactly(opened.handle, stat);
    const fromFile = shared ? offering(source, shared) : source;
    progress.headerSent = true;
    if (!socket.write(encodeOk(length, mode))) await drained(socket);
    if (encoder) {
      const bodyHash = createHash('sha256');
      await encoder.pipe(fromFile, (pieces) => {
        for (const b of pieces) bodyHash.update(b);
        return sendBatch(socket, pieces, progress);
      });
      bodySha256 = bodyHash.digest('hex');
    } else {
      for await (const chunk of fromFile) await sendAndRelease(socket, chunk, progress);
    }
    if (progress.bytes !== length) {
      throw new Error(`body length ${progress.bytes} differs from ${length}`);
    }
    // readExactly has read every byte and found the file unchanged at the end.
    verified = true;
  } finally {
    if (shared) fileSha256 = digests.leave(stat, shared, verified);
  }
  if (fileSha256 === undefined) throw new Error('file digest missing after a complete read');
  return bodySha256 === undefined
    ? { sha256: fileSha256 }
    : { sha256: bodySha256, plaintextSha256: fileSha256 };
}

/** Resolves once the socket has taken `b` completely, so the buffer may be reused. */
function sendAndRelease(socket: TLSSocket, b: Buffer, progress: SendProgress): Promise<void> {
  progress.bytes += b.length;
  return new Promise((resolve, reject) => {
    socket.write(b, (err) => {
      if (err) reject(gone());
      else resolve();
    });
  });
}

/**
 * Writes pieces as one corked batch: TLS then seals them together into full records instead
 * of one record per piece (a 32-byte chunk tag would otherwise cost a record of its own).
 */
function sendBatch(
  socket: TLSSocket,
  pieces: Buffer[],
  progress: SendProgress,
): Promise<void> | undefined {
  if (pieces.length === 0) return undefined;
  socket.cork();
  let more = true;
  for (const b of pieces) {
    progress.bytes += b.length;
    more = socket.write(b);
  }
  socket.uncork();
  return more ? undefined : drained(socket);
}

/** Passes the file's pieces through, offering each to the shared hash of its version. */
async function* offering(src: AsyncIterable<Buffer>, hash: SharedHash): AsyncGenerator<Buffer> {
  let pos = 0;
  for await (const b of src) {
    hash.offer(pos, b);
    pos += b.length;
    yield b;
  }
}

function drained(socket: TLSSocket): Promise<void> {
  if (socket.destroyed) return Promise.reject(gone());
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(gone());
    };
    const cleanup = (): void => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
    };
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

function gone(): SecureStreamError {
  return new SecureStreamError('client-gone', 'the client closed the connection');
}
