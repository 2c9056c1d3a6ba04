/**
 * Integrity fields: `Repr-Digest` and `Want-Repr-Digest` (RFC 9530), and the legacy
 * `Want-Digest` / `Digest` pair (RFC 3230, RFC 5843) that aria2 and older tools check. The
 * server has exactly one algorithm, SHA-256, the same digest the line protocol's trailer carries.
 */

/** Media type of an encrypted response body (docs/FORMAT.md), read by `get` too. */
export const SSTREAM_TYPE = 'application/vnd.securestream.sstream-v1';
/** Response field carrying the plaintext's SHA-256 of an encrypted response, as Repr-Digest does. */
export const PLAINTEXT_DIGEST_FIELD = 'securestream-plaintext-digest';

/** Longest `Want-*` value looked at; a longer one is ignored (as if absent). */
export const MAX_WANT_FIELD = 1024;

/** `Repr-Digest` / `Content-Digest` value for a SHA-256 (lower-case hex): `sha-256=:<b64>:`. */
export function reprDigest(sha256Hex: string): string {
  return `sha-256=:${Buffer.from(sha256Hex, 'hex').toString('base64')}:`;
}

/** Legacy `Digest` value (RFC 3230 with RFC 5843's name): `SHA-256=<b64>`. */
export function legacyDigest(sha256Hex: string): string {
  return `SHA-256=${Buffer.from(sha256Hex, 'hex').toString('base64')}`;
}

/**
 * The SHA-256 (lower-case hex) in a `Repr-Digest` value, or undefined when the dictionary has
 * no well-formed `sha-256` member. For clients and tests; strict about the byte sequence.
 */
export function parseReprDigest(value: string): string | undefined {
  for (const member of value.split(',')) {
    const m = /^\s*sha-256=:([A-Za-z0-9+/]{43}=):\s*$/.exec(member);
    if (m?.[1]) return Buffer.from(m[1], 'base64').toString('hex');
  }
  return undefined;
}

/**
 * Whether `Repr-Digest` goes out. RFC 9530 §4: `Want-Repr-Digest` is a dictionary of algorithm
 * → preference 0..10, 0 meaning "not acceptable". The digest is sent on every successful
 * response unless the client said `sha-256=0`; a request for other algorithms alone still gets
 * sha-256, the only one this server computes (the RFC lets a server answer with what it has).
 */
export function wantsReprDigest(field: string | undefined): boolean {
  if (field === undefined || field.length > MAX_WANT_FIELD) return true;
  for (const member of field.split(',')) {
    const m = /^\s*([a-z0-9*_.-]+)\s*=\s*([0-9]+)\s*(?:;.*)?$/.exec(member);
    if (m?.[1] === 'sha-256' && Number(m[2]) === 0) return false;
  }
  return true;
}

/**
 * Whether to answer with a legacy `Digest: SHA-256=…` field: only when `Want-Digest`
 * (RFC 3230 §4.3.1) names SHA-256, case-insensitively, with a q-value above zero.
 */
export function wantsLegacyDigest(field: string | undefined): boolean {
  if (field === undefined || field.length > MAX_WANT_FIELD) return false;
  for (const member of field.split(',')) {
    const [name, ...params] = member.split(';').map((s) => s.trim());
    if (name?.toLowerCase() !== 'sha-256') continue;
    const q = params.find((p) => /^q\s*=/i.test(p));
    if (q === undefined) return true;
    const value = Number(q.replace(/^q\s*=\s*/i, ''));
    if (Number.isFinite(value) && value > 0) return true;
  }
  return false;
}
