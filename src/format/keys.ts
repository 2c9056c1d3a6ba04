import { hkdfSync } from 'node:crypto';
import { LABEL } from './constants.js';

/** The three per-file keys, all derived from the file key and the header salt. */
export interface FileKeys {
  /** K_hdr: HMAC-SHA-256 key of the header MAC. */
  readonly header: Buffer;
  /** K_enc: AES-256-CTR key of the payload. */
  readonly enc: Buffer;
  /** K_mac: HMAC-SHA-256 key of the chunk tags. */
  readonly mac: Buffer;
}

/** HKDF-SHA-256 with a 32-byte output; `hkdfSync` returns an ArrayBuffer, hence the wrap. */
export function hkdf32(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from(info, 'latin1'), 32));
}

/** The key schedule of docs/FORMAT.md: K_hdr, K_enc, K_mac from file_key and salt. */
export function deriveFileKeys(fileKey: Buffer, salt: Buffer): FileKeys {
  return {
    header: hkdf32(fileKey, salt, LABEL.headerMac),
    enc: hkdf32(fileKey, salt, LABEL.payloadEnc),
    mac: hkdf32(fileKey, salt, LABEL.payloadMac),
  };
}
