/**
 * HTTP on connections that are already mutually authenticated: node's `http` and `http2`
 * servers do the framing (they never listen; each secured socket is handed to them), and this
 * module keeps the per-connection state node does not: which identity and context serve the
 * requests, the deadlines for a request header and for an idle keep-alive, the request count,
 * and a graceful close (HTTP/1.1 `Connection: close`, HTTP/2 GOAWAY) on reload and shutdown.
 */
import { createServer as createHttp1, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  constants as H2,
  createServer as createHttp2,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { Server as Http1Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WireError } from '../protocol.js';
import type { HttpConnectionHandle, OutcomeName } from '../transport/session.js';
import {
  handleRequest,
  newRecord,
  type HttpContext,
  type RequestHead,
  type RequestRecord,
} from './handler.js';
import type { HttpLimits } from './limits.js';
import { sinkOf } from './sink.js';
import { errorResponse } from './status.js';

export type HttpVersion = 'http/1.1' | 'h2';

/** What one connection brings: how it was handed over, its context, where its records go. */
export interface HttpConnectionInit {
  version: HttpVersion;
  /** When the handshake ended: the first request header is due headerTimeoutMs after it. */
  since: number;
  /** Bytes already read to choose the protocol, given back to HTTP/1.1 first. */
  first?: Buffer | undefined;
  /** Over a connection limit: every request is answered 503 and the connection closed. */
  busy: boolean;
  /** Why the connection ended, when HTTP decided it (a deadline, the idle timeout). */
  end: (outcome: OutcomeName, reason: string) => void;
  ctx: HttpContext;
  /** One finished request, for the log. */
  onRequest(rec: RequestRecord, version: HttpVersion, durationMs: number): void;
}

/** The per-connection state. */
class Connection implements HttpConnectionHandle {
  requests = 0;
  inFlight = 0;
  /** Body bytes of the requests answered, and the records of those being answered. */
  private answered = 0;
  private readonly answering = new Set<RequestRecord>();
  cutShort = false;
  closing = false;
  private deadline: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  session: ServerHttp2Session | undefined;

  readonly version: HttpVersion;

  constructor(
    readonly socket: TLSSocket,
    readonly init: HttpConnectionInit,
    private readonly limits: HttpLimits,
  ) {
    this.version = init.version;
  }

  /** Body bytes sent, responses in flight included (securestream_sent_bytes_total). */
  get bytes(): number {
    let n = this.answered;
    for (const rec of this.answering) n += rec.bytes;
    return n;
  }

  /** Counts the bytes of `rec` while its response goes out, then as answered. */
  track(rec: RequestRecord, served: Promise<RequestRecord>): Promise<RequestRecord> {
    this.answering.add(rec);
    return served.then((done) => {
      this.answering.delete(rec);
      this.answered += done.bytes;
      return done;
    });
  }

  /** Arms the deadline for the next complete request header, `ms` from `since`. */
  wait(ms: number, first: boolean, since = Date.now()): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(
      () => {
        if (this.inFlight > 0) return;
        if (first) {
          this.init.end('timeout', `no complete request header within ${ms} ms`);
          if (this.version === 'http/1.1')
            rawResponse(this.socket, 408, 'timeout: request header too slow');
          else this.session?.destroy();
          this.socket.destroy();
        } else {
          this.init.end('ok', `kept alive ${ms} ms without a request`);
          this.close();
        }
      },
      Math.max(0, since + ms - Date.now()),
    );
  }

  begin(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
    this.inFlight++;
    this.requests++;
  }

  finish(): void {
    this.inFlight--;
    if (this.inFlight > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
    if (this.closing || this.requests >= this.limits.maxRequestsPerConnection) this.close();
    else this.wait(this.limits.keepAliveIdleMs, false);
  }

  /** Closes once nothing is in flight: HTTP/1.1 ends the socket, HTTP/2 sends GOAWAY. */
  close(): void {
    this.closing = true;
    clearTimeout(this.deadline);
    if (this.inFlight > 0) return;
    if (this.session) this.session.close();
    else this.socket.end();
  }

  clear(): void {
    clearTimeout(this.deadline);
  }

  /** Resolves once every request begun has been recorded. */
  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

export interface HttpFrontOptions {
  limits: HttpLimits;
  /** No byte moved on a stream for this long: the stream (HTTP/2) or connection is closed. */
  idleTimeoutMs: number;
}

export class HttpFront {
  private readonly h1: Http1Server;
  private readonly h2: Http2Server;
  private readonly bySocket = new WeakMap<Duplex, Connection>();
  private readonly bySession = new WeakMap<ServerHttp2Session, Connection>();
  private readonly open = new Set<Connection>();
  /** The connection whose socket is being handed to the HTTP/2 server right now. */
  private adopting: Connection | undefined;

  constructor(private readonly opts: HttpFrontOptions) {
    const { limits } = opts;
    // Deadlines are ours (Connection.wait): node checks its own only on servers that listen.
    this.h1 = createHttp1(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        requestTimeout: 0,
        headersTimeout: 0,
        keepAliveTimeout: 0,
        joinDuplicateHeaders: true,
      },
      (req, res) => {
        this.onHttp1(req, res);
      },
    );
    // One over the cap, so that a request at the cap is told so instead of silently truncated.
    this.h1.maxHeadersCount = limits.maxHeaderCount + 1;
    this.h1.maxRequestsPerSocket = limits.maxRequestsPerConnection;
    this.h1.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
      this.onClientError(err, socket);
    });
    this.h2 = createHttp2(
      {
        settings: {
          maxConcurrentStreams: limits.maxConcurrentStreams,
          maxHeaderListSize: limits.maxHeaderBytes,
          enablePush: false,
        },
        // Pseudo-header fields count as entries too (four in a request).
        maxHeaderListPairs: limits.maxHeaderCount + 4,
      },
      (req, res) => {
        this.onHttp2(req, res);
      },
    );
    this.h2.on('session', (session: ServerHttp2Session) => {
      const c = this.adopting;
      if (!c) {
        session.destroy();
        return;
      }
      c.session = session;
      this.bySession.set(session, c);
      session.setTimeout(opts.idleTimeoutMs, () => {
        c.init.end('timeout', `no progress for ${opts.idleTimeoutMs} ms`);
        session.destroy();
      });
      session.on('error', () => undefined);
    });
  }

  /** Serves HTTP on an authorized socket (Session.toHttp hands it over). */
  serve(socket: TLSSocket, init: HttpConnectionInit): HttpConnectionHandle {
    const { version, since, first } = init;
    const c = new Connection(socket, init, this.opts.limits);
    this.open.add(c);
    this.bySocket.set(socket, c);
    socket.once('close', () => {
      c.clear();
      this.open.delete(c);
    });
    c.wait(this.opts.limits.headerTimeoutMs, true, since);
    if (version === 'h2') {
      // HTTP/2 sessions read the socket natively: node's socket timer would not see traffic.
      socket.setTimeout(0);
      this.adopting = c;
      try {
        this.h2.emit('connection', socket);
      } finally {
        this.adopting = undefined;
      }
      return c;
    }
    if (first) {
      socket.pause();
      socket.unshift(first);
    }
    this.h1.emit('connection', socket);
    socket.resume();
    return c;
  }

  /** Reload or shutdown: idle connections close now, busy ones after their responses. */
  drain(): void {
    for (const c of this.open) c.close();
  }

  get connectionCount(): number {
    return this.open.size;
  }

  private onHttp1(req: IncomingMessage, res: ServerResponse): void {
    const c = this.bySocket.get(req.socket);
    if (!c) {
      res.destroy();
      return;
    }
    if (c.closing || c.init.busy) res.shouldKeepAlive = false;
    const head: RequestHead = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      fieldCount: req.rawHeaders.length / 2,
    };
    this.run(c, head, res);
  }

  private onHttp2(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const c = this.bySession.get(req.stream.session as ServerHttp2Session);
    // Past the cap (streams opened before the GOAWAY of the last answered one arrived) the
    // stream is refused: RFC 9113 §8.7 lets the client retry it on a new connection.
    if (!c || c.requests >= this.opts.limits.maxRequestsPerConnection) {
      res.stream.close(H2.NGHTTP2_REFUSED_STREAM);
      return;
    }
    res.setTimeout(this.opts.idleTimeoutMs, () => {
      res.stream.close(H2.NGHTTP2_CANCEL);
    });
    let fieldCount = 0;
    let listSize = 0;
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] as string;
      // RFC 9113 §6.5.2: a field's size is its name and value in octets plus 32.
      listSize += Buffer.byteLength(name) + Buffer.byteLength(req.rawHeaders[i + 1] as string) + 32;
      if (!name.startsWith(':')) fieldCount++;
    }
    const head: RequestHead = {
      method: req.method,
      url: req.url,
      headers: req.headers,
      fieldCount,
      // node advertises SETTINGS_MAX_HEADER_LIST_SIZE but lets a larger list through.
      headerBytes: listSize,
    };
    this.run(c, head, res);
  }

  private run(c: Connection, head: RequestHead, res: ServerResponse | Http2ServerResponse): void {
    c.begin();
    // HTTP/2: the GOAWAY goes out with the last request's response, not after it, so that the
    // client does not send one more request on a connection that is about to close.
    if (c.session && c.requests >= this.opts.limits.maxRequestsPerConnection) c.session.close();
    const started = process.hrtime.bigint();
    const sink = sinkOf(res);
    const rec = newRecord(head);
    const served = c.track(
      rec,
      c.init.busy
        ? refuseBusy(head, sink)
        : handleRequest(
            head,
            sink,
            {
              ...c.init.ctx,
              // The client waits while its file is hashed; that is not a stalled transfer.
              busy: throttled(() => c.socket.setTimeout(this.opts.idleTimeoutMs)),
            },
            rec,
          ),
    );
    void served.then((rec) => {
      if (rec.outcome === 'client-gone') c.cutShort = true;
      c.init.onRequest(rec, c.version, Number(process.hrtime.bigint() - started) / 1e6);
      if (c.init.busy) c.close();
      c.finish();
    });
  }

  private onClientError(err: Error & { code?: string }, socket: Duplex): void {
    const c = this.bySocket.get(socket);
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const rec: RequestRecord = {
      method: '',
      target: '',
      status,
      outcome: tooLarge ? 'header-too-large' : 'bad-request',
      bytes: 0,
      reason: `${err.code ?? 'error'}: ${err.message}`,
    };
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    c?.init.onRequest(rec, 'http/1.1', 0);
    rawResponse(
      socket,
      status,
      tooLarge
        ? `header-too-large: request header over ${this.opts.limits.maxHeaderBytes} bytes`
        : 'bad-request: malformed HTTP request',
    );
    socket.destroy();
  }
}

/** The 503 of a connection over a limit (PROTOCOL.md: `busy`, with Retry-After). */
async function refuseBusy(
  head: RequestHead,
  sink: ReturnType<typeof sinkOf>,
): Promise<RequestRecord> {
  const r = errorResponse(new WireError('busy', 'over the connection limit'));
  sink.writeHead(r.status, {
    ...r.fields,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(r.body),
  });
  const sent = await sink.end(head.method === 'HEAD' ? undefined : r.body).then(
    () => true,
    () => false,
  );
  return {
    method: head.method,
    target: head.url,
    status: r.status,
    outcome: sent ? 'busy' : 'client-gone',
    bytes: 0,
    reason: 'over the connection limit',
  };
}

/** A last HTTP/1.1 response written straight to the socket (node's parser gave up on it). */
function rawResponse(socket: Duplex, status: number, text: string): void {
  const reason: Record<number, string> = {
    400: 'Bad Request',
    408: 'Request Timeout',
    431: 'Request Header Fields Too Large',
  };
  const body = `${text}\n`;
  socket.write(
    `HTTP/1.1 ${status} ${reason[status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** `fn` at most once a second. */
function throttled(fn: () => void): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    fn();
  };
}
