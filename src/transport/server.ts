/**
 * The listening side: accepts TCP, completes mutually authenticated TLS, enforces connection
 * limits and timeouts, runs one session per connection and logs one line per connection.
 * Reload swaps the TLS material for new handshakes only; connections in flight keep theirs.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Socket, AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { SecureStreamError } from '../errors.js';
import { serverTlsOptions, type TlsPem, type TlsPolicy } from './tls.js';
import { explainServerTlsError } from './explain.js';
import { PeerIdentityCache } from './peer.js';
import { formatHostPort, unmapIPv4 } from './address.js';
import { DigestCache } from './digestcache.js';
import type { Authorizer } from '../access.js';
import type { BodyEncoder } from './body.js';
import { Session } from './session.js';
import type { ServerLimits } from './limits.js';

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
  encoderFor: (socket: TLSSocket) => BodyEncoder | undefined;
  /** Put before connection numbers in the log (`2-17`), so ids stay unique across workers. */
  connectionIdPrefix?: string | undefined;
}

export class FileServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly perAddress = new Map<string, number>();
  /** Absolute handshake deadlines by "address:port", cleared once the handshake is done. */
  private readonly handshakeDeadlines = new Map<string, NodeJS.Timeout>();
  private nextId = 1;
  /** Sessions whose connection is open. */
  private readonly sessions = new Set<Session>();
  /** Log lines of connections, written once each connection has closed. */
  private readonly logged = new Set<Promise<void>>();
  private readonly digests = new DigestCache();
  private readonly identities = new PeerIdentityCache();
  private opts: ServerOptions;

  constructor(
    opts: ServerOptions,
    private readonly log: Logger,
  ) {
    this.opts = opts;
    this.server = createServer({
      ...serverTlsOptions(opts.pem, opts.policy),
      handshakeTimeout: opts.limits.handshakeTimeoutMs,
    });
    this.server.on('connection', (s: Socket) => {
      this.admitTcp(s);
    });
    this.server.on('secureConnection', (s: TLSSocket) => {
      this.onSecure(s);
    });
    this.server.on('tlsClientError', (err: Error, s: TLSSocket) => {
      // node verifies the client certificate after the handshake and then destroys the
      // socket, so the error is a bare reset; the verification result is on the socket.
      const verify = s.authorizationError as unknown;
      const reason =
        typeof verify === 'string' ? explainServerTlsError(verify) : explainServerTlsError(err);
      this.log.warn(
        {
          peer: peerAddr(s),
          outcome: 'handshake-failed',
          reason,
          ...(typeof verify === 'string' ? { verifyError: verify } : { error: errCode(err) }),
        },
        'handshake failed',
      );
    });
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      const at = this.opts.fd ?? { host: this.opts.host, port: this.opts.port };
      this.server.listen(typeof at === 'number' ? { fd: at } : at, () => {
        this.server.off('error', reject);
        resolve();
      });
    }).catch((e: unknown) => {
      throw listenError(e, this.opts.host, this.opts.port);
    });
    return this.server.address() as AddressInfo;
  }

  /** New TLS material, policy and rules for connections accepted from now on. */
  reload(
    next: Pick<ServerOptions, 'pem' | 'policy' | 'authorize' | 'encoderFor' | 'rootReal'>,
  ): void {
    this.server.setSecureContext(serverTlsOptions(next.pem, next.policy));
    this.opts = { ...this.opts, ...next };
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Stops accepting; waits up to `graceMs` for connections in flight, then cuts the rest.
   * Resolves once every connection has closed and its log line is written; `forced` counts
   * the connections cut.
   */
  async shutdown(graceMs: number): Promise<{ forced: number }> {
    const closed = new Promise<void>((resolve) =>
      this.server.close(() => {
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

  private admitTcp(s: Socket): void {
    const addr = s.remoteAddress ?? '?';
    const n = (this.perAddress.get(addr) ?? 0) + 1;
    const { limits } = this.opts;
    const key = `${addr}:${s.remotePort ?? '?'}`;
    this.sockets.add(s);
    this.perAddress.set(addr, n);
    // node's handshakeTimeout is the TLS socket's inactivity timer; that handshake bytes do not
    // reset it is undocumented. This deadline counts from accept whatever the client sends, so
    // a ClientHello dripped a byte at a time cannot hold a slot past the limit.
    const deadline = setTimeout(() => {
      this.handshakeDeadlines.delete(key);
      if (s.destroyed) return;
      this.log.warn(
        {
          peer: peerAddr(s),
          outcome: 'handshake-failed',
          reason: `handshake not finished within ${limits.handshakeTimeoutMs} ms`,
        },
        'handshake failed',
      );
      s.destroy();
    }, limits.handshakeTimeoutMs);
    this.handshakeDeadlines.set(key, deadline);
    s.once('close', () => {
      clearTimeout(deadline);
      if (this.handshakeDeadlines.get(key) === deadline) this.handshakeDeadlines.delete(key);
      this.sockets.delete(s);
      const left = (this.perAddress.get(addr) ?? 1) - 1;
      if (left > 0) this.perAddress.set(addr, left);
      else this.perAddress.delete(addr);
    });
    // Far over a cap there is no point in paying for a handshake: drop at the TCP level.
    // Just over a cap the handshake completes and the client is told `ERR busy` instead.
    if (this.sockets.size > 2 * limits.maxConnections || n > 2 * limits.maxConnectionsPerAddress) {
      this.log.warn(
        { peer: peerAddr(s), outcome: 'busy' },
        'connection dropped: over the hard cap',
      );
      s.destroy();
      return;
    }
    s.on('error', () => undefined);
  }

  private onSecure(s: TLSSocket): void {
    const key = `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
    clearTimeout(this.handshakeDeadlines.get(key));
    this.handshakeDeadlines.delete(key);
    const id = `${this.opts.connectionIdPrefix ?? ''}${this.nextId++}`;
    const started = process.hrtime.bigint();
    const peer = this.identities.identify(s);
    const addr = s.remoteAddress ?? '?';
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
    });
    this.sessions.add(session);
    const logged = session.done.then((out) => {
      this.sessions.delete(session);
      this.log.info(
        {
          conn: id,
          peer: peerAddr(s),
          subject: peer?.subject,
          fingerprint256: peer?.fingerprint256,
          protocol,
          cipher,
          request: out.request,
          served: out.served,
          outcome: out.outcome,
          rule: out.rule,
          reason: out.reason,
          error: out.error,
          bytes: out.bytes,
          durationMs: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
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
}

function peerAddr(s: Socket): string {
  // A TLS socket destroyed during the handshake has lost its handle; the TCP socket beneath
  // it (node's `_parent`, not public API) still knows the address.
  const raw = (s as Socket & { _parent?: Socket | null })._parent ?? s;
  const a = s.remoteAddress ?? raw.remoteAddress;
  const port = s.remotePort ?? raw.remotePort ?? '?';
  return a === undefined ? `?:${port}` : formatHostPort(unmapIPv4(a), port);
}

function errCode(e: Error): string {
  return (e as { code?: string }).code ?? e.message;
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
