/**
 * sstream-v1, the securestream encrypted-file format (docs/FORMAT.md). This file only composes
 * the concept files: header, recipients, chunk, stream encoder and decoder, size arithmetic.
 */
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream, type EncryptOptions } from './encrypt.js';
import { createDecryptStream, type DecryptOptions } from './decrypt.js';

export * from './constants.js';
export type { FormatErrorCode } from './errors.js';
export type {
  EcCurve,
  EphemeralSource,
  Identity,
  RandomSource,
  Recipient,
  Stanza,
  UnwrapResult,
} from './stanza.js';
export { createEncryptStream, Encryptor, type EncryptOptions } from './encrypt.js';
export { createDecryptStream, createVerifyStream, type DecryptOptions } from './decrypt.js';
export {
  identityFromPrivateKey,
  recipientFromCertificate,
  recipientFromPublicKey,
} from './recipients.js';
export { passphraseIdentity, passphraseRecipient, type PassphraseOptions } from './scrypt.js';
export { ecPrivateKeyFromScalar, randomEphemeral } from './ecdh.js';
export { recipientId } from './keytype.js';
export { deriveFileKeys, type FileKeys } from './keys.js';
export { chunkCount, encryptedSize, headerSize, payloadSize, plaintextSize } from './size.js';

async function runThrough(t: Transform, input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  t.on('data', (b: Buffer) => out.push(b));
  await pipeline(Readable.from([input]), t);
  return Buffer.concat(out);
}

/** Encrypts a whole buffer with {@link createEncryptStream} (the same code path). */
export function encryptBuffer(plaintext: Buffer, opts: EncryptOptions): Promise<Buffer> {
  return runThrough(createEncryptStream(opts), plaintext);
}

/** Decrypts a whole buffer with {@link createDecryptStream} (the same code path). */
export function decryptBuffer(file: Buffer, opts: DecryptOptions): Promise<Buffer> {
  return runThrough(createDecryptStream(opts), file);
}
