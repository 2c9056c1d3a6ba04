/**
 * The fetching side: dial, verify the server, send `GET`, store the body through a temporary
 * file and keep it only when header, length, trailer digest and a clean close all check out.
 */
import { createHash, type Hash } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import type { Transform, Writable } from 'node:stream';
import { AtomicFile } from '../atomic.js';
import { SecureStreamError } from '../errors.js';
import {
  MAX_RESPONSE_LINE,
  MAX_TRAILER_LINE,
  encodeRequest,
  parseResponseHeader,
  parseTrailer,
  type Mode,
  type Trailer,
  WireError,
} from '../protocol.js';
import { explainClientError, rejectedOurCertificate, type DialContext } from './explain.js';
import { FileSink } from '../filesink.js';
import { clientTlsOptions, type TlsPem } from './tls.js';

export interface FetchOptions {
  host: string;
  port: number;
  pem: TlsPem;
  name: string;
  outPath: string;
  /** Where an `sstream-v1` body that is stored undecrypted goes instead (e.g. NAME.sst). */
  encryptedOutPath?: string;
  /**
   * For `sstream-v1` bodies: the stream the body goes through before the file. A verifying
   * stream passes ciphertext through (`decrypts: false`); a decrypting one emits plaintext.
   */
  decoderFor?: (mode: Mode) => { stream: Transform; decrypts: boolean } | undefined;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  onSecure?: (info: { protocol: string; cipher: string }) => void;
  onHeader?: (length: number, mode: Mode) => void;
  onProgress?: (received: number) => void;
  /** Aborts the transfer (e.g. on SIGINT): the temporary file is removed, nothing is kept. */
  signal?: AbortSignal;
}

export interface FetchResult {
  path: string;
  mode: Mode;
  /** Body bytes received (ciphertext in sstream-v1). */
  bytes: number;
  /** SHA-256 of the bytes stored at `path`. */
  sha256: string;
  trailer: Trailer;
  decrypted: boolean;
  protocol: string;
  cipher: string;
}

/** Downloads one file; on any failure nothing is left at (or changed at) `outPath`. */
export async function fetchFile(opts: FetchOptions): Promise<FetchResult> {
  const file = await AtomicFile.create(opts.outPath, { signal: opts.signal });
  try {
    const result = await transfer(opts, file);
    const path =
      result.mode === 'sstream-v1' && !result.decrypted && opts.encryptedOutPath
        ? opts.encryptedOutPath
        : opts.outPath;
    await file.commit(path);
    return { ...result, path };
  } catch (e) {
    await file.abort();
    throw e;
  }
}

type State = 'header' | 'body' | 'trailer' | 'done';

function transfer(opts: FetchOptions, file: AtomicFile): Promise<FetchResult> {
  return new Promise<FetchResult>((resolve, reject) => {
    const ctx: DialContext = { host: opts.host, port: opts.port, handshakeDone: false };
    const socket: TLSSocket = connect(clientTlsOptions(opts.pem, opts.host, opts.port));
    const sink = new FileSink(file.handle, opts.outPath);
    let entry: Writable = sink;
    let decrypts = false;
    let state: State = 'header';
    let line: Buffer[] = [];
    let lineLen = 0;
    /** Once the server has sent any byte of its answer, it had accepted our certificate. */
    const answered = (): boolean => state !== 'header' || lineLen > 0;
    let length = 0;
    let received = 0;
    let mode: Mode = 'plain';
    let trailer: Trailer | undefined;
    const bodyHash = createHash('sha256');
    let storedHash: Hash | undefined; // plaintext hash, only when decrypting
    let settled = false;
    const session = { protocol: '?', cipher: '?' };

    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      socket.destroy();
      entry.destroy();
      sink.destroy();
      reject(e instanceof SecureStreamError ? e : explainClientError(e as Error, ctx));
    };
    const connectTimer = setTimeout(() => {
      fail(
        new SecureStreamError(
          'connect-failed',
          `no TLS session with ${opts.host}:${opts.port} within ${opts.connectTimeoutMs ?? 30_000} ms`,
        ),
      );
    }, opts.connectTimeoutMs ?? 30_000);
    socket.setTimeout(opts.idleTimeoutMs ?? 60_000, () => {
      fail(
        new SecureStreamError(
          'timeout',
          `the server sent nothing for ${opts.idleTimeoutMs ?? 60_000} ms`,
        ),
      );
    });

    const onAbort = (): void => {
      fail(new SecureStreamError('interrupted', 'interrupted before the transfer completed'));
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
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
      clearTimeout(connectTimer);
      ctx.handshakeDone = true;
      session.protocol = socket.getProtocol() ?? '?';
      session.cipher = socket.getCipher().name;
      opts.onSecure?.(session);
      socket.write(encodeRequest(opts.name));
    });
    socket.on('error', (e: Error) => {
      // Once the server has started answering, it accepted our certificate: a reset now is a
      // broken transfer, not a handshake problem.
      if (answered()) {
        fail(
          new SecureStreamError(
            'truncated',
            `the connection broke after ${received} of ${length} bytes (${(e as { code?: string }).code ?? e.message})`,
            'the server stopped or the network failed; try again',
          ),
        );
        return;
      }
      fail(e);
    });
    sink.on('error', fail);

    const takeLine = (chunk: Buffer, cap: number, what: string): [Buffer | undefined, Buffer] => {
      const lf = chunk.indexOf(0x0a);
      const part = lf < 0 ? chunk : chunk.subarray(0, lf);
      lineLen += part.length;
      if (lineLen + (lf < 0 ? 0 : 1) > cap) throw protocol(`${what} longer than ${cap} bytes`);
      line.push(part);
      if (lf < 0) return [undefined, Buffer.alloc(0)];
      const full = Buffer.concat(line);
      line = [];
      lineLen = 0;
      return [full, chunk.subarray(lf + 1)];
    };

    const onHeader = (raw: Buffer): void => {
      const h = parseResponseHeader(raw);
      if (h.kind === 'err') throw refused(opts.name, h.code, h.message);
      length = h.length;
      mode = h.mode;
      if (mode === 'sstream-v1') {
        const dec = opts.decoderFor?.(mode);
        if (dec) {
          entry = dec.stream;
          decrypts = dec.decrypts;
          if (decrypts) storedHash = createHash('sha256');
          dec.stream.on('error', fail);
          dec.stream.on('data', (b: Buffer) => storedHash?.update(b));
          dec.stream.pipe(sink);
          entry.on('drain', () => socket.resume());
        }
      }
      opts.onHeader?.(length, mode);
      state = length === 0 ? 'trailer' : 'body';
    };

    const onBody = (chunk: Buffer): Buffer => {
      const take = Math.min(length - received, chunk.length);
      const part = take === chunk.length ? chunk : chunk.subarray(0, take);
      bodyHash.update(part);
      received += take;
      if (!entry.write(part)) socket.pause();
      opts.onProgress?.(received);
      if (received === length) state = 'trailer';
      return chunk.subarray(take);
    };

    socket.on('data', (chunk: Buffer) => {
      try {
        while (chunk.length > 0 && !settled) {
          if (state === 'header') {
            const [raw, rest] = takeLine(chunk, MAX_RESPONSE_LINE, 'response header');
            chunk = rest;
            if (raw) onHeader(raw);
          } else if (state === 'body') {
            chunk = onBody(chunk);
          } else if (state === 'trailer') {
            const [raw, rest] = takeLine(chunk, MAX_TRAILER_LINE, 'trailer');
            chunk = rest;
            if (raw) {
              trailer = parseTrailer(raw, mode);
              state = 'done';
            }
          } else {
            throw protocol('extra bytes after the trailer');
          }
        }
      } catch (e) {
        fail(e);
      }
    });
    sink.on('drain', () => {
      if (entry === sink) socket.resume();
    });

    socket.once('end', () => {
      if (settled) return;
      if (state !== 'done' || !trailer) {
        fail(
          state === 'body' || state === 'trailer'
            ? new SecureStreamError(
                'truncated',
                `the connection closed after ${received} of ${length} bytes${state === 'trailer' ? ' (no trailer)' : ''}`,
                'the server stopped or the file changed while it was sent; try again',
              )
            : answered()
              ? protocol('the connection closed in the middle of the response header')
              : rejectedOurCertificate(ctx),
        );
        return;
      }
      const t = trailer;
      const bodySha = bodyHash.digest('hex');
      if (bodySha !== t.bodySha256) {
        fail(
          new SecureStreamError(
            'digest-mismatch',
            `the received bytes have SHA-256 ${bodySha}, the server's trailer says ${t.bodySha256}`,
          ),
        );
        return;
      }
      sink.once('finish', () => {
        if (settled) return;
        const stored = storedHash ? storedHash.digest('hex') : bodySha;
        if (decrypts && stored !== t.plaintextSha256) {
          fail(
            new SecureStreamError(
              'digest-mismatch',
              `the decrypted file has SHA-256 ${stored}, the server's trailer says ${t.plaintextSha256 ?? '(none)'}`,
            ),
          );
          return;
        }
        settled = true;
        resolve({
          path: opts.outPath,
          mode,
          bytes: received,
          sha256: stored,
          trailer: t,
          decrypted: decrypts,
          ...session,
        });
        socket.destroy();
      });
      entry.end();
    });
    socket.once('close', () => {
      if (!settled && state !== 'done')
        fail(
          new SecureStreamError(
            'truncated',
            `the connection closed after ${received} of ${length} bytes`,
          ),
        );
    });
  });
}

function refused(name: string, code: string, message: string): WireError {
  const hints: Record<string, string> = {
    'not-found': "check the name; it is relative to the server's root",
    forbidden:
      'the name is outside the served root, not a regular file, or not allowed for this certificate',
    busy: 'the server is at its connection limit; try again shortly',
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

function protocol(message: string): SecureStreamError {
  return new SecureStreamError('protocol', message);
}
