/**
 * The server as the fetching commands see it: which wire it speaks, learned from the first
 * handshake (ALPN http/1.1 → HTTP/1.1 with keep-alive; securestream/1 or no ALPN answer, a
 * server from before HTTP → the line protocol, one request per connection), and the
 * connections to it. Commands ask for a connection per parallel transfer; HTTP connections are
 * kept and reused for request after request.
 */
import type { ProtocolChoice } from '../config.js';
import { WireError } from '../protocol.js';
import { connectionRefused, retry } from '../retry.js';
import { formatHostPort } from '../transport/address.js';
import { ALPN_HTTP11, ALPN_LINE, dial, type Dialed } from '../transport/dial.js';
import { HttpConnection } from '../transport/httpclient.js';
import type { TlsPem } from '../transport/tls.js';

export interface RemoteOptions {
  host: string;
  port: number;
  pem: TlsPem;
  protocol: ProtocolChoice;
  /** Retry a refused first connection for a while (`--retry-connrefused`). */
  waitForServer: boolean;
  signal?: AbortSignal | undefined;
  /** Told about each wait for the server. */
  onRetry?: (e: unknown, waitMs: number) => void;
}

/** What the server speaks, as far as this client is concerned. */
export type Wire = 'http' | 'line';

export class Remote {
  private first: Dialed | undefined;
  private readonly pool: HttpConnection[] = [];
  wire: Wire = 'line';

  private constructor(readonly opts: RemoteOptions) {}

  /**
   * Dials the first connection and learns the wire from it. Rejects as dial() does; with
   * `--protocol http` (and for `ls`), with a `no-http` refusal when the server does not speak
   * HTTP/1.1.
   */
  static async open(opts: RemoteOptions): Promise<Remote> {
    const r = new Remote(opts);
    r.first = await retry(() => r.dial(), opts.waitForServer ? connectionRefused : undefined, {
      signal: opts.signal,
      ...(opts.onRetry ? { onRetry: opts.onRetry } : {}),
    });
    r.wire = r.first.alpn === ALPN_HTTP11 ? 'http' : 'line';
    if (opts.protocol === 'http' && r.wire !== 'http') {
      r.first.socket.destroy();
      throw new WireError(
        'no-http',
        `the server at ${formatHostPort(opts.host, opts.port)} does not speak HTTP/1.1 (only the line protocol, which has no listing)`,
        'name files one by one with get, without --protocol http',
        'received',
      );
    }
    return r;
  }

  /** The TLS version and suite of the first connection. */
  get session(): { protocol: string; cipher: string } {
    return { protocol: this.first?.protocol ?? '?', cipher: this.first?.cipher ?? '?' };
  }

  /** A new connection with this command's ALPN offer. */
  dial(): Promise<Dialed> {
    // `http` offers the line protocol too, so that a server without HTTP answers and can be
    // told apart from one that refuses the handshake.
    const alpn = this.opts.protocol === '1' ? [ALPN_LINE] : [ALPN_HTTP11, ALPN_LINE];
    return dial({
      host: this.opts.host,
      port: this.opts.port,
      pem: this.opts.pem,
      alpn,
      signal: this.opts.signal,
    });
  }

  /** HTTP connection number `i` (0-based), made on first use; the first reuses the probe. */
  http(i: number): HttpConnection {
    let c = this.pool[i];
    if (!c) {
      const first = this.takeFirst();
      c = new HttpConnection({
        host: this.opts.host,
        port: this.opts.port,
        dial: () => this.dial(),
        first,
      });
      this.pool[i] = c;
    }
    return c;
  }

  /** A connection for one line-protocol request: the probe's the first time, then new ones. */
  async line(): Promise<Dialed> {
    return this.takeFirst() ?? (await this.dial());
  }

  /** Connections dialled so far over HTTP (the probe included). */
  get dials(): number {
    return this.pool.reduce((n, c) => n + c.dials, 0);
  }

  async close(): Promise<void> {
    this.first?.socket.destroy();
    this.first = undefined;
    await Promise.all(this.pool.map((c) => c.close()));
  }

  private takeFirst(): Dialed | undefined {
    const f = this.first;
    this.first = undefined;
    return f;
  }
}
