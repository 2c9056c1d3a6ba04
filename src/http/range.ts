/**
 * Byte ranges (RFC 9110 §14): the `Range` request field and the `Content-Range` response field.
 * Pure: takes the field value and the representation's size, returns what to send.
 */

/** Longest `Range` value looked at; anything longer is ignored (served as a full 200). */
export const MAX_RANGE_FIELD = 1024;

/** An inclusive byte interval of the representation, as `Content-Range` states it. */
export interface ByteRange {
  /** First byte's offset. */
  start: number;
  /** Last byte's offset (inclusive): `end - start + 1` bytes are sent. */
  end: number;
}

export type RangeVerdict =
  /** No usable range: send the whole representation with 200. */
  | { kind: 'full' }
  /** Exactly one satisfiable range: 206 with `Content-Range: bytes start-end/size`. */
  | { kind: 'partial'; range: ByteRange }
  /** A well-formed set of which no range overlaps the representation: 416. */
  | { kind: 'unsatisfiable' };

const DIGITS = /^[0-9]{1,16}$/;

/**
 * Evaluates `Range` for a representation of `size` bytes (RFC 9110 §14.1.2, §14.2).
 *
 * - Only the `bytes` unit is known; another unit, a malformed value or one longer than
 *   MAX_RANGE_FIELD is ignored (§14.2: a server MAY ignore Range) and gives `full`.
 * - A set of several ranges is answered in full: this server never sends multipart/byteranges,
 *   which none of the clients it serves needs. A set whose ranges are all unsatisfiable is 416.
 * - `first-last` with last beyond the end is clamped; `-N` is the last N bytes (the whole
 *   representation when it is shorter); `-0` and a first-pos at or past the end are
 *   unsatisfiable. An empty representation has no byte to range over, so ranges on it are
 *   ignored and the (empty) whole is sent.
 */
export function evaluateRange(field: string | undefined, size: number): RangeVerdict {
  if (field === undefined || field.length > MAX_RANGE_FIELD) return { kind: 'full' };
  const m = /^bytes=(.*)$/i.exec(field.trim());
  if (!m || m[1] === undefined) return { kind: 'full' };
  const specs = m[1].split(',').map((s) => s.trim());
  const ranges: ByteRange[] = [];
  let wellFormed = 0;
  for (const spec of specs) {
    if (spec === '') continue; // §5.6.1: empty list elements are ignored
    const parsed = parseSpec(spec, size);
    if (parsed === 'malformed') return { kind: 'full' };
    wellFormed++;
    if (parsed !== 'unsatisfiable') ranges.push(parsed);
  }
  if (wellFormed === 0 || size === 0) return { kind: 'full' };
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  const [only] = ranges;
  if (ranges.length > 1 || !only) return { kind: 'full' };
  return { kind: 'partial', range: only };
}

function parseSpec(spec: string, size: number): ByteRange | 'malformed' | 'unsatisfiable' {
  const dash = spec.indexOf('-');
  if (dash < 0) return 'malformed';
  const first = spec.slice(0, dash);
  const last = spec.slice(dash + 1);
  if (first === '') {
    if (!DIGITS.test(last)) return 'malformed';
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  if (!DIGITS.test(first) || (last !== '' && !DIGITS.test(last))) return 'malformed';
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (end < start) return 'malformed';
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** `Content-Range` of a 206: `bytes 0-99/1000`. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** `Content-Range` of a 416: `bytes *\/1000` (RFC 9110 §15.5.17). */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}
