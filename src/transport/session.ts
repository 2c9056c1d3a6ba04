/**
 * One connection's life on the server, after a successful handshake: read the request line,
 * resolve the name, send `OK`, the body and the trailer (or `ERR`), close. Produces the one
 * outcome record the server logs for the connection.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { relative, sep } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { SecureStreamError, isSecureStreamError } from '../errors.js';
import { openInRoot, type OpenedFile } from '../files.js';
import {
  MAX_REQUEST_LINE,
  WireError,
  encodeErr,
  encodeOk,
  encodeTrailer,
  isWireErrorCode,
  parseRequestLine,
  type Mode,
  type WireErrorCode,
} from '../protocol.js';
import type { PeerIdentity } from './peer.js';
import { readExactly } from './filesource.js';
import type { DigestCache, SharedHash } from './digestcache.js';

/** Decides whether an identity may read a name; `rule` names what decided, for the log. */
export type Authorizer = (peer: PeerIdentity, name: string) => { allowed: boolean; rule: string };

/** Turns plaintext chunks into the body sent on the wire (sstream-v1), or is absent (plain). */
export interface BodyEncoder {
  mode: Mode;
  /** Body length for a plaintext of `size` bytes. */
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

export interface SessionContext {
  rootReal: string;
  authorize: Authorizer;
  /** Chooses the body encoding for this peer; throws WireError('unsupported-key') if it can't. */
  encoderFor(socket: TLSSocket): BodyEncoder | undefined;
  requestTimeoutMs: number;
  digests: DigestCache;
}

export interface Outcome {
  outcome: string;
  /** The `OK` line has gone out: from here on a failure can only abort the connection. */
  headerSent?: boolean;
  request?: string;
  bytes: number;
  sha256?: string;
  plaintextSha256?: string;
  rule?: string;
  reason?: string;
}

/** Fixed wire messages: a refusal must not say more than its code (nothing leaks by wording). */
const WIRE_MESSAGE: Partial<Record<WireErrorCode, string>> = {
  forbidden: 'access denied',
  'not-found': 'no such file',
  internal: 'internal error',
};

export async function serveSession(
  socket: TLSSocket,
  peer: PeerIdentity,
  ctx: SessionContext,
  out: Outcome,
): Promise<void> {
  let opened: OpenedFile | undefined;
  try {
    const name = await readRequest(socket, ctx.requestTimeoutMs);
    out.request = name;
    const verdict = ctx.authorize(peer, name);
    out.rule = verdict.rule;
    if (!verdict.allowed) throw new WireError('forbidden', `denied by ${verdict.rule}`);
    opened = await openInRoot(ctx.rootReal, name);
    // A symlink inside the root may lead to a name the rules treat differently: both the name
    // asked for and the file reached must be allowed (docs/SECURITY.md, access rules).
    const reached = relative(ctx.rootReal, opened.path).split(sep).join('/');
    if (reached !== name) {
      const second = ctx.authorize(peer, reached);
      if (!second.allowed) {
        out.rule = `${second.rule} via "${reached}"`;
        throw new WireError('forbidden', `denied by ${out.rule}`);
      }
    }
    const encoder = ctx.encoderFor(socket);
    await sendBody(socket, opened, encoder, ctx.digests, out);
  } catch (e) {
    if (e instanceof WireError) {
      const code = isWireErrorCode(e.wireCode) ? e.wireCode : 'internal';
      out.outcome = code;
      out.reason = e.message;
      await endWith(socket, encodeErr(code, WIRE_MESSAGE[code] ?? e.message));
    } else if (isSecureStreamError(e) && e.code === 'file-changed') {
      out.outcome = e.code;
      out.reason = e.message;
      socket.destroy(); // no trailer: the client must fail, not keep a mixed copy
    } else if (socket.destroyed || (isSecureStreamError(e) && e.code === 'client-gone')) {
      out.outcome ||= 'client-gone';
      out.reason ??= e instanceof Error ? e.message : String(e);
      socket.destroy();
    } else {
      out.outcome = 'internal';
      out.reason = e instanceof Error ? e.message : String(e);
      // Before the header an ERR line can still be sent; after it only an abort is honest.
      if (!out.headerSent) await endWith(socket, encodeErr('internal', 'internal error'));
      else socket.destroy();
    }
  } finally {
    await opened?.handle.close().catch(() => undefined);
  }
}

async function sendBody(
  socket: TLSSocket,
  opened: OpenedFile,
  encoder: BodyEncoder | undefined,
  digests: DigestCache,
  out: Outcome,
): Promise<void> {
  const { stat } = opened;
  const size = stat.size;
  const mode: Mode = encoder?.mode ?? 'plain';
  const length = encoder ? encoder.length(size) : size;
  // The file's digest is either known for this version of the file or computed while its
  // bytes go out, once for all concurrent sends of it; the body digest of an encrypted
  // response is new every time.
  const known = digests.get(stat);
  const shared = known === undefined ? digests.join(stat) : undefined;
  let verified = false;
  let fileSha256 = known;
  try {
    // Two reused read buffers: plain bodies go from them straight to the socket, and the
    // encoder is done with one before it asks for the next.
    const source = readExactly(opened.handle, stat);
    const fromFile = shared ? offering(source, shared) : source;
    out.headerSent = true;
    if (!socket.write(encodeOk(length, mode))) await drained(socket);
    if (encoder) {
      const bodyHash = createHash('sha256');
      await encoder.pipe(fromFile, (pieces) => {
        for (const b of pieces) bodyHash.update(b);
        return sendBatch(socket, pieces, out);
      });
      out.sha256 = bodyHash.digest('hex');
    } else {
      for await (const chunk of fromFile) await sendAndRelease(socket, chunk, out);
    }
    if (out.bytes !== length) throw new Error(`body length ${out.bytes} differs from ${length}`);
    // readExactly has read every byte and found the file unchanged at the end.
    verified = true;
  } finally {
    if (shared) fileSha256 = digests.leave(stat, shared, verified);
  }
  if (fileSha256 === undefined) throw new Error('file digest missing after a complete read');
  if (encoder) out.plaintextSha256 = fileSha256;
  else out.sha256 = fileSha256;
  out.outcome = 'ok';
  await endWith(socket, encodeTrailer(out.sha256 ?? '', out.plaintextSha256));
}

/** Resolves once the socket has taken `b` completely, so the buffer may be reused. */
function sendAndRelease(socket: TLSSocket, b: Buffer, out: Outcome): Promise<void> {
  out.bytes += b.length;
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
function sendBatch(socket: TLSSocket, pieces: Buffer[], out: Outcome): Promise<void> | undefined {
  if (pieces.length === 0) return undefined;
  socket.cork();
  let more = true;
  for (const b of pieces) {
    out.bytes += b.length;
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

/** Reads `GET <name>\n`, strictly: one line, capped, nothing after it, within the timeout. */
function readRequest(socket: TLSSocket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let total = 0;
    const finish = (err: Error | undefined, name?: string): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (err) reject(err);
      else {
        // PROTOCOL-v1: nothing follows the request; anything that does is a violation.
        socket.on('data', () => socket.destroy());
        resolve(name ?? '');
      }
    };
    const onData = (chunk: Buffer): void => {
      const lf = chunk.indexOf(0x0a);
      if (lf < 0) {
        total += chunk.length;
        parts.push(chunk);
        if (total >= MAX_REQUEST_LINE)
          finish(new WireError('bad-request', 'request line too long'));
        return;
      }
      if (total + lf + 1 > MAX_REQUEST_LINE) {
        finish(new WireError('bad-request', 'request line too long'));
        return;
      }
      if (lf !== chunk.length - 1) {
        finish(new WireError('bad-request', 'data after the request line'));
        return;
      }
      parts.push(chunk.subarray(0, lf));
      try {
        finish(undefined, parseRequestLine(Buffer.concat(parts)));
      } catch (e) {
        finish(e as Error);
      }
    };
    const onEnd = (): void => {
      finish(new WireError('bad-request', 'connection closed before a complete request line'));
    };
    const timer = setTimeout(() => {
      finish(new WireError('bad-request', `no complete request line within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
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

/** Writes a last line and closes with close_notify; resolves once the socket is closed. */
async function endWith(socket: TLSSocket, last: Buffer): Promise<void> {
  if (socket.destroyed) return;
  const closed = once(socket, 'close').catch(() => undefined);
  socket.end(last);
  await closed;
}
