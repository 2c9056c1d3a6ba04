/**
 * HTTP/1.1 on the fetching side (RFC 9112), over sockets that dial.ts made and authenticated:
 * node's http client does the framing and a keep-alive Agent keeps the connection between
 * requests; this module hands the Agent our sockets (never a TLS of its own), keeps the time
 * limits, and turns what node reports into our typed errors. One HttpConnection is one
 * connection at a time; when the server closes it (its keep-alive timeout, its request cap, a
 * restart), the next request dials again.
 */
import type * as Http from 'node:http';
import type { ClientRequestArgs, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex, Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { SecureStreamError, errnoCode } from '../errors.js';
import { formatHostPort } from './address.js';
import { ALPN_HTTP11, type Dialed } from './dial.js';
import { explainClientError } from './explain.js';

// Not an ESM import: that evaluates every export of node:http, and its lazy WebSocket and
// EventSource getters load node's bundled undici, 50-250 ms of start-up that `get` would pay
// for nothing. Any absolute path will do as require's base for a built-in module; the single
// executable has no module URL.
const { Agent, request } = createRequire(process.execPath)('node:http') as typeof Http;

/**
 * Longest wait for a response head, in ms. A server hashes a file it has not hashed before
 * its first response (the ETag and Repr-Digest come from the digest), about 1 s per GB.
 */
export const HEADERS_TIMEOUT_MS = 300_000;
/** No body byte for this long, in ms, fails the transfer (as the line protocol's idle timeout). */
export const BODY_IDLE_MS = 60_000;

/** What an HttpConnection needs: a way to dial, and optionally a socket dialled already. */
export interface HttpConnectionOptions {
  host: string;
  port: number;
  /** Dials a new connection offering ALPN http/1.1. */
  dial: () => Promise<Dialed>;
  /** A connection already dialled (the one that told us the server speaks HTTP). */
  first?: Dialed | undefined;
  headersTimeoutMs?: number;
  bodyIdleMs?: number;
}

/** A response head and its body as it arrives. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Decoded from the framing (Content-Length or chunked); ends when the response is complete. */
  body: Readable;
  /** A trailer field (HTTP/1.1 chunked), once the body has ended. */
  trailer: (name: string) => string | undefined;
  /** The connection's TLS version and suite. */
  protocol: string;
  cipher: string;
}

/** What we know of each socket handed to the Agent. */
interface SocketInfo {
  dialed: Dialed;
  answered: boolean;
}

/** An Agent whose connections come from our dial (one at a time, kept alive). */
class DialAgent extends Agent {
  constructor(private readonly make: () => Promise<TLSSocket>) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, scheduling: 'lifo' });
  }

  override createConnection(
    _options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    this.make().then(
      (s) => callback?.(null, s),
      (e: unknown) => callback?.(e as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** One keep-alive HTTP/1.1 connection to the server, redialled when the server closes it. */
export class HttpConnection {
  private readonly agent: DialAgent;
  private readonly sockets = new WeakMap<object, SocketInfo>();
  private first: Dialed | undefined;
  /** Connections dialled so far (the first one included). */
  dials = 0;

  constructor(private readonly opts: HttpConnectionOptions) {
    this.first = opts.first;
    this.agent = new DialAgent(() => this.connect());
  }

  private async connect(): Promise<TLSSocket> {
    const d = this.first ?? (await this.opts.dial());
    this.first = undefined;
    if (d.alpn !== ALPN_HTTP11) {
      d.socket.destroy();
      throw new SecureStreamError(
        'protocol',
        `the server at ${this.where} no longer offers HTTP/1.1 (ALPN ${d.alpn || 'none'})`,
        'a server at this address speaks only the line protocol; use --protocol 1',
      );
    }
    this.dials++;
    this.sockets.set(d.socket, { dialed: d, answered: false });
    return d.socket;
  }

  private get where(): string {
    return formatHostPort(this.opts.host, this.opts.port);
  }

  /**
   * GET `target` (origin-form, percent-encoded) with `headers`. Resolves at the response head,
   * whatever its status. Rejects with `connect-failed` or a `tls-…` error when no connection
   * can be had, `truncated` when the connection breaks before the head, `timeout`, or
   * `interrupted` when `signal` aborts. The body fails with `timeout`, `interrupted` or node's
   * own error for a connection cut short (mapped by the caller, who knows how far it got).
   */
  async get(
    target: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    try {
      return await this.once(target, headers, signal, true);
    } catch (e) {
      // A kept-alive connection the server closed as we sent: the request never started.
      if (e instanceof ReusedSocketClosed) return this.once(target, headers, signal, false);
      throw e;
    }
  }

  private once(
    target: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    mayResend: boolean,
  ): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      signal?.throwIfAborted();
      const req = request({
        agent: this.agent,
        host: this.opts.host,
        port: this.opts.port,
        path: target,
        method: 'GET',
        headers: { host: this.where, ...headers },
      });
      let response: IncomingMessage | undefined;
      const fail = (e: SecureStreamError): void => {
        if (response) response.destroy(e);
        else req.destroy(e);
      };
      const onAbort = (): void => {
        fail(new SecureStreamError('interrupted', 'interrupted before the transfer completed'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(this.opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS, () => {
        fail(
          response
            ? new SecureStreamError(
                'timeout',
                `the server sent nothing for ${this.opts.bodyIdleMs ?? BODY_IDLE_MS} ms`,
              )
            : new SecureStreamError('timeout', `${this.where} sent no response head in time`),
        );
      });
      req.once('error', (e) => {
        signal?.removeEventListener('abort', onAbort);
        if (mayResend && !response && req.reusedSocket && errnoCode(e) === 'ECONNRESET') {
          reject(new ReusedSocketClosed());
          return;
        }
        reject(this.explain(e, req.socket));
      });
      req.once('response', (res: IncomingMessage) => {
        response = res;
        req.setTimeout(this.opts.bodyIdleMs ?? BODY_IDLE_MS);
        const info = this.sockets.get(res.socket);
        if (info) info.answered = true;
        res.once('close', () => signal?.removeEventListener('abort', onAbort));
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: res,
          trailer: (name) => {
            const v = res.trailers[name];
            return Array.isArray(v) ? v.join(', ') : v;
          },
          protocol: info?.dialed.protocol ?? '?',
          cipher: info?.dialed.cipher ?? '?',
        });
      });
      req.end();
    });
  }

  /** Maps what the http client (or our dial) reported before a response into an error. */
  private explain(e: unknown, socket: object | null): SecureStreamError {
    if (e instanceof SecureStreamError) return e;
    const err = e as Error;
    const info = socket ? this.sockets.get(socket) : undefined;
    // A server that hangs up on a fresh connection before any response refused us.
    if (info && !info.answered) {
      const explained = explainClientError(err, info.dialed.ctx);
      if (explained.code !== 'tls-handshake') return explained;
    }
    const code = errnoCode(e);
    if (code?.startsWith('HPE_')) {
      return new SecureStreamError(
        'protocol',
        `malformed HTTP response from ${this.where}: ${err.message}`,
        undefined,
        {
          cause: e,
        },
      );
    }
    return new SecureStreamError(
      'truncated',
      `the connection to ${this.where} broke before the response (${code ?? err.message})`,
      'the server stopped or the network failed; try again',
      { cause: e },
    );
  }

  /** Closes the connection; requests in flight fail. */
  close(): Promise<void> {
    this.first?.socket.destroy();
    this.agent.destroy();
    return Promise.resolve();
  }
}

/** The request went out on a kept-alive socket the server had just closed: send it again. */
class ReusedSocketClosed extends Error {}
