import { scrypt } from 'node:crypto';
import { SecureStreamError } from '../errors.js';
import {
  LABEL,
  SCRYPT_DEFAULT_LOG2N,
  SCRYPT_MAX_LOG2N,
  SCRYPT_MIN_LOG2N,
  SCRYPT_P,
  SCRYPT_R,
  SCRYPT_SALT_SIZE,
  STANZA_SCRYPT,
  WRAPPED_KEY_SIZE,
} from './constants.js';
import { formatError } from './errors.js';
import { unwrapKey, wrapKey } from './keywrap.js';
import type { Identity, Recipient, Stanza, UnwrapResult } from './stanza.js';

const BODY_SIZE = SCRYPT_SALT_SIZE + 1 + WRAPPED_KEY_SIZE;
const SALT_PREFIX = Buffer.from(LABEL.scrypt, 'latin1');

/** Header check (step 1): exact length, and a work factor the decoder is willing to pay. */
export function checkScryptBody(body: Buffer, index: number): void {
  if (body.length !== BODY_SIZE) {
    throw formatError(
      'format-bad-stanza',
      `stanza ${index} (scrypt) has length ${body.length}, expected ${BODY_SIZE}`,
    );
  }
  const log2N = body[SCRYPT_SALT_SIZE] ?? 0;
  if (log2N < SCRYPT_MIN_LOG2N || log2N > SCRYPT_MAX_LOG2N) {
    throw formatError(
      'format-scrypt-cost',
      `scrypt work factor log2N ${log2N} is outside ${SCRYPT_MIN_LOG2N}..${SCRYPT_MAX_LOG2N}`,
      'a larger factor could exhaust memory; re-encrypt the file with the default factor',
    );
  }
}

function deriveKek(passphrase: string, salt: Buffer, log2N: number): Promise<Buffer> {
  const N = 2 ** log2N;
  // OpenSSL counts 128·r·(N + 2) for V plus 128·r·p for B; 1 MiB covers the rest.
  const maxmem = 128 * SCRYPT_R * (N + 2 + SCRYPT_P) + (1 << 20);
  const pass = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  return new Promise((resolve, reject) => {
    scrypt(
      pass,
      Buffer.concat([SALT_PREFIX, salt]),
      32,
      { N, r: SCRYPT_R, p: SCRYPT_P, maxmem },
      (err, key) => {
        if (err) reject(err);
        else resolve(key);
      },
    );
  });
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length === 0) {
    throw new SecureStreamError('passphrase-empty', 'the passphrase is empty');
  }
}

/** Options of {@link passphraseRecipient}. */
export interface PassphraseOptions {
  /** scrypt work factor log2(N), 10..20; default 18. */
  readonly log2N?: number;
}

/**
 * A 0x03 scrypt recipient: the file opens with the passphrase (NFC-normalised). It must be the
 * file's only recipient.
 */
export function passphraseRecipient(passphrase: string, opts: PassphraseOptions = {}): Recipient {
  checkPassphrase(passphrase);
  const log2N = opts.log2N ?? SCRYPT_DEFAULT_LOG2N;
  if (!Number.isInteger(log2N) || log2N < SCRYPT_MIN_LOG2N || log2N > SCRYPT_MAX_LOG2N) {
    throw formatError(
      'format-scrypt-cost',
      `scrypt work factor log2N ${log2N} is outside ${SCRYPT_MIN_LOG2N}..${SCRYPT_MAX_LOG2N}`,
    );
  }
  return {
    type: STANZA_SCRYPT,
    bodyLength: BODY_SIZE,
    async wrap(fileKey, ctx) {
      const salt = ctx.random(SCRYPT_SALT_SIZE);
      const w = wrapKey(await deriveKek(passphrase, salt, log2N), fileKey);
      return Buffer.concat([salt, Buffer.of(log2N), w]);
    },
  };
}

/** The identity of a passphrase: opens files whose one stanza is scrypt. */
export function passphraseIdentity(passphrase: string): Identity {
  checkPassphrase(passphrase);
  return {
    description: 'the passphrase',
    async unwrap(stanzas: readonly Stanza[]): Promise<UnwrapResult> {
      for (const [i, s] of stanzas.entries()) {
        if (s.type !== STANZA_SCRYPT) continue;
        checkScryptBody(s.body, i);
        const salt = s.body.subarray(0, SCRYPT_SALT_SIZE);
        const log2N = s.body[SCRYPT_SALT_SIZE] ?? 0;
        const kek = await deriveKek(passphrase, salt, log2N);
        const fileKey = unwrapKey(kek, s.body.subarray(SCRYPT_SALT_SIZE + 1));
        return fileKey
          ? { kind: 'ok', fileKey }
          : { kind: 'failed', code: 'format-wrong-passphrase' };
      }
      return { kind: 'none' };
    },
  };
}
