/** A hand-driven TLS client for tests that must send bytes our own client never would. */
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import type { CertFiles } from './pki.js';

export interface RawResult {
  /** Every byte the server sent before closing. */
  received: Buffer;
  /** The socket error, if the connection ended with one. */
  error?: Error;
}

/**
 * Connects with `client` credentials (none: no certificate at all), writes `send` (if any),
 * reads until the server closes.
 */
export function rawExchange(opts: {
  port: number;
  host?: string;
  ca: string;
  client: CertFiles | undefined;
  send?: Buffer | string;
  /** Close our side after this many ms without the server closing (default 15 s). */
  timeoutMs?: number;
}): Promise<RawResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: Error | undefined;
    const socket = connect({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      ca: readFileSync(opts.ca),
      ...(opts.client
        ? { cert: readFileSync(opts.client.cert), key: readFileSync(opts.client.key) }
        : {}),
      servername: 'localhost',
    });
    const timer = setTimeout(() => socket.destroy(), opts.timeoutMs ?? 15_000);
    socket.on('secureConnect', () => {
      if (opts.send !== undefined) socket.write(opts.send);
    });
    socket.on('data', (b: Buffer) => chunks.push(b));
    socket.on('error', (e: Error) => {
      error = e;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), ...(error ? { error } : {}) });
    });
  });
}
