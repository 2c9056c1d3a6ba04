/**
 * A strict DER reader and writer (ITU-T X.690 section 10), for the parts of X.509 where a
 * general ASN.1 library is too slow or refuses the size: CRLs with 100,000 entries and more.
 * The reader walks a buffer without copying; every length is checked against its parent.
 */

/** Universal tags used by X.509 (X.690 section 8). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific constructed tag [n], as EXPLICIT tagging writes it. */
export function contextTag(n: number): number {
  return 0xa0 | n;
}

/** One element: its tag byte and where its header, content and end lie in the buffer. */
export interface DerElement {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** Malformed or non-canonical DER; callers turn it into their own typed error. */
export class DerError extends Error {
  override readonly name = 'DerError';
}

/** Lengths beyond 2^32 - 1 cannot occur in a file we accept. */
const MAX_LENGTH_BYTES = 4;

/**
 * Walks elements, each within its parent. A reader takes lengths in one way for the whole of
 * what it reads: strict DER (readElement, expectElement, children below), or as OpenSSL takes
 * them in a certificate (certificateReader).
 */
export interface DerReader {
  /** Reads the element at `offset`; it must end by `limit`. Throws DerError. */
  readonly readElement: (buf: Uint8Array, offset: number, limit?: number) => DerElement;
  /** Reads the element at `offset` and checks its tag. Throws DerError. */
  readonly expectElement: (
    buf: Uint8Array,
    offset: number,
    tag: number,
    limit?: number,
  ) => DerElement;
  /** The elements inside a constructed element, in order. Throws DerError. */
  readonly children: (buf: Uint8Array, parent: DerElement) => Generator<DerElement>;
}

/**
 * With `longLengths`, a length in long form where a shorter form would do (BER, X.690 section
 * 8.1.3) is taken, as OpenSSL takes it in a certificate (asn1_get_length).
 */
function readerOf(longLengths: boolean): DerReader {
  const readElement = (buf: Uint8Array, offset: number, limit = buf.length): DerElement =>
    readWith(buf, offset, limit, longLengths);
  return {
    readElement,
    expectElement: (buf, offset, tag, limit = buf.length) => {
      const el = readElement(buf, offset, limit);
      if (el.tag !== tag) {
        throw new DerError(
          `expected tag 0x${tag.toString(16)} at byte ${offset}, found 0x${el.tag.toString(16)}`,
        );
      }
      return el;
    },
    children: function* (buf, parent) {
      let pos = parent.contentStart;
      while (pos < parent.end) {
        const el = readElement(buf, pos, parent.end);
        yield el;
        pos = el.end;
      }
    },
  };
}

/** Strict DER (X.690 section 10.1: lengths in their shortest form). */
export const { readElement, expectElement, children } = readerOf(false);

/**
 * For certificates OpenSSL has parsed already (X509Certificate): lengths as OpenSSL reads
 * them, long form where one byte would do included, so that what it took never fails here.
 */
export const certificateReader: DerReader = readerOf(true);

function readWith(
  buf: Uint8Array,
  offset: number,
  limit: number,
  longLengths: boolean,
): DerElement {
  if (offset + 2 > limit) throw new DerError(`truncated element at byte ${offset}`);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag number at byte ${offset}`);
  const first = buf[offset + 1] as number;
  let pos = offset + 2;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError(`indefinite length at byte ${offset}`);
    if (n > MAX_LENGTH_BYTES) throw new DerError(`length of ${n} bytes at byte ${offset}`);
    if (pos + n > limit) throw new DerError(`truncated length at byte ${offset}`);
    if (buf[pos] === 0 && !longLengths) throw new DerError(`non-minimal length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[pos + i] as number);
    if (length < 0x80 && !longLengths) throw new DerError(`non-minimal length at byte ${offset}`);
    pos += n;
  }
  const end = pos + length;
  if (end > limit) throw new DerError(`element at byte ${offset} runs past its container`);
  return { tag, start: offset, contentStart: pos, end };
}

/** The whole element (header and content) as a view of `buf`. */
export function elementBytes(buf: Buffer, el: DerElement): Buffer {
  return buf.subarray(el.start, el.end);
}

/** The content octets as a view of `buf`. */
export function contentBytes(buf: Buffer, el: DerElement): Buffer {
  return buf.subarray(el.contentStart, el.end);
}

/** An OBJECT IDENTIFIER in dotted form. */
export function decodeOid(buf: Buffer, el: DerElement): string {
  const bytes = contentBytes(buf, el);
  if (bytes.length === 0) throw new DerError('empty object identifier');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (value === 0 && b === 0x80) throw new DerError('non-minimal object identifier');
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0)
        arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  if ((bytes[bytes.length - 1] as number) & 0x80) throw new DerError('truncated object identifier');
  return arcs.join('.');
}

/** UTCTime or GeneralizedTime in the forms RFC 5280 section 4.1.2.5 allows (Zulu, seconds). */
export function decodeTime(buf: Buffer, el: DerElement): Date {
  const text = contentBytes(buf, el).toString('latin1');
  let m: RegExpExecArray | null;
  if (el.tag === TAG.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))) {
    const yy = Number(m[1]);
    return utc(yy < 50 ? 2000 + yy : 1900 + yy, m);
  }
  if (
    el.tag === TAG.GENERALIZED_TIME &&
    (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))
  ) {
    return utc(Number(m[1]), m);
  }
  throw new DerError(`invalid time "${text}"`);
}

function utc(year: number, m: RegExpExecArray): Date {
  const [mo, d, h, mi, s] = [2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const date = new Date(Date.UTC(year, (mo as number) - 1, d, h, mi, s));
  if (date.getUTCMonth() !== (mo as number) - 1 || date.getUTCDate() !== d) {
    throw new DerError('invalid calendar date');
  }
  return date;
}

/** A length in DER form. */
function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element from its tag and content parts. */
export function encodeElement(tag: number, ...parts: Uint8Array[]): Buffer {
  const length = parts.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([Buffer.from([tag]), encodeLength(length), ...parts]);
}

/** A non-negative INTEGER from big-endian magnitude bytes (leading zeros dropped, sign kept). */
export function encodeUnsigned(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const body = Buffer.from(magnitude.subarray(i));
  const padded =
    body.length === 0 || (body[0] as number) & 0x80 ? [Buffer.from([0]), body] : [body];
  return encodeElement(TAG.INTEGER, ...padded);
}

/** UTCTime through 2049, GeneralizedTime from 2050 on (RFC 5280 section 4.1.2.5). */
export function encodeTime(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) {
    return encodeElement(TAG.UTC_TIME, Buffer.from(`${digits.slice(2)}Z`, 'latin1'));
  }
  return encodeElement(TAG.GENERALIZED_TIME, Buffer.from(`${digits}Z`, 'latin1'));
}
