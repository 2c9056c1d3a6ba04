import { constants, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import {
  FILE_KEY_SIZE,
  LABEL,
  RID_SIZE,
  RSA_MAX_BITS,
  RSA_MIN_BITS,
  STANZA_RSA_OAEP,
} from './constants.js';
import { formatError } from './errors.js';
import { recipientId, ridText } from './keytype.js';
import type { Identity, Recipient, Stanza, UnwrapResult } from './stanza.js';

const OAEP_LABEL = Buffer.from(LABEL.rsaOaep, 'latin1');
const MIN_BODY = RID_SIZE + RSA_MIN_BITS / 8;
const MAX_BODY = RID_SIZE + RSA_MAX_BITS / 8;

/** Header check (step 1): body is `rid ‖ w`, w the length of a 2048..8192-bit modulus. */
export function checkRsaBody(body: Buffer, index: number): void {
  if (body.length < MIN_BODY || body.length > MAX_BODY) {
    throw formatError(
      'format-bad-stanza',
      `stanza ${index} (rsa-oaep) has length ${body.length}, expected ${MIN_BODY}..${MAX_BODY}`,
    );
  }
}

/** A 0x01 RSA-OAEP recipient for an RSA public key of `bits` bits. */
export function rsaRecipient(publicKey: KeyObject, bits: number): Recipient {
  const rid = recipientId(publicKey);
  const modulusBytes = Math.ceil(bits / 8);
  return {
    type: STANZA_RSA_OAEP,
    bodyLength: RID_SIZE + modulusBytes,
    wrap(fileKey) {
      const w = publicEncrypt(
        {
          key: publicKey,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
          oaepLabel: OAEP_LABEL,
        },
        fileKey,
      );
      return Promise.resolve(Buffer.concat([rid, w]));
    },
  };
}

/** The identity of an RSA private key of `bits` bits. */
export function rsaIdentity(privateKey: KeyObject, bits: number): Identity {
  const rid = recipientId(privateKey);
  const modulusBytes = Math.ceil(bits / 8);
  return {
    description: `RSA-${bits} key ${ridText(rid)}`,
    unwrap(stanzas: readonly Stanza[]): Promise<UnwrapResult> {
      let matched = false;
      for (const [i, s] of stanzas.entries()) {
        if (s.type !== STANZA_RSA_OAEP || !s.body.subarray(0, RID_SIZE).equals(rid)) continue;
        if (s.body.length !== RID_SIZE + modulusBytes) {
          throw formatError(
            'format-bad-stanza',
            `stanza ${i} (rsa-oaep) has length ${s.body.length}, ` +
              `expected ${RID_SIZE + modulusBytes} for this ${bits}-bit key`,
          );
        }
        matched = true;
        const fileKey = decrypt(privateKey, s.body.subarray(RID_SIZE));
        if (fileKey) return Promise.resolve({ kind: 'ok', fileKey });
      }
      return Promise.resolve(
        matched ? { kind: 'failed', code: 'format-wrong-key' } : { kind: 'none' },
      );
    },
  };
}

function decrypt(privateKey: KeyObject, w: Buffer): Buffer | undefined {
  try {
    const key = privateDecrypt(
      {
        key: privateKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
        oaepLabel: OAEP_LABEL,
      },
      w,
    );
    return key.length === FILE_KEY_SIZE ? key : undefined;
  } catch {
    return undefined;
  }
}
