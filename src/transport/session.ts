/**
 * One connection's life on the server after a successful handshake: choose the protocol (ALPN,
 * else the first bytes: docs/PROTOCOL.md §1), then either hand the socket to HTTP or read the
 * line protocol's request line, resolve the name, send `OK`, the body and the trailer (or
 * `ERR`), close. A Session owns the socket's listeners and timers, destroys the socket on any
 * error, and produces the one record the server logs, in which the first failure wins: later
 * consequences of it (a write that fails because the socket is gone) do not overwrite the cause.
 */
import type { TLSSocket } from 'node:tls';
import type { Authorizer } from '../access.js';
import { errnoCode, isSecureStreamError } from '../errors.js';
import { nameInRoot, openInRoot, type OpenedFile } from '../files.js';
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
import { ALPN_H2, ALPN_HTTP11, ALPN_LINE, classifyFirstBytes } from './protocolchoice.js';

/** The protocol a connection speaks (docs/PROTOCOL.md §1). */
export type Wire = 'line' | 'http/1.1' | 'h2';

/** An HTTP connection as the session sees it once it has handed the socket over. */
export interface HttpConnectionHandle {
  /** Requests begun and not yet answered. */
  readonly inFlight: number;
  /** A response was cut short because the client went away. */
  readonly cutShort: boolean;
  /** Resolves once every request begun has been logged; then the totals are final. */
  settled(): Promise<void>;
  readonly requests: number;
  /** Body bytes sent over all requests, responses in flight included. */
  readonly bytes: number;
}

/**
 * Takes a socket over for HTTP (serve without --no-http). `since` is when the handshake ended
 * (the first request header is due within the request timeout of it); `first` holds bytes
 * already read to choose the protocol; with `busy` every request is answered 503. `end`
 * records why HTTP closed the connection (a deadline, a cap), if it was HTTP's doing.
 */
export type HttpHandoff = (
  socket: TLSSocket,
  how: {
    version: 'http/1.1' | 'h2';
    since: number;
    first?: Buffer | undefined;
    busy: boolean;
    end: (outcome: OutcomeName, reason: string) => void;
  },
) => HttpConnectionHandle;

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
  /** HTTP/1.1 and HTTP/2 on the port; absent with `serve --no-http`. */
  http?: HttpHandoff | undefined;
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
  /** The protocol spoken; undefined when the connection ended before it was known. */
  wire?: Wire | undefined;
  /** The ALPN protocol agreed in the handshake, if any. */
  alpn?: string | undefined;
  /** HTTP: requests answered on the connection (each has its own log line). */
  requests?: number | undefined;
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
  /** Undefined while the first bytes are still being looked at. */
  private wire: Wire | undefined;
  private sniffed: Buffer | undefined;
  private http: HttpConnectionHandle | undefined;
  /** A refusal decided before the protocol was known (connection caps). */
  private pendingRefusal: { code: WireErrorCode; message: string; reason: string } | undefined;
  private readonly since = Date.now();
  /** A socket error on an HTTP connection, for the record. */
  private error: string | undefined;
  private readonly alpn: string | undefined;

  constructor(
    private readonly socket: TLSSocket,
    private readonly peer: PeerIdentity | undefined,
    private readonly ctx: SessionContext,
  ) {
    this.done = new Promise((resolve) => {
      socket.once('close', () => {
        clearTimeout(this.requestTimer);
        const http = this.http;
        if (!http) {
          this.settle('client-gone', 'the client closed the connection');
          resolve(this.record());
          return;
        }
        // A client may hang up a kept-alive connection between requests: that is no failure.
        void http.settled().then(() => {
          if (http.cutShort) this.settle('client-gone', 'the client left during a response');
          else this.settle('ok');
          resolve(this.record());
        });
      });
    });
    const alpn = socket.alpnProtocol;
    this.alpn = typeof alpn === 'string' ? alpn : undefined;
    socket.setTimeout(ctx.idleTimeoutMs, () => {
      this.abort('timeout', `no progress for ${ctx.idleTimeoutMs} ms`);
    });
    socket.on('error', (e: Error) => {
      this.onError(e);
    });
    socket.on('data', this.onData);
    socket.on('end', () => {
      if (this.reading) this.onEnd();
    });
    this.requestTimer = setTimeout(() => {
      this.wire ??= 'line'; // the first bytes never decided: answered as a request line
      this.violation(
        new WireError('bad-request', `no complete request line within ${ctx.requestTimeoutMs} ms`),
      );
    }, ctx.requestTimeoutMs);
    if (this.alpn === ALPN_H2 || this.alpn === ALPN_HTTP11) {
      // Handed over once the constructor is done, so the server has the session in hand.
      const version = this.alpn === ALPN_H2 ? 'h2' : 'http/1.1';
      this.wire = version;
      queueMicrotask(() => {
        this.toHttp(version);
      });
    } else if (this.alpn === ALPN_LINE || !ctx.http) {
      this.wire = 'line';
    }
  }

  /** Body bytes handed to the socket so far (HTTP: responses in flight included). */
  get bytesSent(): number {
    return this.http ? this.http.bytes : this.progress.bytes;
  }

  /**
   * Refuses the connection (connection caps, a missing peer certificate): `ERR code message`
   * in the line protocol without reading a request, 503 to every request in HTTP. Before the
   * protocol is known, the refusal waits for the first bytes. In the line protocol what the
   * client sends is read and dropped: unread data would hold back 'end', and with it the close.
   */
  refuse(code: WireErrorCode, message: string, reason: string): void {
    this.pendingRefusal = { code, message, reason };
    if (this.wire === 'line') this.refuseLine();
  }

  private refuseLine(): void {
    const r = this.pendingRefusal;
    if (!r) return;
    this.reading = false;
    clearTimeout(this.requestTimer);
    if (this.settle(r.code, r.reason)) this.endWith(encodeErr(r.code, r.message));
  }

  /** Bytes off the socket: first to choose the protocol, then the line protocol's request. */
  private readonly onData = (chunk: Buffer): void => {
    if (!this.reading || (this.wire !== undefined && this.wire !== 'line')) return;
    if (this.wire === undefined) {
      const seen = this.sniffed ? Buffer.concat([this.sniffed, chunk]) : chunk;
      const choice = classifyFirstBytes(seen);
      if (choice === undefined) {
        this.sniffed = seen;
        return;
      }
      this.sniffed = undefined;
      if (choice === 'http/1.1') {
        this.wire = 'http/1.1';
        this.toHttp('http/1.1', seen);
        return;
      }
      this.wire = 'line';
      if (this.pendingRefusal) {
        this.refuseLine();
        return;
      }
      chunk = seen;
    }
    this.onEvent(this.reader.push(chunk));
  };

  /** Gives the socket to HTTP: from here on node parses and HttpFront keeps the deadlines. */
  private toHttp(version: 'http/1.1' | 'h2', first?: Buffer): void {
    if (this.socket.destroyed) return;
    this.reading = false;
    clearTimeout(this.requestTimer);
    this.socket.off('data', this.onData);
    const refusal = this.pendingRefusal;
    if (refusal?.code === 'internal' || !this.ctx.http) {
      this.abort(refusal?.code ?? 'internal', refusal?.reason ?? 'HTTP is off');
      return;
    }
    this.http = this.ctx.http(this.socket, {
      version,
      since: this.since,
      first,
      busy: refusal !== undefined,
      end: (outcome, reason) => {
        this.settle(outcome, reason);
      },
    });
    if (refusal) this.settle(refusal.code, refusal.reason);
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
      bytes: this.http ? this.http.bytes : this.progress.bytes,
      ...(first.outcome === 'ok' ? this.sent : {}),
      ...(this.error && !first.error && first.outcome !== 'ok' ? { error: this.error } : {}),
      wire: this.wire,
      alpn: this.alpn,
      ...(this.http ? { requests: this.http.requests } : {}),
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
    if (this.wire === undefined) {
      // Undecided bytes and then the end: the line protocol says what was wrong with them.
      this.wire = 'line';
      const seen = this.sniffed;
      this.sniffed = undefined;
      if (seen) this.onEvent(this.reader.push(seen));
      if (!this.reading) return;
    }
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
    if (this.http) {
      // A reset between requests is how some clients leave a kept-alive connection; the
      // close decides from the requests whether it cut a response short.
      this.error ??= code;
      this.socket.destroy();
    } else if (this.reading && !this.reader.started && !this.sniffed) this.silentClose(code);
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
      const reached = nameInRoot(ctx.rootReal, opened.path);
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
