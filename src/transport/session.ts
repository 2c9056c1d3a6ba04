/**
 * One connection's life on the server after a successful handshake: read the request line,
 * resolve the name, send `OK`, the body and the trailer (or `ERR`), close. A Session owns the
 * socket's listeners and timers, destroys the socket on any error, and produces the one record
 * the server logs, in which the first failure wins: later consequences of it (a write that
 * fails because the socket is gone) do not overwrite the cause.
 */
import { relative, sep } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Authorizer } from '../access.js';
import { errnoCode, isSecureStreamError } from '../errors.js';
import { openInRoot, type OpenedFile } from '../files.js';
import {
  WireError,
  encodeErr,
  encodeTrailer,
  isWireErrorCode,
  type WireErrorCode,
} from '../protocol.js';
import { sendBody, type BodyEncoder, type SendProgress, type SentDigests } from './body.js';
import type { DigestCache } from './digestcache.js';
import { explainServerTlsError } from './explain.js';
import type { PeerIdentity } from './peer.js';
import { RequestReader } from './request.js';

/** What a session needs from the server; fixed for the connection's whole life. */
export interface SessionContext {
  rootReal: string;
  authorize: Authorizer;
  /** Chooses the body encoding for this peer; throws WireError('unsupported-key') if it can't. */
  encoderFor(socket: TLSSocket): BodyEncoder | undefined;
  /** Finished handshake to complete request line, in ms. */
  requestTimeoutMs: number;
  /** No byte read or written for this long, in ms: the connection is closed. */
  idleTimeoutMs: number;
  digests: DigestCache;
}

/**
 * How a connection ended, as the log's `outcome` field says it: `ok`, the wire code sent in
 * an `ERR` line, or what cut the connection short.
 */
export type OutcomeName =
  | 'ok'
  | WireErrorCode
  /** No byte moved for the idle timeout. */
  | 'timeout'
  /** The client closed or reset the connection before the response was complete. */
  | 'client-gone'
  /** The file changed while it was sent; the connection was aborted without a trailer. */
  | 'file-changed'
  /** A TLS error after the handshake (a corrupt record, a fatal alert); `error` has the code. */
  | 'tls-error'
  /** The client gave up right after the handshake (it rejected our certificate, typically). */
  | 'handshake-failed'
  /** Cut by the server's shutdown (grace period over, or a second signal). */
  | 'shutdown';

/** The one record the server logs per connection. */
export interface Outcome {
  outcome: OutcomeName;
  reason?: string | undefined;
  /** The OpenSSL or system error code behind a TLS error or a reset. */
  error?: string | undefined;
  /** The name asked for. */
  request?: string | undefined;
  /** The file sent, relative to the root, when not `request` (a symlink, the other NFC/NFD form). */
  served?: string | undefined;
  /** The access rule that decided. */
  rule?: string | undefined;
  /** Body bytes handed to the socket. */
  bytes: number;
  /** Trailer digests of a complete response. */
  sha256?: string | undefined;
  plaintextSha256?: string | undefined;
}

/** Fixed wire messages: a refusal must not say more than its code (nothing leaks by wording). */
const WIRE_MESSAGE: Partial<Record<WireErrorCode, string>> = {
  forbidden: 'access denied',
  'not-found': 'no such file',
  internal: 'internal error',
};

/**
 * One connection after its handshake. Construct it on a secure socket: it reads the request
 * at once; `done` resolves with the record to log once the socket has closed.
 */
export class Session {
  /** Resolves with the record once the socket has closed. */
  readonly done: Promise<Outcome>;
  private first: { outcome: OutcomeName; reason?: string; error?: string } | undefined;
  private readonly reader = new RequestReader();
  private readonly progress: SendProgress = { headerSent: false, bytes: 0 };
  private request: string | undefined;
  private served: string | undefined;
  private rule: string | undefined;
  private sent: SentDigests | undefined;
  private reading = true;
  private readonly requestTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: TLSSocket,
    private readonly peer: PeerIdentity | undefined,
    private readonly ctx: SessionContext,
  ) {
    this.done = new Promise((resolve) => {
      socket.once('close', () => {
        clearTimeout(this.requestTimer);
        this.settle('client-gone', 'the client closed the connection');
        resolve(this.record());
      });
    });
    socket.setTimeout(ctx.idleTimeoutMs, () => {
      this.abort('timeout', `no progress for ${ctx.idleTimeoutMs} ms`);
    });
    socket.on('error', (e: Error) => {
      this.onError(e);
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.reading) this.onEvent(this.reader.push(chunk));
    });
    socket.on('end', () => {
      if (this.reading) this.onEnd();
    });
    this.requestTimer = setTimeout(() => {
      this.violation(
        new WireError('bad-request', `no complete request line within ${ctx.requestTimeoutMs} ms`),
      );
    }, ctx.requestTimeoutMs);
  }

  /** Body bytes handed to the socket so far. */
  get bytesSent(): number {
    return this.progress.bytes;
  }

  /**
   * Answers `ERR code message` without reading a request (connection caps). What the client
   * sends is read and dropped: unread data would hold back 'end', and with it the close.
   */
  refuse(code: WireErrorCode, message: string, reason: string): void {
    this.reading = false;
    clearTimeout(this.requestTimer);
    if (this.settle(code, reason)) this.endWith(encodeErr(code, message));
  }

  /** Cuts the connection (idle timeout, shutdown); a no-op for the record if it already ended. */
  abort(outcome: OutcomeName, reason: string, error?: string): void {
    this.settle(outcome, reason, error);
    this.socket.destroy();
  }

  /** Records the first outcome; true if this call was first. */
  private settle(outcome: OutcomeName, reason?: string, error?: string): boolean {
    if (this.first) return false;
    this.first = {
      outcome,
      ...(reason === undefined ? {} : { reason }),
      ...(error === undefined ? {} : { error }),
    };
    return true;
  }

  private record(): Outcome {
    const first = this.first ?? { outcome: 'client-gone' as const };
    return {
      ...first,
      request: this.request,
      served: this.served,
      rule: this.rule,
      bytes: this.progress.bytes,
      ...(first.outcome === 'ok' ? this.sent : {}),
    };
  }

  private onEvent(ev: ReturnType<RequestReader['push']>): void {
    if (!ev) return;
    if (ev.type === 'violation') {
      this.violation(ev.error);
      return;
    }
    clearTimeout(this.requestTimer);
    void this.serve(ev.name);
  }

  private onEnd(): void {
    if (this.reader.started) this.onEvent(this.reader.end());
    else this.silentClose();
  }

  /**
   * Silence, then a close: node:tls clients verify the server's certificate only after the
   * handshake and hang up without an alert when they reject it.
   */
  private silentClose(error?: string): void {
    this.abort(
      'handshake-failed',
      'the client closed the connection right after the handshake, without a request (did it reject our certificate?)',
      error,
    );
  }

  /** Bytes the protocol does not allow: `ERR bad-request` while it can still be said. */
  private violation(e: WireError): void {
    this.reading = false;
    clearTimeout(this.requestTimer);
    if (this.progress.headerSent) this.abort('bad-request', e.message);
    else this.refuseWith(e);
  }

  private onError(e: Error): void {
    const code = errnoCode(e);
    if (code?.startsWith('ERR_SSL_')) {
      // A fatal alert from a client that rejected us, before it asked for anything, is how
      // its handshake ended; any other TLS error is the connection failing (RFC 5246 §7.2.2,
      // RFC 8446 §6: close after a fatal alert).
      const alert = /_ALERT_/.test(code) && !this.reader.started;
      this.abort(
        alert ? 'handshake-failed' : 'tls-error',
        alert ? explainServerTlsError(e) : tlsReason(e),
        code,
      );
      return;
    }
    if (this.reading && !this.reader.started) this.silentClose(code);
    else this.abort('client-gone', e.message, code);
  }

  private async serve(name: string): Promise<void> {
    this.request = name;
    let opened: OpenedFile | undefined;
    try {
      const { ctx, peer } = this;
      if (!peer) throw new WireError('internal', 'no peer certificate');
      const verdict = ctx.authorize(peer, name);
      this.rule = verdict.rule;
      if (!verdict.allowed) throw new WireError('forbidden', `denied by ${verdict.rule}`);
      opened = await openInRoot(ctx.rootReal, name);
      // A symlink inside the root may lead to a name the rules treat differently: both the
      // name asked for and the file reached must be allowed (docs/SECURITY.md, access rules).
      const reached = relative(ctx.rootReal, opened.path).split(sep).join('/');
      if (reached !== name) {
        this.served = reached;
        const second = ctx.authorize(peer, reached);
        if (!second.allowed) {
          this.rule = `${second.rule} via "${reached}"`;
          throw new WireError('forbidden', `denied by ${this.rule}`);
        }
      }
      const encoder = ctx.encoderFor(this.socket);
      if (this.first) return; // ended while the file was opened
      this.sent = await sendBody(this.socket, opened, encoder, ctx.digests, this.progress);
      if (this.settle('ok')) {
        this.endWith(encodeTrailer(this.sent.sha256, this.sent.plaintextSha256));
      }
    } catch (e) {
      this.fail(e);
    } finally {
      await opened?.handle.close().catch(() => undefined);
    }
  }

  private fail(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof WireError) {
      this.refuseWith(e);
    } else if (isSecureStreamError(e) && e.code === 'file-changed') {
      this.abort('file-changed', message); // no trailer: the client must fail, not keep a mixed copy
    } else if (this.socket.destroyed || (isSecureStreamError(e) && e.code === 'client-gone')) {
      this.abort('client-gone', message);
    } else if (this.progress.headerSent) {
      this.abort('internal', message); // after the header only an abort is honest
    } else {
      this.refuseWith(new WireError('internal', message));
    }
  }

  /** `ERR <code>` with the code's fixed message, then close. */
  private refuseWith(e: WireError): void {
    const code = isWireErrorCode(e.wireCode) ? e.wireCode : 'internal';
    if (this.settle(code, e.message))
      this.endWith(encodeErr(code, WIRE_MESSAGE[code] ?? e.message));
  }

  /** Writes a last line and closes with close_notify. */
  private endWith(last: Buffer): void {
    if (!this.socket.destroyed) this.socket.end(last);
  }
}

/** OpenSSL's own words for a TLS error ("decryption failed or bad record mac"). */
function tlsReason(e: Error): string {
  const reason = (e as { reason?: unknown }).reason;
  return typeof reason === 'string' ? reason : e.message;
}
