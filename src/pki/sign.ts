/**
 * Signing and checking signatures, for certificates and CRLs alike: both are `SEQUENCE { tbs,
 * signatureAlgorithm, signatureValue BIT STRING }` (RFC 5280 sections 4.1 and 5.1).
 */
import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { SecureStreamError } from '../errors.js';
import {
  TAG,
  children,
  contentBytes,
  contextTag,
  decodeOid,
  encodeElement,
  expectElement,
  readElement,
} from './der.js';

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
    `cannot sign with a ${what} CA key`,
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

/**
 * Checks the signature of a signed structure (certificate or CRL): `tbs` signed under the
 * AlgorithmIdentifier `algorithm` (DER) with the key of `publicKey`. ECDSA (SHA-1/256/384/512),
 * RSA PKCS#1 v1.5 (SHA-1/256/384/512), RSASSA-PSS (RFC 4055 parameters), Ed25519 and Ed448;
 * false for any other algorithm or a key of the wrong type.
 */
export function verifySigned(
  tbs: Uint8Array,
  algorithm: Buffer,
  signature: Uint8Array,
  publicKey: KeyObject,
): boolean {
  const alg = algorithmOf(algorithm);
  if (!alg) return false;
  try {
    return verify(alg.hash, tbs, { key: publicKey, ...alg.options }, signature);
  } catch {
    return false; // wrong key type for the algorithm
  }
}

interface Algorithm {
  hash: string | null;
  options: { padding?: number; saltLength?: number };
}

const HASH_BY_SIGNATURE: Record<string, string | null> = {
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null, // Ed25519
  '1.3.101.113': null, // Ed448
};
const HASH_BY_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

/** The verify() arguments for an AlgorithmIdentifier; RSASSA-PSS parameters per RFC 4055. */
function algorithmOf(algDer: Buffer): Algorithm | undefined {
  const seq = readElement(algDer, 0);
  const oidEl = expectElement(algDer, seq.contentStart, TAG.OID, seq.end);
  const oid = decodeOid(algDer, oidEl);
  if (oid in HASH_BY_SIGNATURE) return { hash: HASH_BY_SIGNATURE[oid] ?? null, options: {} };
  if (oid !== RSASSA_PSS) return undefined;
  let hash = 'sha1';
  let saltLength = 20;
  if (oidEl.end < seq.end) {
    const params = expectElement(algDer, oidEl.end, TAG.SEQUENCE, seq.end);
    for (const p of children(algDer, params)) {
      if (p.tag === contextTag(0)) {
        const a = expectElement(algDer, p.contentStart, TAG.SEQUENCE, p.end);
        const h =
          HASH_BY_OID[decodeOid(algDer, expectElement(algDer, a.contentStart, TAG.OID, a.end))];
        if (!h) return undefined;
        hash = h;
      } else if (p.tag === contextTag(2)) {
        const n = expectElement(algDer, p.contentStart, TAG.INTEGER, p.end);
        saltLength = Number.parseInt(contentBytes(algDer, n).toString('hex'), 16);
      }
    }
  }
  return { hash, options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength } };
}
