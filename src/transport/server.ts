/**
 * The listening side: accepts TCP, completes mutually authenticated TLS, enforces connection
 * limits and timeouts, runs one session per connection and logs one line per connection.
 * Reload swaps the TLS material for new handshakes only; connections in flight keep theirs.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import {
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
  type AddressInfo,
} from 'node:net';
import type { Logger } from '../log.js';
import { SecureStreamError } from '../errors.js';
import { serverTlsOptions, type TlsPem, type TlsPolicy } from './tls.js';
import { handshakeRefusal } from './refusal.js';
import { PeerIdentityCache, recordRefusedPeers } from './peer.js';
import { formatHostPort, unmapIPv4 } from './address.js';
import { DigestCache } from './digestcache.js';
import type { Authorizer, FolderAuthorizer } from '../access.js';
import type { BodyEncoder } from './body.js';
import { Session, type HttpHandoff } from './session.js';
import type { ServerLimits } from './limits.js';
import type { ServerObserver } from '../status/metrics.js';
import { NO_PROXY_PROTOCOL, PrefaceReader, type Endpoint, type PrefacePolicy } from './preface.js';
import { HttpFront, type HttpVersion } from '../http/front.js';
import type { RequestRecord } from '../http/handler.js';
import type { HttpLimits } from '../http/limits.js';
import type { PeerIdentity } from './peer.js';
import { chooseAlpn, serverProtocols, suiteAllowsH2 } from './protocolchoice.js';

/** What a FileServer serves, where, to whom and within which limits. */
export interface ServerOptions {
  rootReal: string;
  host?: string | undefined;
  /** A listening socket passed by systemd (src/activation.ts): used instead of host and port. */
  fd?: number | undefined;
  port: number;
  pem: TlsPem;
  policy: TlsPolicy;
  limits: ServerLimits;
  authorize: Authorizer;
  /** Which folders a client may see in HTTP listings. */
  folderVisible: FolderAuthorizer;
  encoderFor: (socket: TLSSocket) => BodyEncoder | undefined;
  /** HTTP/1.1 and HTTP/2 beside the line protocol (`serve --no-http` turns them off). */
  http: boolean;
  httpLimits: HttpLimits;
  /** Put before connection numbers in the log (`2-17`), so ids stay unique across workers. */
  connectionIdPrefix?: string | undefined;
  /** PROXY protocol before TLS (`--proxy-protocol`, `--trusted-proxy`); default: none. */
  preface?: PrefacePolicy | undefined;
  /** Told of every handshake and request, for metrics. */
  observer?: ServerObserver | undefined;
}

/**
 * The TLS listener: admits TCP connections within the caps, completes the handshake, runs a
 * Session per connection and logs one line per connection (`connection`, or `handshake
 * failed`). Errors from `listen` are SecureStreamError `listen-failed`.
 */
export class FileServer {
  /** Accepts TCP and reads what comes before TLS; `server` does TLS on what it hands over. */
  private readonly listener: NetServer;
  private readonly server: Server;
  private readonly preface: PrefaceReader;
  /** Client and proxy of connections relayed with a PROXY header, by their TCP socket. */
  private readonly relayed = new WeakMap<Socket, { client: Endpoint; proxy: Endpoint }>();
  private readonly sockets = new Set<Socket>();
  private readonly perAddress = new Map<string, number>();
  /** Absolute handshake deadlines by TCP socket, cleared once the handshake is done. */
  private readonly handshakeDeadlines = new Map<Socket, NodeJS.Timeout>();
  private nextId = 1;
  /** Sessions whose connection is open. */
  private readonly sessions = new Set<Session>();
  /** Log lines of connections, written once each connection has closed. */
  private readonly logged = new Set<Promise<void>>();
  private readonly digests = new DigestCache();
  private readonly identities = new PeerIdentityCache();
  /** Body bytes of connections that have closed. */
  private closedBytes = 0;
  private readonly httpFront: HttpFront;
  private opts: ServerOptions;
  /** The ALPN IDs accepted, in order of preference: follows the suites, set again on reload. */
  private alpn: string[];

  constructor(
    opts: ServerOptions,
    private readonly log: Logger,
  ) {
    this.opts = opts;
    this.alpn = serverProtocols({ ciphers: opts.policy.ciphers, http: opts.http });
    this.preface = new PrefaceReader(opts.preface ?? NO_PROXY_PROTOCOL);
    this.listener = createNetServer((s) => {
      this.accept(s);
    });
    this.httpFront = new HttpFront({
      limits: opts.httpLimits,
      idleTimeoutMs: opts.limits.idleTimeoutMs,
    });
    this.server = createServer({
      ...serverTlsOptions(opts.pem, opts.policy),
      handshakeTimeout: opts.limits.handshakeTimeoutMs,
      // this.alpn is set again by reload, so a reload that changes the suites changes the offer.
      ALPNCallback: ({ protocols }) => chooseAlpn(protocols, this.alpn),
    });
    this.server.on('secureConnection', (s: TLSSocket) => {
      this.onSecure(s);
    });
    recordRefusedPeers(this.server);
    this.server.on('tlsClientError', (err: Error, s: TLSSocket) => {
      this.opts.observer?.handshake('failed');
      this.log.warn(
        {
          ...this.peerOf(s),
          outcome: 'handshake-failed',
          ...handshakeRefusal(s, err, this.opts.pem.trust),
        },
        'handshake failed',
      );
    });
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      const at = this.opts.fd ?? { host: this.opts.host, port: this.opts.port };
      this.listener.listen(typeof at === 'number' ? { fd: at } : at, () => {
        this.listener.off('error', reject);
        resolve();
      });
    }).catch((e: unknown) => {
      throw listenError(e, this.opts.host, this.opts.port);
    });
    return this.listener.address() as AddressInfo;
  }

  /** New TLS material, policy and rules for connections accepted from now on. */
  reload(
    next: Pick<
      ServerOptions,
      'pem' | 'policy' | 'authorize' | 'folderVisible' | 'encoderFor' | 'rootReal'
    >,
  ): void {
    this.server.setSecureContext(serverTlsOptions(next.pem, next.policy));
    this.opts = { ...this.opts, ...next };
    this.alpn = serverProtocols({ ciphers: next.policy.ciphers, http: this.opts.http });
    // Kept-alive HTTP connections would go on under the old rules and certificates: they
    // finish what is in flight and close, so that their clients come back through a handshake.
    this.httpFront.drain();
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Body bytes handed to sockets since start, transfers in flight included. */
  get bytesSent(): number {
    let n = this.closedBytes;
    for (const session of this.sessions) n += session.bytesSent;
    return n;
  }

  /**
   * Stops accepting; waits up to `graceMs` for connections in flight, then cuts the rest.
   * Resolves once every connection has closed and its log line is written; `forced` counts
   * the connections cut.
   */
  async shutdown(graceMs: number): Promise<{ forced: number }> {
    this.httpFront.drain();
    const closed = new Promise<void>((resolve) =>
      this.listener.close(() => {
        resolve();
      }),
    );
    let forced = 0;
    const timer = setTimeout(() => {
      forced = this.cut(`the grace period of ${graceMs} ms ended`);
    }, graceMs);
    await closed;
    clearTimeout(timer);
    await Promise.all(this.logged);
    return { forced };
  }

  /** Cuts every connection now (a second signal); returns how many were cut. */
  destroyAll(): number {
    return this.cut('a second signal closed every connection');
  }

  /** Cuts every connection, each session logged as cut by shutdown; returns how many. */
  private cut(reason: string): number {
    const n = this.sockets.size;
    for (const session of this.sessions) session.abort('shutdown', reason);
    for (const s of this.sockets) s.destroy();
    return n;
  }

  /**
   * A TCP connection: tracked from here (limits, shutdown, the handshake deadline), then its
   * preface is read, then TLS starts on what follows.
   */
  private accept(s: Socket): void {
    const { limits } = this.opts;
    let counted: string | undefined;
    this.sockets.add(s);
    s.on('error', () => undefined);
    // node's handshakeTimeout is the TLS socket's inactivity timer; that handshake bytes do not
    // reset it is undocumented. This deadline counts from accept whatever the client sends, so
    // a ClientHello (or a PROXY header) dripped a byte at a time cannot hold a slot past it.
    const deadline = setTimeout(() => {
      this.handshakeDeadlines.delete(s);
      if (s.destroyed) return;
      this.opts.observer?.handshake('timeout');
      this.log.warn(
        {
          ...this.peerOf(s),
          outcome: 'handshake-failed',
          reason: `handshake not finished within ${limits.handshakeTimeoutMs} ms`,
        },
        'handshake failed',
      );
      s.destroy();
    }, limits.handshakeTimeoutMs);
    this.handshakeDeadlines.set(s, deadline);
    s.once('close', () => {
      clearTimeout(deadline);
      this.handshakeDeadlines.delete(s);
      this.sockets.delete(s);
      if (counted === undefined) return;
      const left = (this.perAddress.get(counted) ?? 1) - 1;
      if (left > 0) this.perAddress.set(counted, left);
      else this.perAddress.delete(counted);
    });
    if (this.sockets.size > 2 * limits.maxConnections) {
      this.dropBusy(s);
      return;
    }
    this.preface.read(s, (r) => {
      if (!r.ok) {
        this.opts.observer?.handshake('preface-refused');
        this.log.warn(
          { ...this.peerOf(s), outcome: r.outcome, error: r.error.code, reason: r.error.message },
          'connection refused before TLS',
        );
        s.destroy();
        return;
      }
      if (r.client && r.proxy) this.relayed.set(s, { client: r.client, proxy: r.proxy });
      counted = r.client?.address ?? unmapIPv4(s.remoteAddress ?? '?');
      const n = (this.perAddress.get(counted) ?? 0) + 1;
      this.perAddress.set(counted, n);
      if (n > 2 * limits.maxConnectionsPerAddress) {
        this.dropBusy(s);
        return;
      }
      this.server.emit('connection', s);
    });
  }

  /**
   * Far over a cap there is no point in paying for a handshake: drop at the TCP level.
   * Just over a cap the handshake completes and the client is told `ERR busy` instead.
   */
  private dropBusy(s: Socket): void {
    this.opts.observer?.handshake('over-limit');
    this.log.warn({ ...this.peerOf(s), outcome: 'busy' }, 'connection dropped: over the hard cap');
    s.destroy();
  }

  /**
   * The client as logs show it: the address a PROXY header carried, with the balancer it came
   * through as `proxy`; otherwise the TCP peer. Works for the TCP socket and the TLS one above.
   */
  private peerOf(s: Socket): { peer: string; proxy?: string } {
    const raw = rawSocket(s);
    const relayed = this.relayed.get(raw);
    if (!relayed) return { peer: peerAddr(s) };
    const { client, proxy } = relayed;
    return {
      peer: formatHostPort(client.address, client.port),
      proxy: formatHostPort(proxy.address, proxy.port),
    };
  }

  /** The address that per-address limits count for this connection. */
  private limitAddress(s: Socket): string {
    const raw = rawSocket(s);
    return this.relayed.get(raw)?.client.address ?? unmapIPv4(raw.remoteAddress ?? '?');
  }

  private onSecure(s: TLSSocket): void {
    const raw = rawSocket(s);
    clearTimeout(this.handshakeDeadlines.get(raw));
    this.handshakeDeadlines.delete(raw);
    this.opts.observer?.handshake('ok');
    const id = `${this.opts.connectionIdPrefix ?? ''}${this.nextId++}`;
    const started = process.hrtime.bigint();
    const peer = this.identities.identify(s);
    const addr = this.limitAddress(s);
    const who = this.peerOf(s);
    const opts = this.opts;
    const { limits } = opts;
    // Read now: after close, node no longer reports the session's protocol and suite.
    const protocol = s.getProtocol();
    const cipher = s.getCipher().name;
    const session = new Session(s, peer, {
      rootReal: opts.rootReal,
      authorize: opts.authorize,
      encoderFor: opts.encoderFor,
      requestTimeoutMs: limits.requestTimeoutMs,
      idleTimeoutMs: limits.idleTimeoutMs,
      digests: this.digests,
      http: opts.http && peer ? this.httpHandoff(s, id, peer, who, cipher) : undefined,
    });
    this.sessions.add(session);
    const logged = session.done.then((out) => {
      this.sessions.delete(session);
      this.closedBytes += out.bytes;
      const durationMs = Number((process.hrtime.bigint() - started) / 1000n) / 1000;
      // An HTTP connection's requests were counted one by one as they ended.
      if (out.wire !== 'http/1.1' && out.wire !== 'h2') {
        this.opts.observer?.request({ protocol: 'line', outcome: out.outcome, durationMs });
      }
      this.log.info(
        {
          conn: id,
          ...who,
          subject: peer?.subject,
          fingerprint256: peer?.fingerprint256,
          protocol,
          cipher,
          alpn: out.alpn,
          wire: out.wire,
          requests: out.requests,
          request: out.request,
          served: out.served,
          outcome: out.outcome,
          rule: out.rule,
          reason: out.reason,
          error: out.error,
          bytes: out.bytes,
          durationMs,
          sha256: out.sha256,
          plaintextSha256: out.plaintextSha256,
        },
        'connection',
      );
    });
    this.logged.add(logged);
    void logged.then(() => this.logged.delete(logged));
    if (!peer) {
      session.refuse('internal', 'internal error', 'no peer certificate');
    } else if (
      this.sockets.size > limits.maxConnections ||
      (this.perAddress.get(addr) ?? 0) > limits.maxConnectionsPerAddress
    ) {
      session.refuse('busy', 'server busy, try again later', 'over the connection limit');
    }
  }

  /** How this connection's session hands it to HTTP: one log line per request. */
  private httpHandoff(
    s: TLSSocket,
    conn: string,
    peer: PeerIdentity,
    who: { peer: string; proxy?: string },
    cipher: string,
  ): HttpHandoff {
    const opts = this.opts;
    let encoder: { value: BodyEncoder | undefined } | undefined;
    return (socket, how) => {
      if (how.version === 'h2' && !suiteAllowsH2(cipher)) {
        // RFC 9113 §9.2.2. ALPN offers h2 only when a suite of the policy allows it, but the
        // client may still have got another of the policy's suites.
        how.end('bad-request', `HTTP/2 refused over ${cipher} (RFC 9113 §9.2.2)`);
        socket.destroy();
        return {
          inFlight: 0,
          cutShort: false,
          requests: 0,
          bytes: 0,
          settled: () => Promise.resolve(),
        };
      }
      return this.httpFront.serve(socket, {
        ...how,
        ctx: {
          rootReal: opts.rootReal,
          authorize: opts.authorize,
          folderVisible: opts.folderVisible,
          digests: this.digests,
          peer,
          // Asked once per connection, at its first request: it depends on the certificate.
          encoder: () => (encoder ??= { value: opts.encoderFor(s) }).value,
          limits: opts.httpLimits,
          busy: () => undefined,
        },
        onRequest: (rec: RequestRecord, v: HttpVersion, durationMs: number) => {
          this.opts.observer?.request({ protocol: v, outcome: rec.outcome, durationMs });
          this.log.info(
            {
              conn,
              ...who,
              subject: peer.subject,
              fingerprint256: peer.fingerprint256,
              http: v,
              method: rec.method,
              target: rec.target,
              status: rec.status,
              outcome: rec.outcome,
              rule: rec.rule,
              reason: rec.reason,
              range: rec.range,
              served: rec.served,
              bytes: rec.bytes,
              durationMs: Math.round(durationMs * 1000) / 1000,
              sha256: rec.sha256,
              plaintextSha256: rec.plaintextSha256,
            },
            'request',
          );
        },
      });
    };
  }
}

/**
 * The TCP socket beneath a TLS socket (node's `_parent`, not public API), or the socket itself.
 * A TLS socket destroyed during the handshake has lost its handle; the TCP socket still knows
 * the address.
 */
function rawSocket(s: Socket): Socket {
  return (s as Socket & { _parent?: Socket | null })._parent ?? s;
}

/**
 * The TCP peer, read from the TCP socket: it learnt the address at accept, while a TLS socket
 * above it would ask the kernel again (getpeername).
 */
function peerAddr(s: Socket): string {
  const raw = rawSocket(s);
  const a = raw.remoteAddress ?? s.remoteAddress;
  const port = raw.remotePort ?? s.remotePort ?? '?';
  return a === undefined ? `?:${port}` : formatHostPort(unmapIPv4(a), port);
}

function listenError(e: unknown, host: string | undefined, port: number): SecureStreamError {
  const code = (e as { code?: string }).code;
  const where = host === undefined ? `*:${port}` : formatHostPort(host, port);
  if (code === 'EADDRINUSE') {
    return new SecureStreamError(
      'listen-failed',
      `address ${where} is already in use`,
      'choose another --port, or --port 0 for a free one',
    );
  }
  if (code === 'EACCES') {
    return new SecureStreamError(
      'listen-failed',
      `no permission to listen on ${where}`,
      'ports below 1024 need privileges; use --port 8443',
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new SecureStreamError(
      'listen-failed',
      `cannot listen on ${where}: no such local address`,
    );
  }
  return new SecureStreamError(
    'listen-failed',
    `cannot listen on ${where}: ${(e as Error).message}`,
  );
}
