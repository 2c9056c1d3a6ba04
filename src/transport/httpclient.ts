/**
 * HTTP/1.1 on the fetching side (RFC 9112), over sockets that dial.ts made and authenticated:
 * undici does the framing and keeps the connection alive between requests; this module hands
 * it our sockets (never undici's own TLS), and turns what undici reports into our typed errors.
 * One HttpConnection is one connection at a time; when the server closes it (its keep-alive
 * timeout, its request cap, a restart), the next request dials again.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Client } from 'undici';
import { SecureStreamError, errnoCode } from '../errors.js';
import { formatHostPort } from './address.js';
import { ALPN_HTTP11, type Dialed } from './dial.js';
import { explainClientError } from './explain.js';

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
  /** Trailer fields, filled once the body has ended (HTTP/1.1 chunked). */
  trailers: Record<string, string>;
  /** The connection's TLS version and suite. */
  protocol: string;
  cipher: string;
}

/** One keep-alive HTTP/1.1 connection to the server, redialled when the server closes it. */
export class HttpConnection {
  private readonly client: Client;
  private current: Dialed | undefined;
  /** Responses that have started on the current socket: a failure before one is the dial's. */
  private answered = 0;
  /** Connections dialled so far (the first one included). */
  dials = 0;

  constructor(private readonly opts: HttpConnectionOptions) {
    let first = opts.first;
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    this.client = new Client(`https://${host}:${opts.port}`, {
      connect: (_o, cb) => {
        const got = first ? Promise.resolve(first) : opts.dial();
        first = undefined;
        got.then(
          (d) => {
            if (d.alpn !== ALPN_HTTP11) {
              d.socket.destroy();
              cb(
                new SecureStreamError(
                  'protocol',
                  `the server at ${formatHostPort(opts.host, opts.port)} no longer offers HTTP/1.1 (ALPN ${d.alpn || 'none'})`,
                  'a server behind the same address speaks only the line protocol; use --protocol 1',
                ),
                null,
              );
              return;
            }
            this.current = d;
            this.answered = 0;
            this.dials++;
            cb(null, d.socket);
          },
          (e: unknown) => {
            cb(e as Error, null);
          },
        );
      },
      pipelining: 1,
      headersTimeout: opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
      bodyTimeout: opts.bodyIdleMs ?? BODY_IDLE_MS,
    });
  }

  /**
   * GET `target` (origin-form, percent-encoded) with `headers`. Resolves at the response head,
   * whatever its status. Rejects with `connect-failed` or a `tls-…` error when no connection
   * can be had, `truncated` when the connection breaks before the head, `timeout`,
   * `protocol`, or `interrupted` when `signal` aborts. The body fails the same way.
   */
  async get(
    target: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    try {
      const res = await this.client.request({
        path: target,
        method: 'GET',
        headers,
        ...(signal ? { signal } : {}),
      });
      this.answered++;
      const body = res.body as unknown as Readable;
      return {
        status: res.statusCode,
        headers: res.headers,
        body,
        trailers: res.trailers,
        protocol: this.current?.protocol ?? '?',
        cipher: this.current?.cipher ?? '?',
      };
    } catch (e) {
      throw this.explain(e, signal);
    }
  }

  /** Maps what undici (or our dial) threw into a SecureStreamError. */
  explain(e: unknown, signal?: AbortSignal): SecureStreamError {
    if (signal?.aborted) {
      return new SecureStreamError('interrupted', 'interrupted before the transfer completed');
    }
    if (e instanceof SecureStreamError) return e;
    const err = e as Error & { code?: string };
    const code = errnoCode(e) ?? '';
    const where = formatHostPort(this.opts.host, this.opts.port);
    switch (code) {
      case 'UND_ERR_HEADERS_TIMEOUT':
        return new SecureStreamError('timeout', `${where} sent no response head in time`);
      case 'UND_ERR_BODY_TIMEOUT':
        return new SecureStreamError(
          'timeout',
          `the server sent nothing for ${this.opts.bodyIdleMs ?? BODY_IDLE_MS} ms`,
        );
      case 'UND_ERR_ABORTED':
        return new SecureStreamError('interrupted', 'interrupted before the transfer completed');
      case 'UND_ERR_SOCKET':
      case 'ECONNRESET':
      case 'EPIPE':
        // A server that hangs up on a fresh connection before any response refused us.
        if (this.answered === 0 && this.current) {
          const cause = (err as { cause?: Error }).cause ?? err;
          const explained = explainClientError(cause, this.current.ctx);
          if (explained.code !== 'tls-handshake') return explained;
        }
        return new SecureStreamError(
          'truncated',
          `the connection to ${where} broke before the response (${err.message})`,
          'the server stopped or the network failed; try again',
          { cause: e },
        );
    }
    if (code.startsWith('HPE_') || code === 'UND_ERR_INFO') {
      return new SecureStreamError(
        'protocol',
        `malformed HTTP response from ${where}: ${err.message}`,
        undefined,
        { cause: e },
      );
    }
    return new SecureStreamError(
      'protocol',
      `HTTP request to ${where} failed: ${err.message}`,
      undefined,
      {
        cause: e,
      },
    );
  }

  /** Closes the connection; requests in flight fail. */
  async close(): Promise<void> {
    await this.client.destroy().catch(() => undefined);
  }
}
