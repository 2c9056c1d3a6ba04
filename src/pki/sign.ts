/**
 * How a CA key signs, for certificates and CRLs alike: both are `SEQUENCE { tbs,
 * signatureAlgorithm, signatureValue BIT STRING }` (RFC 5280 sections 4.1 and 5.1).
 */
import { sign, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { SecureStreamError } from '../errors.js';
import { TAG, encodeElement } from './der.js';

/** How a CA key signs: the key, the hash and the AlgorithmIdentifier written into the DER. */
export interface Signer {
  key: KeyObject;
  hash: string;
  algorithm: AlgorithmIdentifier;
}

/** How `key` signs certificates and CRLs: ECDSA with the curve's hash, or RSA PKCS#1 SHA-256. */
export function signerFor(key: KeyObject): Signer {
  if (key.asymmetricKeyType === 'rsa') {
    // sha256WithRSAEncryption; RFC 4055 requires the NULL parameters
    const algorithm = new AlgorithmIdentifier({
      algorithm: '1.2.840.113549.1.1.11',
      parameters: null,
    });
    return { key, hash: 'sha256', algorithm };
  }
  if (key.asymmetricKeyType === 'ec') {
    // ecdsa-with-SHA256/384/512, matched to the curve size (RFC 5758 section 3.2)
    const byCurve: Record<string, [string, string]> = {
      prime256v1: ['sha256', '1.2.840.10045.4.3.2'],
      secp384r1: ['sha384', '1.2.840.10045.4.3.3'],
      secp521r1: ['sha512', '1.2.840.10045.4.3.4'],
    };
    const entry = byCurve[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (entry)
      return { key, hash: entry[0], algorithm: new AlgorithmIdentifier({ algorithm: entry[1] }) };
  }
  throw unsupportedCaKey(key);
}

/** pki-unsupported-key for a CA key this program cannot sign with. */
export function unsupportedCaKey(key: KeyObject): SecureStreamError {
  const what = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType ?? 'unknown';
  return new SecureStreamError(
    'pki-unsupported-key',
    `cannot sign with a ${what} ca key`,
    'use a CA with an EC P-256/P-384 or RSA key',
  );
}

/**
 * Signs the DER of a TBSCertificate or TBSCertList and returns the whole signed structure as
 * DER. ECDSA signatures come out DER-encoded, as X.509 wants them.
 */
export function signTbs(tbs: Uint8Array, signer: Signer): Buffer {
  const signature = sign(signer.hash, tbs, signer.key);
  return encodeElement(
    TAG.SEQUENCE,
    tbs,
    new Uint8Array(AsnConvert.serialize(signer.algorithm)),
    encodeElement(TAG.BIT_STRING, Buffer.from([0]), signature),
  );
}
