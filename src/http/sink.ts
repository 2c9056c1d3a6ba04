/**
 * One interface over node's HTTP/1.1 and HTTP/2 (compatibility API) responses for what the
 * handler does with them: write the head, stream body buffers that the file reader reuses,
 * add trailer fields, finish, or cut the response so that the client sees a failure.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { SecureStreamError } from '../errors.js';

export type NodeResponse = ServerResponse | Http2ServerResponse;

export interface ResponseSink {
  /** HTTP/2: Content-Length and trailer fields may go together. */
  readonly http2: boolean;
  readonly headersSent: boolean;
  /** The client is gone or the response was cut. */
  readonly closed: boolean;
  writeHead(status: number, fields: OutgoingHttpHeaders): void;
  /** Resolves once `b` has been handed to TLS, so the caller may reuse the buffer. */
  write(b: Buffer): Promise<void>;
  /** Writes pieces nobody reuses; resolves when the connection can take more, if it must wait. */
  batch(pieces: Buffer[]): Promise<void> | undefined;
  /** Trailer fields sent after the body (HTTP/1.1 chunked or HTTP/2 trailers). */
  addTrailers(fields: Record<string, string>): void;
  /**
   * Ends the response (with `body` as its last bytes) and resolves once it is flushed; rejects
   * with `client-gone` when the connection closes first.
   */
  end(body?: string | Buffer): Promise<void>;
  /**
   * Aborts the response: HTTP/1.1 closes the connection (the client sees a short body or a
   * missing last chunk), HTTP/2 resets the stream. Either way the client sees a failure.
   */
  cut(): void;
}

export function sinkOf(res: NodeResponse): ResponseSink {
  // The two response classes share these members; TypeScript cannot call through their union.
  const r = res as ServerResponse;
  // 'close' comes after a finished response too, and then nothing more is written anyway.
  let closed = false;
  r.once('close', () => {
    closed = true;
  });
  const gone = (): boolean => closed || r.writableEnded;
  return {
    http2: 'stream' in res,
    get headersSent() {
      return r.headersSent;
    },
    get closed() {
      return closed;
    },
    writeHead(status, fields) {
      r.writeHead(status, fields);
    },
    write(b) {
      return new Promise((resolve, reject) => {
        if (gone()) {
          reject(clientGone());
          return;
        }
        // node drops the callback of a write to a socket that was destroyed before the
        // response heard of it (its 'close' comes a tick later): that 'close' settles it.
        const onClose = (): void => {
          reject(clientGone());
        };
        r.once('close', onClose);
        r.write(b, (err) => {
          r.off('close', onClose);
          if (err) reject(clientGone());
          else resolve();
        });
      });
    },
    batch(pieces) {
      let more = true;
      for (const b of pieces) more = r.write(b);
      if (more) return undefined;
      return new Promise((resolve, reject) => {
        const onDrain = (): void => {
          r.off('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          r.off('drain', onDrain);
          reject(clientGone());
        };
        r.once('drain', onDrain);
        r.once('close', onClose);
      });
    },
    addTrailers(fields) {
      r.addTrailers(fields);
    },
    end(body) {
      return new Promise((resolve, reject) => {
        if (gone()) {
          reject(clientGone());
          return;
        }
        // Closed before the response finished: the client did not get all of it.
        const onClose = (): void => {
          if (r.writableFinished) resolve();
          else reject(clientGone());
        };
        r.once('close', onClose);
        const finished = (): void => {
          r.off('close', onClose);
          resolve();
        };
        if (body === undefined) r.end(finished);
        else r.end(body, finished);
      });
    },
    cut() {
      closed = true;
      r.destroy();
    },
  };
}

function clientGone(): SecureStreamError {
  return new SecureStreamError('client-gone', 'the client closed the connection');
}
