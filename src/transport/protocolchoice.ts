/**
 * Which protocol a connection speaks on the one TLS port: HTTP/2, HTTP/1.1 or the line
 * protocol (docs/PROTOCOL.md §1). Chosen by ALPN (RFC 7301) when the client offers it, else
 * from the first bytes it sends. Pure: names, suites and bytes in, a choice out.
 */

/** ALPN ID of HTTP/2 over TLS (RFC 9113 §3.2). */
export const ALPN_H2 = 'h2';
/** ALPN ID of HTTP/1.1 (RFC 7301 §6). */
export const ALPN_HTTP11 = 'http/1.1';
/** ALPN ID of securestream's line protocol, version 1 (docs/PROTOCOL.md §1.1). */
export const ALPN_LINE = 'securestream/1';

/**
 * TLS 1.2 suites that HTTP/2 forbids (RFC 9113 §9.2.2 and Appendix A): among the suites this
 * server allows, the ones without an ephemeral key exchange.
 */
const H2_FORBIDDEN_SUITES = new Set(['AES128-GCM-SHA256', 'AES256-GCM-SHA384']);

/** Whether HTTP/2 may run over a connection that negotiated `suite` (OpenSSL name). */
export function suiteAllowsH2(suite: string): boolean {
  return !H2_FORBIDDEN_SUITES.has(suite.toUpperCase());
}

/**
 * The ALPN IDs the server accepts, in its order of preference. `h2` only when at least one
 * suite of the policy allows it; without HTTP (`serve --no-http`) only the line protocol.
 */
export function serverProtocols(opts: { ciphers: readonly string[]; http: boolean }): string[] {
  if (!opts.http) return [ALPN_LINE];
  const h2 = opts.ciphers.some(suiteAllowsH2);
  return h2 ? [ALPN_H2, ALPN_HTTP11, ALPN_LINE] : [ALPN_HTTP11, ALPN_LINE];
}

/**
 * The server's choice among what the client offers (server preference), or undefined when
 * nothing matches: the handshake then fails with `no_application_protocol` (RFC 7301 §3.2).
 */
export function chooseAlpn(
  offered: readonly string[],
  accepted: readonly string[],
): string | undefined {
  return accepted.find((p) => offered.includes(p));
}

/** Longest HTTP method token looked for before deciding (RFC 9110 §9: `OPTIONS` is 7). */
const MAX_METHOD = 20;
/** Longest request-target looked for before deciding; node's header cap applies after. */
export const MAX_SNIFF_TARGET = 8192;
const VERSION = 'HTTP/d.d';

/**
 * Without ALPN, the first line decides. An HTTP/1.1 request line is `method SP target SP
 * HTTP/x.y` (RFC 9112 §3) with an origin-form (`/…`) target, or `OPTIONS *`, without spaces; anything else, `GET /etc/passwd` included, is the line protocol, which answers what it
 * cannot parse with `ERR bad-request` as it always did. A line-protocol name may contain
 * spaces, but never starts with `/` (absolute names are refused), so a valid line-protocol
 * request is never taken for HTTP. Returns undefined while the bytes so far could be either.
 */
export function classifyFirstBytes(buf: Buffer): 'http/1.1' | 'line' | undefined {
  let i = 0;
  while (i < buf.length && isTchar(buf[i] as number)) {
    if (++i > MAX_METHOD) return 'line';
  }
  if (i === buf.length) return undefined;
  if (i === 0 || buf[i] !== 0x20) return 'line';
  i++;
  if (i === buf.length) return undefined;
  // Asterisk-form belongs to OPTIONS alone (RFC 9112 §3.2.4): `GET * HTTP/1.1` may be a name.
  const asterisk = buf[i] === 0x2a && buf.toString('latin1', 0, i - 1) === 'OPTIONS';
  if (buf[i] !== 0x2f && !asterisk) return 'line';
  const targetStart = i;
  while (i < buf.length && buf[i] !== 0x20) {
    const c = buf[i] as number;
    if (c < 0x21 || c === 0x7f) return 'line';
    if (++i - targetStart > MAX_SNIFF_TARGET) return 'http/1.1';
  }
  if (i === buf.length) return undefined;
  i++;
  for (let k = 0; k < VERSION.length; k++, i++) {
    if (i === buf.length) return undefined;
    const c = buf[i] as number;
    const want = VERSION.charCodeAt(k);
    const ok = want === 0x64 ? c >= 0x30 && c <= 0x39 : c === want;
    if (!ok) return 'line';
  }
  if (i === buf.length) return undefined;
  if (buf[i] === 0x0a) return 'http/1.1';
  if (buf[i] !== 0x0d) return 'line';
  if (i + 1 === buf.length) return undefined;
  return buf[i + 1] === 0x0a ? 'http/1.1' : 'line';
}

/** RFC 9110 §5.6.2 tchar. */
function isTchar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))
  );
}
