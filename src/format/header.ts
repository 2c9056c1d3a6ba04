import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  CHUNK_LOG2,
  FIXED_HEADER_SIZE,
  HEADER_MAC_SIZE,
  MAGIC,
  MAX_STANZA_BODY,
  MAX_STANZAS,
  MIN_STANZAS,
  SALT_SIZE,
  STANZA_ECDH_ES,
  STANZA_PREFIX_SIZE,
  STANZA_RSA_OAEP,
  STANZA_SCRYPT,
  SUITE,
  VERSION,
} from './constants.js';
import { checkEcdhBody } from './ecdh.js';
import { formatError } from './errors.js';
import { checkRsaBody } from './rsa.js';
import { checkScryptBody } from './scrypt.js';
import type { Stanza } from './stanza.js';

/** A parsed header. Buffers are views into the input. */
export interface Header {
  readonly salt: Buffer;
  readonly stanzas: readonly Stanza[];
  /** Bytes the header MAC covers: offset 0 to the end of the last stanza. */
  readonly macInput: Buffer;
  readonly mac: Buffer;
  /** Total header length, MAC included; the first chunk starts here. */
  readonly length: number;
}

/** Encodes a header (MAC included) from its salt, stanzas and K_hdr. */
export function encodeHeader(salt: Buffer, stanzas: readonly Stanza[], kHdr: Buffer): Buffer {
  const fixed = Buffer.alloc(FIXED_HEADER_SIZE);
  MAGIC.copy(fixed, 0);
  fixed[7] = VERSION;
  fixed[8] = SUITE;
  fixed[9] = CHUNK_LOG2;
  fixed.writeUInt16BE(0, 10);
  salt.copy(fixed, 12);
  fixed[44] = stanzas.length;
  const parts: Buffer[] = [fixed];
  for (const s of stanzas) {
    const prefix = Buffer.alloc(STANZA_PREFIX_SIZE);
    prefix[0] = s.type;
    prefix.writeUInt16BE(s.body.length, 1);
    parts.push(prefix, s.body);
  }
  const macInput = Buffer.concat(parts);
  return Buffer.concat([macInput, headerMac(kHdr, macInput)]);
}

/** HMAC-SHA-256(K_hdr, header bytes before the MAC). */
export function headerMac(kHdr: Buffer, macInput: Buffer): Buffer {
  return createHmac('sha256', kHdr).update(macInput).digest();
}

/** Constant-time check of the header MAC; lengths are checked first. */
export function headerMacValid(kHdr: Buffer, header: Header): boolean {
  const expected = headerMac(kHdr, header.macInput);
  return header.mac.length === expected.length && timingSafeEqual(header.mac, expected);
}

/**
 * Parses the header at the start of `buf` (decoding step 1). Returns undefined when more bytes
 * are needed, throws the matching `format-…` error as soon as the bytes present are wrong.
 */
export function parseHeader(buf: Buffer): Header | undefined {
  checkFixed(buf);
  if (buf.length < FIXED_HEADER_SIZE) return undefined;
  const count = buf[44] ?? 0;
  if (count < MIN_STANZAS || count > MAX_STANZAS) {
    throw formatError(
      'format-bad-stanza',
      `header has ${count} stanzas, expected ${MIN_STANZAS}..${MAX_STANZAS}`,
    );
  }
  const stanzas: Stanza[] = [];
  let off = FIXED_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (buf.length < off + STANZA_PREFIX_SIZE) return undefined;
    const type = buf[off] ?? 0;
    const len = buf.readUInt16BE(off + 1);
    if (len > MAX_STANZA_BODY) {
      throw formatError(
        'format-bad-stanza',
        `stanza ${i} has length ${len}, over the limit of ${MAX_STANZA_BODY}`,
      );
    }
    if (type === STANZA_SCRYPT && count !== 1) {
      throw formatError(
        'format-scrypt-not-alone',
        `header has a passphrase (scrypt) stanza beside ${count - 1} other stanzas`,
        'a passphrase-encrypted file must have exactly one stanza',
      );
    }
    off += STANZA_PREFIX_SIZE;
    if (buf.length < off + len) return undefined;
    const body = buf.subarray(off, off + len);
    checkBody(type, body, i);
    stanzas.push({ type, body });
    off += len;
  }
  if (buf.length < off + HEADER_MAC_SIZE) return undefined;
  return {
    salt: buf.subarray(12, 12 + SALT_SIZE),
    stanzas,
    macInput: buf.subarray(0, off),
    mac: buf.subarray(off, off + HEADER_MAC_SIZE),
    length: off + HEADER_MAC_SIZE,
  };
}

/** Checks whichever of magic, version, suite, chunk_log2 and flags are present in `buf`. */
function checkFixed(buf: Buffer): void {
  const m = Math.min(buf.length, MAGIC.length);
  if (!buf.subarray(0, m).equals(MAGIC.subarray(0, m))) {
    throw formatError(
      'format-bad-magic',
      'input is not an sstream file: it does not start with "SSTREAM"',
    );
  }
  const field = (at: number, want: number, code: Parameters<typeof formatError>[0], w: string) => {
    const got = buf[at];
    if (got !== undefined && got !== want) {
      throw formatError(code, `${w} ${got} is not supported, expected ${want}`);
    }
  };
  field(7, VERSION, 'format-bad-version', 'format version');
  field(8, SUITE, 'format-bad-suite', 'cipher suite');
  field(9, CHUNK_LOG2, 'format-bad-chunk-size', 'chunk size log2');
  if ((buf[10] ?? 0) !== 0 || (buf[11] ?? 0) !== 0) {
    throw formatError('format-bad-flags', 'header flags are not zero');
  }
}

function checkBody(type: number, body: Buffer, index: number): void {
  if (type === STANZA_RSA_OAEP) checkRsaBody(body, index);
  else if (type === STANZA_ECDH_ES) checkEcdhBody(body, index);
  else if (type === STANZA_SCRYPT) checkScryptBody(body, index);
  // Unknown types are skipped (still covered by the header MAC).
}
