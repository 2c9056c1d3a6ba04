/**
 * What the fetching side reads from an HTTP response head (RFC 9110): Content-Range, the
 * entity tag, Repr-Digest (RFC 9530), the media type of an encrypted body, and a refusal's
 * status and body turned into the line protocol's refusal codes (docs/PROTOCOL.md). Pure:
 * field values in, values or typed errors out.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { SecureStreamError } from '../errors.js';
import { SSTREAM_TYPE, parseReprDigest } from '../http/digestfields.js';
export { PLAINTEXT_DIGEST_FIELD, SSTREAM_TYPE } from '../http/digestfields.js';
import type { Mode, WireError } from '../protocol.js';
import { refused } from '../transport/client.js';

/** Longest refusal body read for its code; the server's are one short line. */
export const MAX_REFUSAL_BODY = 1024;

/** A header field as one string (undici gives repeated fields as an array). */
export function field(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The body's mode from its media type. */
export function modeOf(h: IncomingHttpHeaders): Mode {
  const type = field(h, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  return type === SSTREAM_TYPE ? 'sstream-v1' : 'plain';
}

/** The SHA-256 (lower-case hex) in a `Repr-Digest` value, or undefined when it has none. */
export function sha256OfDigestField(value: string | undefined): string | undefined {
  return value === undefined || value.length > MAX_DIGEST_FIELD
    ? undefined
    : parseReprDigest(value);
}

/** Longest Repr-Digest value looked at. */
export const MAX_DIGEST_FIELD = 4096;

/** A strong entity tag (RFC 9110 §8.8.3), or undefined for a weak, malformed or absent one. */
export function strongEtag(h: IncomingHttpHeaders): string | undefined {
  const tag = field(h, 'etag')?.trim();
  return tag !== undefined && /^"[\x21\x23-\x7e]{1,200}"$/.test(tag) ? tag : undefined;
}

/** `Content-Length` as a byte count, or undefined (chunked). */
export function contentLength(h: IncomingHttpHeaders): number | undefined {
  const v = field(h, 'content-length');
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,16}$/.test(v))
    throw new SecureStreamError('protocol', `bad Content-Length "${v}"`);
  return Number(v);
}

/** `Content-Range: bytes first-last/complete` of a 206 (RFC 9110 §14.4). */
export interface ContentRange {
  start: number;
  /** Inclusive. */
  end: number;
  /** The whole representation's length. */
  size: number;
}

export function contentRange(h: IncomingHttpHeaders): ContentRange {
  const v = field(h, 'content-range') ?? '';
  const m = /^bytes ([0-9]{1,16})-([0-9]{1,16})\/([0-9]{1,16})$/.exec(v.trim());
  const [start, end, size] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])];
  if (!m || !(start <= end && end < size)) {
    throw new SecureStreamError(
      'protocol',
      `bad Content-Range "${v.slice(0, 80)}" in a 206 response`,
    );
  }
  return { start, end, size };
}

/** Refusal codes by status, when the body does not name one. */
const CODE_OF_STATUS: Record<number, string> = {
  400: 'bad-request',
  403: 'forbidden',
  404: 'not-found',
  503: 'busy',
  500: 'internal',
};

/**
 * A refusal as the line protocol's client reports one (exit class `refused`): the code is
 * the first word of the server's one-line body (`forbidden: access denied`), else derived from
 * the status.
 */
export function refusalOf(name: string, status: number, body: string): WireError {
  const line = body.split('\n')[0] ?? '';
  const m = /^([a-z0-9-]{1,40}): ?(.*)$/.exec(line);
  const code = m?.[1] ?? CODE_OF_STATUS[status] ?? `http-${status}`;
  const message = (m?.[2] ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  return refused(name, code, message);
}
