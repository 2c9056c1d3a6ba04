/**
 * Dialling a server: TCP, the mutual-TLS handshake with the server's chain and name verified,
 * and the application protocol the server picked by ALPN (RFC 7301). Every failure up to the
 * finished handshake comes out as one of explain.ts's errors; what runs over the socket next
 * (the line protocol, HTTP/1.1) is the caller's.
 */
import { connect, type TLSSocket } from 'node:tls';
import { SecureStreamError } from '../errors.js';
import { formatHostPort } from './address.js';
import { explainClientError, type DialContext } from './explain.js';
export { ALPN_HTTP11, ALPN_LINE } from './protocolchoice.js';
import { clientTlsOptions, type TlsPem } from './tls.js';

/** Longest wait for TCP connect plus handshake, in ms, unless the caller says otherwise. */
export const CONNECT_TIMEOUT_MS = 30_000;

/** Where to dial, with which certificates, offering which protocols, for how long. */
export interface DialOptions {
  host: string;
  port: number;
  pem: TlsPem;
  /** ALPN IDs offered, in our order of preference. */
  alpn: readonly string[];
  /** TCP connect plus handshake, in ms (default CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /** Aborts the dial with the error `interrupted`. */
  signal?: AbortSignal | undefined;
}

/** A socket after a finished handshake, with what was negotiated. */
export interface Dialed {
  socket: TLSSocket;
  /** The protocol the server picked, or false when it answered no ALPN (a server before it). */
  alpn: string | false;
  /** TLS version and suite, as OpenSSL names them. */
  protocol: string;
  cipher: string;
  /** For explaining failures after the handshake (a TLS 1.3 server refusing our certificate). */
  ctx: DialContext;
}

/**
 * Connects and completes the handshake. Rejects with `connect-failed`, a `tls-…` error from
 * explain.ts, or `interrupted`; the socket is destroyed then. On success the socket carries no
 * listener of ours: the caller owns it from here on.
 */
export function dial(opts: DialOptions): Promise<Dialed> {
  return new Promise<Dialed>((resolve, reject) => {
    const ctx: DialContext = { host: opts.host, port: opts.port, handshakeDone: false };
    const socket: TLSSocket = connect({
      ...clientTlsOptions(opts.pem, opts.host, opts.port),
      ALPNProtocols: [...opts.alpn],
    });
    let settled = false;
    const cleanup = (): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(e instanceof SecureStreamError ? e : explainClientError(e as Error, ctx));
    };
    const ms = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => {
      fail(
        new SecureStreamError(
          'connect-failed',
          `no TLS session with ${formatHostPort(opts.host, opts.port)} within ${ms} ms`,
        ),
      );
    }, ms);
    const onAbort = (): void => {
      fail(new SecureStreamError('interrupted', 'interrupted before the transfer completed'));
    };
    const onError = (e: Error): void => {
      fail(e);
    };
    const onClose = (): void => {
      fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    };
    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once('keylog', () => {
      ctx.keysDerived = true;
    });
    // node checks the server's chain right after its internal 'secure' event and destroys the
    // socket on failure; a listener placed first still sees the certificate, so an error can
    // say when it expired or who issued it.
    socket.prependOnceListener('secure', () => {
      ctx.peer = socket.getPeerCertificate();
    });
    socket.once('secureConnect', () => {
      if (settled) return;
      settled = true;
      cleanup();
      ctx.handshakeDone = true;
      resolve({
        socket,
        alpn: socket.alpnProtocol ?? false,
        protocol: socket.getProtocol() ?? '?',
        cipher: socket.getCipher().name,
        ctx,
      });
    });
  });
}
