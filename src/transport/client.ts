/**
 * The line protocol on the fetching side: over a dialled socket (dial.ts), send `GET` and hand
 * back the response head with a body stream that ends only once the trailer has verified and
 * the server has closed (v1: one request per connection). What the bytes become (a file,
 * standard output, plaintext) is the caller's business: nothing here touches the file system.
 * Parsing is ResponseParser's, the completeness verdict DownloadCheck's.
 */
import { Readable } from 'node:stream';
import { SecureStreamError, errnoCode } from '../errors.js';
import { WireError, encodeRequest, folderPattern, type Mode, type Trailer } from '../protocol.js';
import type { Dialed } from './dial.js';
import { received } from '../scavenge.js';
import { explainClientError, rejectedOurCertificate } from './explain.js';
import { ResponseParser } from './response.js';

/** What to fetch, and how long to wait. */
export interface RequestOptions {
  /** A name that passed `checkName`; sent as is. */
  name: string;
  /** No byte from the server for this long, in ms, fails the transfer (default 60 000). */
  idleTimeoutMs?: number;
  /** Aborts the request (e.g. on SIGINT) with the error `interrupted`. */
  signal?: AbortSignal | undefined;
}

/** An `OK` response: its head, and its body as it arrives. */
export interface Response {
  /** Body length in bytes, from the header. */
  length: number;
  mode: Mode;
  /** Negotiated TLS version and suite, as OpenSSL names them. */
  protocol: string;
  cipher: string;
  body: ResponseBody;
}

/**
 * The body bytes of a response (ciphertext in sstream-v1). It ends only after the trailer's
 * digest has matched every byte and the server has closed; any failure (truncation, digest
 * mismatch, extra bytes, reset, timeout, abort) destroys it with a SecureStreamError instead.
 * Destroying it closes the connection.
 */
export class ResponseBody extends Readable {
  /** The verified trailer; set before the stream ends. */
  trailer: Trailer | undefined;

  constructor(private readonly resumeSource: () => void) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _read(): void {
    this.resumeSource();
  }
}

/**
 * Sends `GET <name>` on `dialed.socket` and resolves with the response once its header has
 * arrived. Rejects with a WireError when the server refused (exit class `refused`), with
 * `tls-client-rejected` when the server hung up before answering, and with `truncated`,
 * `timeout`, `protocol` or `interrupted` otherwise. The socket is the request's: it is
 * destroyed on any failure.
 */
export function lineRequest(dialed: Dialed, opts: RequestOptions): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const { socket, ctx } = dialed;
    const parser = new ResponseParser();
    let body: ResponseBody | undefined;
    let settled = false;

    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const err =
        e instanceof SecureStreamError
          ? e
          : new SecureStreamError('truncated', (e as Error).message, undefined, { cause: e });
      if (body) body.destroy(err);
      else reject(err);
    };
    const idleMs = opts.idleTimeoutMs ?? 60_000;
    socket.setTimeout(idleMs, () => {
      fail(new SecureStreamError('timeout', `the server sent nothing for ${idleMs} ms`));
    });

    const onAbort = (): void => {
      fail(new SecureStreamError('interrupted', 'interrupted before the transfer completed'));
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
    socket.on('error', (e: Error) => {
      // Once the server has started answering, it accepted our certificate: a reset now is a
      // broken transfer, not a handshake problem.
      if (parser.started) {
        fail(
          new SecureStreamError(
            'truncated',
            `the connection broke after ${parser.received} of ${parser.length} bytes (${errnoCode(e) ?? e.message})`,
            'the server stopped or the network failed; try again',
          ),
        );
        return;
      }
      fail(explainClientError(e, ctx));
    });

    socket.on('data', (chunk: Buffer) => {
      received(chunk.length);
      try {
        for (const ev of parser.push(chunk)) {
          if (settled) return;
          switch (ev.type) {
            case 'head':
              body = new ResponseBody(() => socket.resume());
              body.once('close', () => {
                if (!body?.readableEnded) fail(body?.errored ?? interrupted());
              });
              resolve({
                length: ev.length,
                mode: ev.mode,
                protocol: dialed.protocol,
                cipher: dialed.cipher,
                body,
              });
              break;
            case 'refusal':
              fail(refused(opts.name, ev.code, ev.message));
              return;
            case 'body':
              if (body && !body.push(ev.data)) socket.pause();
              break;
            case 'end':
              if (body) body.trailer = ev.trailer;
              break;
          }
        }
      } catch (e) {
        fail(e);
      }
    });

    socket.once('end', () => {
      if (settled) return;
      if (!parser.started) {
        fail(rejectedOurCertificate(ctx));
        return;
      }
      try {
        parser.finish();
      } catch (e) {
        fail(e);
        return;
      }
      settled = true;
      body?.push(null);
    });
    socket.once('close', () => {
      if (!settled) {
        fail(
          new SecureStreamError(
            'truncated',
            `the connection closed after ${parser.received} of ${parser.length} bytes`,
          ),
        );
      }
    });
    socket.write(encodeRequest(opts.name));
  });
}

function interrupted(): SecureStreamError {
  return new SecureStreamError('interrupted', 'the response body was abandoned');
}

/**
 * A refusal as the user sees it, whatever the wire (an `ERR` line, an HTTP error status): the
 * name asked for, the code as sent, a hint if known. Exit class `refused`.
 */
export function refused(name: string, code: string, message: string): WireError {
  const hints: Record<string, string> = {
    'not-found': "check the name; it is relative to the server's root",
    // Sent for a folder as for anything else refused: the hint reveals nothing more than that.
    forbidden: `the name is outside the served root, not a regular file, or not allowed for this certificate; for the files of a folder, use a pattern: ${folderPattern(name)}`,
    busy: 'the server is at its connection limit; try again shortly',
    'file-changed': 'the file changed while the server read it; try again',
    'unsupported-key': 'use a client certificate with an RSA (2048+) or EC P-256/P-384 key',
    'bad-request': 'the name is malformed (control characters, empty or too long)',
  };
  return new WireError(
    code,
    `the server refused "${name}": ${code}${message ? ` (${message})` : ''}`,
    hints[code],
    'received',
  );
}
