import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { UsageError } from '../errors.js';
import { ChunkCipher } from './chunk.js';
import { CHUNK_SIZE, FILE_KEY_SIZE, MAX_STANZAS, SALT_SIZE, STANZA_SCRYPT } from './constants.js';
import { randomEphemeral } from './ecdh.js';
import { formatError } from './errors.js';
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

/**
 * The encoder without a stream around it, for callers that move bytes themselves (the
 * server's send loop): `header`, then `update` per input, then `final` once. It keeps no view
 * of an input after `update` returns, so the caller may reuse its read buffers.
 */
export class Encryptor {
  /** Input not sealed yet: at most one chunk, held back until more input or `final`. */
  private readonly held = Buffer.allocUnsafe(CHUNK_SIZE);
  private heldLength = 0;
  private index = 0;
  private done = false;

  private constructor(
    readonly header: Buffer,
    private readonly cipher: ChunkCipher,
  ) {}

  /** Wraps a fresh file key to every recipient and writes the header. */
  static async create(opts: EncryptOptions): Promise<Encryptor> {
    checkRecipients(opts.recipients);
    const random = opts.random ?? randomBytes;
    const ctx = { random, ephemeral: opts.ephemeral ?? randomEphemeral };
    const fileKey = random(FILE_KEY_SIZE);
    const salt = random(SALT_SIZE);
    const stanzas: Stanza[] = [];
    for (const r of opts.recipients) {
      const body = await r.wrap(fileKey, ctx);
      if (body.length !== r.bodyLength) throw new Error('recipient wrote a stanza of wrong size');
      stanzas.push({ type: r.type, body });
    }
    const keys = deriveFileKeys(fileKey, salt);
    return new Encryptor(encodeHeader(salt, stanzas, keys.header), new ChunkCipher(keys));
  }

  /**
   * Seals every chunk that more input is known to follow (FORMAT-v1 step 5: a chunk is final
   * only if nothing comes after it) and returns their C and T pieces in order.
   */
  update(data: Buffer): Buffer[] {
    if (this.done) throw new Error('update after final');
    const out: Buffer[] = [];
    let pos = 0;
    while (this.heldLength + data.length - pos > CHUNK_SIZE) {
      const take = CHUNK_SIZE - this.heldLength;
      const piece = data.subarray(pos, pos + take);
      const frame = this.heldLength === 0 ? [piece] : [this.held.subarray(0, this.heldLength)];
      if (this.heldLength > 0 && take > 0) frame.push(piece);
      this.cipher.seal(frame, this.index++, false, out);
      this.heldLength = 0;
      pos += take;
    }
    this.heldLength += data.copy(this.held, this.heldLength, pos);
    return out;
  }

  /** Seals the final chunk (possibly empty). */
  final(): Buffer[] {
    if (this.done) throw new Error('final called twice');
    this.done = true;
    const out: Buffer[] = [];
    this.cipher.seal([this.held.subarray(0, this.heldLength)], this.index++, true, out);
    return out;
  }
}

class EncryptStream extends Transform {
  private encryptor: Encryptor | undefined;

  constructor(private readonly opts: EncryptOptions) {
    super();
  }

  private withEncryptor(cb: TransformCallback, work: (e: Encryptor) => Buffer[]): void {
    const run = (e: Encryptor) => {
      try {
        for (const b of work(e)) this.push(b);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    };
    if (this.encryptor) run(this.encryptor);
    else
      Encryptor.create(this.opts).then(
        (e) => {
          this.encryptor = e;
          this.push(e.header);
          run(e);
        },
        (err: unknown) => {
          cb(err as Error);
        },
      );
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.withEncryptor(cb, (e) => e.update(data));
  }

  override _flush(cb: TransformCallback): void {
    this.withEncryptor(cb, (e) => e.final());
  }
}
