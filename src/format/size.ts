import {
  CHUNK_SIZE,
  FIXED_HEADER_SIZE,
  HEADER_MAC_SIZE,
  SEALED_CHUNK_SIZE,
  STANZA_PREFIX_SIZE,
  TAG_SIZE,
} from './constants.js';

/** Header length for these recipients; deterministic since every body length is fixed. */
export function headerSize(recipients: readonly { readonly bodyLength: number }[]): number {
  let n = FIXED_HEADER_SIZE + HEADER_MAC_SIZE;
  for (const r of recipients) n += STANZA_PREFIX_SIZE + r.bodyLength;
  return n;
}

/** Number of chunks for `plaintextLength` bytes: max(1, ⌈n / 65536⌉). */
export function chunkCount(plaintextLength: number): number {
  return Math.max(1, Math.ceil(plaintextLength / CHUNK_SIZE));
}

/** Payload (all chunks) length for `plaintextLength` bytes of plaintext. */
export function payloadSize(plaintextLength: number): number {
  if (!Number.isSafeInteger(plaintextLength) || plaintextLength < 0) {
    throw new RangeError(`invalid plaintext length ${plaintextLength}`);
  }
  return plaintextLength + TAG_SIZE * chunkCount(plaintextLength);
}

/**
 * Exact length of the encrypted file: header_len + n + 32 · max(1, ⌈n / 65536⌉).
 * @param recipients what createEncryptStream will be given (only `bodyLength` is read)
 */
export function encryptedSize(
  plaintextLength: number,
  recipients: readonly { readonly bodyLength: number }[],
): number {
  return headerSize(recipients) + payloadSize(plaintextLength);
}

/**
 * Inverse of {@link payloadSize}: the plaintext length carried by a payload of this many
 * bytes, or undefined if no valid file has that payload length.
 */
export function plaintextSize(payloadLength: number): number | undefined {
  if (!Number.isSafeInteger(payloadLength) || payloadLength < TAG_SIZE) return undefined;
  const full = Math.floor(payloadLength / SEALED_CHUNK_SIZE);
  const rest = payloadLength % SEALED_CHUNK_SIZE;
  if (rest === 0) return payloadLength - TAG_SIZE * full;
  if (rest < TAG_SIZE || (rest === TAG_SIZE && full > 0)) return undefined;
  return payloadLength - TAG_SIZE * (full + 1);
}
