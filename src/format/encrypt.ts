import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { UsageError } from '../errors.js';
import { ChunkCipher } from './chunk.js';
import { CHUNK_SIZE, FILE_KEY_SIZE, MAX_STANZAS, SALT_SIZE, STANZA_SCRYPT } from './constants.js';
import { randomEphemeral } from './ecdh.js';
import { formatError } from './errors.js';
import { Framer } from './framer.js';
import { encodeHeader } from './header.js';
import { deriveFileKeys } from './keys.js';
import type { EphemeralSource, RandomSource, Recipient, Stanza } from './stanza.js';

/** Options of {@link createEncryptStream}. */
export interface EncryptOptions {
  /** 1..8 recipients; a passphrase recipient must be alone. */
  readonly recipients: readonly Recipient[];
  /**
   * Randomness, default crypto.randomBytes. Drawn in this order: file_key (32), salt (32),
   * then per stanza in recipient order (scrypt salt, 16).
   */
  readonly random?: RandomSource;
  /** ECDH-ES ephemeral keys, default a fresh key pair per stanza. */
  readonly ephemeral?: EphemeralSource;
}

function checkRecipients(recipients: readonly Recipient[]): void {
  if (recipients.length === 0 || recipients.length > MAX_STANZAS) {
    throw new UsageError(`${recipients.length} recipients given, expected 1..${MAX_STANZAS}`);
  }
  if (recipients.length > 1 && recipients.some((r) => r.type === STANZA_SCRYPT)) {
    throw formatError(
      'format-scrypt-not-alone',
      'a passphrase cannot be combined with other recipients',
    );
  }
}

/**
 * A Transform from plaintext to an sstream-v1 file: header, then 64 KiB chunks, the last one
 * marked final in flush. Output length is exactly `encryptedSize(n, recipients)`.
 * @throws UsageError or SecureStreamError `format-scrypt-not-alone` for bad recipient lists.
 */
export function createEncryptStream(opts: EncryptOptions): Transform {
  checkRecipients(opts.recipients);
  return new EncryptStream(opts);
}

class EncryptStream extends Transform {
  private cipher: ChunkCipher | undefined;
  private readonly framer = new Framer(CHUNK_SIZE);
  private index = 0;

  constructor(private readonly opts: EncryptOptions) {
    super();
  }

  private async start(): Promise<void> {
    const random = this.opts.random ?? randomBytes;
    const ctx = { random, ephemeral: this.opts.ephemeral ?? randomEphemeral };
    const fileKey = random(FILE_KEY_SIZE);
    const salt = random(SALT_SIZE);
    const stanzas: Stanza[] = [];
    for (const r of this.opts.recipients) {
      const body = await r.wrap(fileKey, ctx);
      if (body.length !== r.bodyLength) throw new Error('recipient wrote a stanza of wrong size');
      stanzas.push({ type: r.type, body });
    }
    const keys = deriveFileKeys(fileKey, salt);
    this.push(encodeHeader(salt, stanzas, keys.header));
    this.cipher = new ChunkCipher(keys);
  }

  private withCipher(cb: TransformCallback, work: (c: ChunkCipher) => void): void {
    const run = (c: ChunkCipher) => {
      try {
        work(c);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    };
    if (this.cipher) run(this.cipher);
    else
      this.start().then(
        () => {
          run(this.cipher as ChunkCipher);
        },
        (e: unknown) => {
          cb(e as Error);
        },
      );
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.withCipher(cb, (c) => {
      this.framer.push(data);
      const out: Buffer[] = [];
      for (let p = this.framer.takeFull(); p; p = this.framer.takeFull()) {
        c.seal(p, this.index++, false, out);
      }
      for (const b of out) this.push(b);
    });
  }

  override _flush(cb: TransformCallback): void {
    this.withCipher(cb, (c) => {
      const out: Buffer[] = [];
      c.seal(this.framer.takeRest(), this.index++, true, out);
      for (const b of out) this.push(b);
    });
  }
}
