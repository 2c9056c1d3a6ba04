/**
 * The client's reading of one response (docs/PROTOCOL.md §2.2–§3), as bytes in and events out:
 * it knows nothing of sockets or files, so tests drive it whole, in slices and byte by byte.
 * Every cap on what the server sends is enforced here and nowhere else.
 */
import { SecureStreamError } from '../errors.js';
import {
  MAX_RESPONSE_LINE,
  MAX_TRAILER_LINE,
  parseResponseHeader,
  parseTrailer,
  type Mode,
  type Trailer,
} from '../protocol.js';
import { DownloadCheck } from './integrity.js';

/** What a slice of a response completes, in wire order. */
export type ResponseEvent =
  /** `OK <length> <mode>`: `length` body bytes follow. */
  | { type: 'head'; length: number; mode: Mode }
  /** `ERR <code> <message>`: the code as sent, also one this version does not know. */
  | { type: 'refusal'; code: string; message: string }
  /** Body bytes, a view of the pushed chunk (not a copy). */
  | { type: 'body'; data: Buffer }
  /** The trailer, whose first digest has been found equal to the SHA-256 of the body. */
  | { type: 'end'; trailer: Trailer };

/** Line caps in bytes, LF included (PROTOCOL-v1 §2.2). */
export interface ResponseCaps {
  headerLine: number;
  trailerLine: number;
}

const DEFAULT_CAPS: ResponseCaps = {
  headerLine: MAX_RESPONSE_LINE,
  trailerLine: MAX_TRAILER_LINE,
};

type State = 'header' | 'body' | 'trailer' | 'done' | 'refused';

/**
 * Parses one response: header line, exactly `length` body bytes, trailer line, nothing after.
 * `push` returns the events a chunk completes and throws a SecureStreamError (`protocol`,
 * `digest-mismatch`) at the first violation; `finish` says at end of stream whether the
 * response was complete (`truncated`, `protocol`). Counting, hashing and the verdict are
 * DownloadCheck's, shared with the HTTP path. Bytes after an `ERR` line are not read: the
 * refusal is the answer. `reset` readies the parser for a next response on the same
 * connection.
 */
export class ResponseParser {
  private state: State = 'header';
  private line: Buffer[] = [];
  private lineLength = 0;
  private check = new DownloadCheck(0);
  private mode: Mode = 'plain';
  private seen = false;

  constructor(private readonly caps: ResponseCaps = DEFAULT_CAPS) {}

  /** True once any byte of the response has arrived. */
  get started(): boolean {
    return this.seen;
  }

  /** True once the trailer has verified (or a refusal arrived): the response is whole. */
  get complete(): boolean {
    return this.state === 'done' || this.state === 'refused';
  }

  /** Body bytes received so far. */
  get received(): number {
    return this.check.received;
  }

  /** The body length the header announced (0 before the header). */
  get length(): number {
    return this.check.length;
  }

  /** Feeds the next bytes of the response. */
  push(chunk: Buffer): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    if (chunk.length > 0) this.seen = true;
    let rest = chunk;
    while (rest.length > 0) {
      switch (this.state) {
        case 'header':
          rest = this.takeLine(rest, this.caps.headerLine, 'response header', (l) => {
            this.onHeader(l, events);
          });
          break;
        case 'body': {
          const take = Math.min(this.check.length - this.check.received, rest.length);
          const data = take === rest.length ? rest : rest.subarray(0, take);
          this.check.add(data);
          events.push({ type: 'body', data });
          if (this.check.full) this.state = 'trailer';
          rest = rest.subarray(take);
          break;
        }
        case 'trailer':
          rest = this.takeLine(rest, this.caps.trailerLine, 'trailer', (l) => {
            events.push({ type: 'end', trailer: this.onTrailer(l) });
          });
          break;
        case 'done':
          throw protocol('extra bytes after the trailer');
        case 'refused':
          return events;
      }
    }
    return events;
  }

  /** At end of stream: throws unless the response was complete. */
  finish(): void {
    switch (this.state) {
      case 'done':
        this.check.end();
        return;
      case 'refused':
        return;
      case 'header':
        throw protocol(
          this.seen
            ? 'the connection closed in the middle of the response header'
            : 'the connection closed before any response',
        );
      case 'body':
      case 'trailer':
        throw this.check.truncated(
          'the connection closed',
          'the server stopped or the file changed while it was sent; try again',
          this.state === 'trailer' ? ' (no trailer)' : '',
        );
    }
  }

  /** Forgets the response so far, ready for the next one. */
  reset(): void {
    this.state = 'header';
    this.line = [];
    this.lineLength = 0;
    this.check = new DownloadCheck(0);
    this.mode = 'plain';
    this.seen = false;
  }

  /** Collects a line up to its cap; calls `done` with it (LF excluded) once complete. */
  private takeLine(chunk: Buffer, cap: number, what: string, done: (line: Buffer) => void): Buffer {
    const lf = chunk.indexOf(0x0a);
    const part = lf < 0 ? chunk : chunk.subarray(0, lf);
    this.lineLength += part.length;
    if (this.lineLength + (lf < 0 ? 0 : 1) > cap)
      throw protocol(`${what} longer than ${cap} bytes`);
    if (lf < 0) {
      this.line.push(part);
      return chunk.subarray(chunk.length);
    }
    const line = this.line.length === 0 ? part : Buffer.concat([...this.line, part]);
    this.line = [];
    this.lineLength = 0;
    done(line);
    return chunk.subarray(lf + 1);
  }

  private onHeader(line: Buffer, events: ResponseEvent[]): void {
    const h = parseResponseHeader(line);
    if (h.kind === 'err') {
      this.state = 'refused';
      events.push({ type: 'refusal', code: h.code, message: h.message });
      return;
    }
    this.check = new DownloadCheck(h.length);
    this.mode = h.mode;
    this.state = h.length === 0 ? 'trailer' : 'body';
    events.push({ type: 'head', length: h.length, mode: h.mode });
  }

  private onTrailer(line: Buffer): Trailer {
    const trailer = parseTrailer(line, this.mode);
    this.check.expect(trailer.bodySha256, "the server's trailer");
    this.state = 'done';
    return trailer;
  }
}

function protocol(message: string): SecureStreamError {
  return new SecureStreamError('protocol', message);
}
