/**
 * The server's reading of a request (docs/PROTOCOL.md §2.1), as bytes in and a request or a
 * violation out: it knows nothing of sockets or timers, so tests drive it byte by byte. The
 * line cap is checked here and only here.
 */
import { MAX_REQUEST_LINE, WireError, parseRequestLine } from '../protocol.js';

/** What a slice of input completes. */
export type RequestEvent =
  /** `GET <name>`, the name syntactically checked (confinement is the session's job). */
  | { type: 'request'; name: string }
  /** The client broke the protocol; the error's wire code is what it is told. */
  | { type: 'violation'; error: WireError };

/**
 * Reads one request line and then expects silence: PROTOCOL-v1 allows no byte after the LF,
 * so any later byte, however late it arrives, is a violation. After a violation the reader
 * reports nothing more.
 */
export class RequestReader {
  private parts: Buffer[] = [];
  private length = 0;
  private state: 'line' | 'read' | 'failed' = 'line';

  constructor(private readonly maxLine = MAX_REQUEST_LINE) {}

  /** True once any byte has arrived. */
  get started(): boolean {
    return this.length > 0 || this.state !== 'line';
  }

  /** Feeds bytes; returns the event they complete, if any. */
  push(chunk: Buffer): RequestEvent | undefined {
    if (chunk.length === 0 || this.state === 'failed') return undefined;
    if (this.state === 'read') return this.fail('data after the request line');
    const lf = chunk.indexOf(0x0a);
    // The cap counts the LF: without one yet, a line of maxLine bytes can no longer fit.
    if (this.length + (lf < 0 ? chunk.length + 1 : lf + 1) > this.maxLine) {
      return this.fail('request line too long');
    }
    if (lf < 0) {
      this.parts.push(chunk);
      this.length += chunk.length;
      return undefined;
    }
    if (lf !== chunk.length - 1) return this.fail('data after the request line');
    this.parts.push(chunk.subarray(0, lf));
    this.length += lf + 1;
    const line = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    this.parts = [];
    try {
      const name = parseRequestLine(line);
      this.state = 'read';
      return { type: 'request', name };
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.state = 'failed';
      return { type: 'violation', error: e };
    }
  }

  /** The input ended: a violation unless a request was read (or one was already reported). */
  end(): RequestEvent | undefined {
    if (this.state !== 'line') return undefined;
    return this.fail('connection closed before a complete request line');
  }

  private fail(message: string): RequestEvent {
    this.state = 'failed';
    this.parts = [];
    return { type: 'violation', error: new WireError('bad-request', message) };
  }
}
