/**
 * Caps on what an HTTP client may send or hold, each with a default (docs/SECURITY.md). The
 * connection-wide limits (handshake, connection counts, idle transfer) are the line protocol's
 * (transport/limits.ts); these are the ones only HTTP has.
 */
export interface HttpLimits {
  /** Request line plus header fields, in bytes; over it: 431 (HTTP/1.1) or a stream reset (h2). */
  maxHeaderBytes: number;
  /** Header fields in one request; over it: 431. */
  maxHeaderCount: number;
  /** Requests on one connection; the last response says `Connection: close` (h2: GOAWAY). */
  maxRequestsPerConnection: number;
  /** A kept-alive connection with no request in flight is closed after this long. */
  keepAliveIdleMs: number;
  /**
   * From the end of the handshake to the last header field of the first request: a client that
   * drips its header is cut off with 408 (slow header). `serve --request-timeout` sets it, as
   * for the line protocol's request line. Later requests must be complete within
   * keepAliveIdleMs of the previous response.
   */
  headerTimeoutMs: number;
  /** Concurrent streams one HTTP/2 connection may open (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxRequestsPerConnection: 1000,
  keepAliveIdleMs: 15_000,
  headerTimeoutMs: 10_000,
  maxConcurrentStreams: 100,
};
