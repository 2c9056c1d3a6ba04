import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { SecureStreamError } from '../errors.js';
import { ecdhIdentity, ecdhRecipient } from './ecdh.js';
import { classifyKey, publicOf } from './keytype.js';
import { rsaIdentity, rsaRecipient } from './rsa.js';
import type { Identity, Recipient } from './stanza.js';

/**
 * The recipient for a public key: RSA 2048..8192 bits (RSA-OAEP stanza) or EC P-256/P-384
 * (ECDH-ES stanza). A private key is accepted and its public half used.
 * @throws SecureStreamError `unsupported-key` for any other key, naming its type.
 */
export function recipientFromPublicKey(key: KeyObject): Recipient {
  const usable = classifyKey(key);
  const pub = publicOf(key);
  return usable.kind === 'rsa' ? rsaRecipient(pub, usable.bits) : ecdhRecipient(pub, usable.curve);
}

/**
 * The recipient for the public key of a certificate (PEM text, DER bytes or an
 * X509Certificate, e.g. `socket.getPeerX509Certificate()`).
 * @throws SecureStreamError `unsupported-key`, or `bad-certificate` if it does not parse.
 */
export function recipientFromCertificate(cert: string | Buffer | X509Certificate): Recipient {
  let x509: X509Certificate;
  try {
    x509 = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  } catch (e) {
    throw new SecureStreamError('bad-certificate', 'cannot parse the certificate', undefined, {
      cause: e,
    });
  }
  return recipientFromPublicKey(x509.publicKey);
}

/**
 * The identity for a private key (KeyObject, or PEM/DER as accepted by createPrivateKey).
 * @throws SecureStreamError `unsupported-key` for key types the format cannot use.
 */
export function identityFromPrivateKey(key: KeyObject | string | Buffer): Identity {
  const priv = typeof key === 'string' || Buffer.isBuffer(key) ? createPrivateKey(key) : key;
  if (priv.type !== 'private') {
    throw new SecureStreamError(
      'unsupported-key',
      `expected a private key, got a ${priv.type} key`,
    );
  }
  const usable = classifyKey(priv, 'decrypt with');
  return usable.kind === 'rsa' ? rsaIdentity(priv, usable.bits) : ecdhIdentity(priv, usable.curve);
}
