/**
 * Fixed numbers and labels of sstream-v1 (docs/FORMAT.md). Every length that comes off the
 * wire has a named cap here.
 */

/** "SSTREAM": the first seven bytes of every file. */
export const MAGIC = Buffer.from('SSTREAM', 'latin1');
export const VERSION = 0x01;
/** AES-256-CTR + HMAC-SHA-256, encrypt-then-MAC, 32-byte tag. */
export const SUITE = 0x01;
export const CHUNK_LOG2 = 16;
/** Plaintext bytes in every non-final chunk. */
export const CHUNK_SIZE = 1 << CHUNK_LOG2;
export const TAG_SIZE = 32;
/** Bytes of a full chunk on the wire: ciphertext and tag. */
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const SALT_SIZE = 32;
export const FILE_KEY_SIZE = 32;
export const HEADER_MAC_SIZE = 32;
/** magic, version, suite, chunk_log2, flags (2), salt, n_stanzas. */
export const FIXED_HEADER_SIZE = 7 + 1 + 1 + 1 + 2 + SALT_SIZE + 1;
export const STANZA_PREFIX_SIZE = 3;
export const MIN_STANZAS = 1;
export const MAX_STANZAS = 8;
/** Longest stanza body a decoder accepts. */
export const MAX_STANZA_BODY = 1100;
/** Longest possible header, MAC included: the decoder never buffers more before step 2. */
export const MAX_HEADER_SIZE =
  FIXED_HEADER_SIZE + MAX_STANZAS * (STANZA_PREFIX_SIZE + MAX_STANZA_BODY) + HEADER_MAC_SIZE;

export const STANZA_RSA_OAEP = 0x01;
export const STANZA_ECDH_ES = 0x02;
export const STANZA_SCRYPT = 0x03;

/** Recipient id: SHA-256 of the DER SubjectPublicKeyInfo. */
export const RID_SIZE = 32;
export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 8192;
/** AES-256-KW output for a 32-byte file key (RFC 3394: input + 8). */
export const WRAPPED_KEY_SIZE = 40;

export const SCRYPT_SALT_SIZE = 16;
export const SCRYPT_DEFAULT_LOG2N = 18;
export const SCRYPT_MIN_LOG2N = 10;
export const SCRYPT_MAX_LOG2N = 20;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;

/** ASCII labels, no NUL. */
export const LABEL = {
  headerMac: 'securestream/v1 header-mac',
  payloadEnc: 'securestream/v1 payload-enc',
  payloadMac: 'securestream/v1 payload-mac',
  rsaOaep: 'securestream/v1 rsa-oaep',
  ecdhEs: 'securestream/v1 ecdh-es',
  scrypt: 'securestream/v1 scrypt',
} as const;
