/**
 * A download held open on purpose: connects, asks for a name, stops reading after the first
 * bytes (so the server has a transfer in flight), and finishes on demand, checking length and
 * trailer digest like the real client does.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import type { CertFiles } from './pki.js';

export interface HeldTransfer {
  socket: TLSSocket;
  /** SHA-256 of the server certificate this connection saw (lower-case hex, no colons). */
  serverFingerprint: string;
  /** Resumes reading; resolves when the server closes. */
  finish(): Promise<TransferResult>;
}

export interface TransferResult {
  header: string;
  length: number;
  received: number;
  bodySha256: string;
  trailer: string;
  /** Header `OK`, exactly `length` body bytes and a trailer whose digest matches. */
  complete: boolean;
  error?: string;
}

export function holdTransfer(opts: {
  port: number;
  host?: string;
  localAddress?: string;
  ca: string;
  client: CertFiles;
  name: string;
}): Promise<HeldTransfer> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ca: readFileSync(opts.ca),
      cert: readFileSync(opts.client.cert),
      key: readFileSync(opts.client.key),
      servername: 'localhost',
    });
    let head = Buffer.alloc(0);
    let header = '';
    let length = -1;
    let received = 0;
    let tail = '';
    let error: string | undefined;
    const hash = createHash('sha256');
    const closed = new Promise<TransferResult>((done) => {
      socket.on('close', () => {
        const bodySha256 = hash.digest('hex');
        const trailer = tail;
        done({
          header,
          length,
          received,
          bodySha256,
          trailer,
          complete:
            header.startsWith('OK ') && received === length && trailer === `SHA256 ${bodySha256}\n`,
          ...(error ? { error } : {}),
        });
      });
    });
    socket.on('error', (e: Error & { code?: string }) => {
      error = e.code ?? e.message;
      reject(e);
    });
    socket.on('secureConnect', () => {
      socket.write(`GET ${opts.name}\n`);
    });
    let first = true;
    socket.on('data', (b: Buffer) => {
      let chunk = b;
      if (length < 0) {
        head = Buffer.concat([head, chunk]);
        const lf = head.indexOf(0x0a);
        if (lf < 0) return;
        header = head.subarray(0, lf + 1).toString();
        length = Number(/^OK (\d+) /.exec(header)?.[1] ?? '0');
        chunk = head.subarray(lf + 1);
      }
      const body = chunk.subarray(0, Math.max(0, length - received));
      hash.update(body);
      received += body.length;
      tail += chunk.subarray(body.length).toString();
      if (first) {
        first = false;
        socket.pause();
        resolve({
          socket,
          serverFingerprint: (socket.getPeerX509Certificate()?.fingerprint256 ?? '')
            .replace(/:/g, '')
            .toLowerCase(),
          finish: () => {
            socket.resume();
            return closed;
          },
        });
      }
    });
  });
}

/** SHA-256 of a file, lower-case hex. */
export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
