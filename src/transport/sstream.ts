/**
 * Where the wire meets the file format: the server's sstream-v1 body encoder, bound to the
 * public key of the certificate verified in this handshake, and the client's choice between
 * verifying the ciphertext it stores and decrypting it on the fly.
 */
import type { KeyObject } from 'node:crypto';
import type { Transform } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { isSecureStreamError } from '../errors.js';
import {
  createDecryptStream,
  Encryptor,
  createVerifyStream,
  encryptedSize,
  identityFromPrivateKey,
  recipientFromPublicKey,
  type Recipient,
} from '../format/index.js';
import { WireError } from '../protocol.js';
import type { BodyEncoder } from './body.js';

/**
 * The encoder for an authorized socket. A client key the format cannot use (Ed25519,
 * RSA-PSS, RSA < 2048, other curves) becomes `ERR unsupported-key` before any body byte.
 */
export function sstreamEncoderFor(socket: TLSSocket): BodyEncoder {
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new WireError('internal', 'no peer certificate');
  let recipient: Recipient;
  try {
    recipient = recipientFromPublicKey(cert.publicKey);
  } catch (e) {
    if (isSecureStreamError(e) && e.code === 'unsupported-key') {
      throw new WireError('unsupported-key', e.message);
    }
    throw e;
  }
  return {
    mode: 'sstream-v1',
    length: (size) => encryptedSize(size, [recipient]),
    async pipe(source, write) {
      const enc = await Encryptor.create({ recipients: [recipient] });
      await write([enc.header]);
      for await (const chunk of source) await write(enc.update(chunk));
      await write(enc.final());
    },
  };
}

/**
 * The client's stream for an sstream-v1 body: with `decrypt`, plaintext comes out; without,
 * the ciphertext passes through unchanged while the header MAC and every chunk MAC are checked.
 */
export function sstreamDecoder(
  key: KeyObject,
  decrypt: boolean,
): { stream: Transform; decrypts: boolean } {
  const identities = [identityFromPrivateKey(key)];
  return decrypt
    ? { stream: createDecryptStream({ identities }), decrypts: true }
    : { stream: createVerifyStream({ identities }), decrypts: false };
}
