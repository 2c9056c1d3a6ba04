/**
 * Validators and conditional requests (RFC 9110 §8.8, §13). The entity tag of a file is
 * derived from its SHA-256 alone, so every server holding the same bytes gives the same strong
 * ETag and a client may resume from any of them. Pure: values in, verdict out.
 */

/** Longest conditional field value looked at; longer ones are treated as matching nothing. */
export const MAX_CONDITION_FIELD = 8192;

/** The strong entity tag of the bytes whose SHA-256 is `hex`: `"sha256-<64 hex>"`. */
export function etagOf(sha256Hex: string): string {
  return `"sha256-${sha256Hex}"`;
}

/** The SHA-256 a tag made by etagOf stands for, or undefined for any other tag. */
export function sha256OfEtag(tag: string): string | undefined {
  return /^"sha256-([0-9a-f]{64})"$/.exec(tag)?.[1];
}

/** What a request's conditional fields are, as the client sent them. */
export interface Conditions {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
}

/** The validators of the selected representation; `etag` is absent when it has none. */
export interface Validators {
  etag?: string | undefined;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
}

/** What to answer: go on, 304 Not Modified, or 412 Precondition Failed. */
export type ConditionVerdict = 'proceed' | 'not-modified' | 'precondition-failed';

/**
 * Evaluates the preconditions of a GET or HEAD in the order of RFC 9110 §13.2.2:
 * If-Match, else If-Unmodified-Since; then If-None-Match, else If-Modified-Since.
 * If-Match compares strongly, If-None-Match weakly (§8.8.3.2).
 */
export function evaluateConditions(c: Conditions, v: Validators): ConditionVerdict {
  if (c.ifMatch !== undefined) {
    if (!listMatches(c.ifMatch, v.etag, 'strong')) return 'precondition-failed';
  } else if (c.ifUnmodifiedSince !== undefined) {
    const date = parseHttpDate(c.ifUnmodifiedSince);
    if (date !== undefined && seconds(v.mtimeMs) > date) return 'precondition-failed';
  }
  if (c.ifNoneMatch !== undefined) {
    if (listMatches(c.ifNoneMatch, v.etag, 'weak')) return 'not-modified';
  } else if (c.ifModifiedSince !== undefined) {
    const date = parseHttpDate(c.ifModifiedSince);
    if (date !== undefined && seconds(v.mtimeMs) <= date) return 'not-modified';
  }
  return 'proceed';
}

/**
 * Whether a Range may be honoured under `If-Range` (RFC 9110 §13.1.5): with an entity tag, only
 * when it matches the current strong ETag; with a date, only when it equals Last-Modified
 * exactly. Anything else (weak tag, stale tag, bad date) means "send the whole thing".
 */
export function ifRangeHolds(field: string | undefined, v: Validators): boolean {
  if (field === undefined) return true;
  const value = field.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    return v.etag !== undefined && !value.startsWith('W/') && value === v.etag;
  }
  const date = parseHttpDate(value);
  return date !== undefined && date === seconds(v.mtimeMs);
}

/** `Last-Modified` / `Date` format (IMF-fixdate, RFC 9110 §5.6.7). */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * An HTTP-date in seconds since the epoch, or undefined. IMF-fixdate is what senders must use;
 * the obsolete RFC 850 and asctime forms are accepted as §5.6.7 asks of recipients.
 */
export function parseHttpDate(text: string): number | undefined {
  const t = text.trim();
  if (t.length > 64) return undefined;
  const imf = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
  const rfc850 = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
  const asctime = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;
  if (!imf.test(t) && !rfc850.test(t) && !asctime.test(t)) return undefined;
  const ms = Date.parse(asctime.test(t) ? `${t} GMT` : t);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** `*` or a comma-separated list of entity tags, compared with `etag`. */
function listMatches(field: string, etag: string | undefined, how: 'strong' | 'weak'): boolean {
  if (field.length > MAX_CONDITION_FIELD || etag === undefined) return false;
  if (field.trim() === '*') return true;
  for (const tag of splitTags(field)) {
    const weak = tag.startsWith('W/');
    if (how === 'strong' && weak) continue;
    if ((weak ? tag.slice(2) : tag) === etag) return true;
  }
  return false;
}

/** Entity tags of a list; a comma inside a quoted tag does not split it (§8.8.3). */
function splitTags(field: string): string[] {
  return field.match(/(?:W\/)?"[^"]*"/g) ?? [];
}
