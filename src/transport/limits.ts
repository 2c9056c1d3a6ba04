/**
 * The server's connection limits and their defaults, in a module of their own so that flag
 * parsing can show the defaults without loading the server.
 */

/** Limits with defaults a public server can live with (docs/SECURITY.md). */
export interface ServerLimits {
  /** TCP accept to finished TLS handshake. */
  handshakeTimeoutMs: number;
  /** Finished handshake to complete request line. */
  requestTimeoutMs: number;
  /** No byte read or written for this long (e.g. a client that stops reading): close. */
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

/** The limits `serve` uses unless a flag says otherwise (times in ms). */
export const DEFAULT_LIMITS: ServerLimits = {
  handshakeTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxConnections: 512,
  maxConnectionsPerAddress: 64,
};
