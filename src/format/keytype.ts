import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SecureStreamError } from '../errors.js';
import { RSA_MAX_BITS, RSA_MIN_BITS } from './constants.js';
import type { EcCurve } from './stanza.js';

/** A key sstream-v1 can encrypt to, classified. */
export type UsableKey =
  | { readonly kind: 'rsa'; readonly bits: number }
  | { readonly kind: 'ec'; readonly curve: EcCurve };

const CURVES: Record<string, EcCurve> = { prime256v1: 'P-256', secp384r1: 'P-384' };

/**
 * Classifies a public or private key, refusing every type the format cannot use with
 * `unsupported-key` and a message naming the type: RSA-PSS, Ed25519/X25519, DSA/DH, other
 * curves, RSA outside 2048..8192 bits.
 */
export function classifyKey(key: KeyObject, use = 'encrypt to'): UsableKey {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.type === 'secret' || type === undefined) {
    throw unsupported(use, 'a secret (symmetric) key', 'give an RSA or EC P-256/P-384 key');
  }
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
      throw unsupported(
        use,
        `an RSA key of ${bits} bits`,
        `use an RSA key of ${RSA_MIN_BITS} to ${RSA_MAX_BITS} bits or an EC P-256/P-384 key`,
      );
    }
    return { kind: 'rsa', bits };
  }
  if (type === 'ec') {
    const name = details.namedCurve ?? 'unknown';
    const curve = CURVES[name];
    if (!curve) throw unsupported(use, `an EC key on curve "${name}"`, 'use P-256 or P-384');
    return { kind: 'ec', curve };
  }
  const name = type === 'rsa-pss' ? 'an RSA-PSS key' : `an ${type} key`;
  throw unsupported(use, name, 'sstream-v1 encrypts to RSA (OAEP) or EC P-256/P-384 keys only');
}

function unsupported(use: string, what: string, hint: string): SecureStreamError {
  return new SecureStreamError('unsupported-key', `cannot ${use} ${what}`, hint);
}

/** The public half of a key (a public key is returned as is). */
export function publicOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/** rid: SHA-256 of the DER SubjectPublicKeyInfo of the public key. */
export function recipientId(key: KeyObject): Buffer {
  const spki = publicOf(key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest();
}

/** Short printable form of a rid for messages. */
export function ridText(rid: Buffer): string {
  return rid.subarray(0, 8).toString('hex');
}
