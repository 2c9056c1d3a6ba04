import { Transform, type TransformCallback } from 'node:stream';
import { UsageError } from '../errors.js';
import { ChunkCipher } from './chunk.js';
import { MAX_HEADER_SIZE, SEALED_CHUNK_SIZE, TAG_SIZE } from './constants.js';
import { formatError } from './errors.js';
import { Framer, splitTail } from './framer.js';
import { headerMacValid, parseHeader, type Header } from './header.js';
import { deriveFileKeys } from './keys.js';
import { describeStanzas, openHeader } from './open.js';
import type { Identity } from './stanza.js';

/** Options of {@link createDecryptStream} and {@link createVerifyStream}. */
export interface DecryptOptions {
  /** Tried in order; the first that opens the header wins. */
  readonly identities: readonly Identity[];
}

/**
 * A Transform from an sstream-v1 file to its plaintext. Every chunk is authenticated before
 * its plaintext is pushed; the stream is complete only when it ends without error (the final
 * chunk verifies last). Memory: at most one chunk plus the header.
 * Errors are SecureStreamErrors with `format-…` codes (docs/FORMAT.md, "Errors").
 */
export function createDecryptStream(opts: DecryptOptions): Transform {
  return new PayloadReader(opts, false);
}

/**
 * A Transform that passes an sstream-v1 file through unchanged while checking the header MAC
 * and every chunk tag, without decrypting. Bytes are released only after the header or chunk
 * that holds them has verified; the stream fails at the first bad chunk.
 */
export function createVerifyStream(opts: DecryptOptions): Transform {
  return new PayloadReader(opts, true);
}

class PayloadReader extends Transform {
  private headerBuf: Buffer | undefined = Buffer.alloc(MAX_HEADER_SIZE);
  private headerFill = 0;
  private cipher: ChunkCipher | undefined;
  private readonly framer = new Framer(SEALED_CHUNK_SIZE);
  private index = 0;

  constructor(
    private readonly opts: DecryptOptions,
    private readonly verifyOnly: boolean,
  ) {
    super();
    if (opts.identities.length === 0) throw new UsageError('no identity given to decrypt with');
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.cipher) {
      this.guard(cb, () => {
        this.feed(data);
      });
      return;
    }
    let header: Header | undefined;
    let rest: Buffer;
    try {
      [header, rest] = this.collectHeader(data);
    } catch (e) {
      cb(e as Error);
      return;
    }
    if (!header) {
      cb();
      return;
    }
    this.startPayload(header).then(
      () => {
        this.guard(cb, () => {
          this.feed(rest);
        });
      },
      (e: unknown) => {
        cb(e as Error);
      },
    );
  }

  override _flush(cb: TransformCallback): void {
    this.guard(cb, () => {
      if (!this.cipher) {
        throw formatError(
          'format-truncated',
          this.headerFill === 0 ? 'input is empty' : 'file is truncated inside the header',
        );
      }
      this.finish(this.cipher);
    });
  }

  private guard(cb: TransformCallback, work: () => void): void {
    try {
      work();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  /** Copies input into the header buffer until the header parses; returns it and the rest. */
  private collectHeader(data: Buffer): [Header | undefined, Buffer] {
    const buf = this.headerBuf as Buffer;
    const n = data.copy(buf, this.headerFill);
    this.headerFill += n;
    const header = parseHeader(buf.subarray(0, this.headerFill));
    if (!header) return [undefined, Buffer.alloc(0)];
    const extra = buf.subarray(header.length, this.headerFill);
    const rest = extra.length ? Buffer.concat([extra, data.subarray(n)]) : data.subarray(n);
    return [header, rest];
  }

  private async startPayload(header: Header): Promise<void> {
    const fileKey = await openHeader(this.opts.identities, header);
    const keys = deriveFileKeys(fileKey, header.salt);
    if (!headerMacValid(keys.header, header)) {
      throw formatError(
        'format-header-tampered',
        'header authentication failed: the header was modified',
        `stanzas: ${describeStanzas(header.stanzas)}`,
      );
    }
    if (this.verifyOnly) this.push(Buffer.concat([header.macInput, header.mac]));
    this.cipher = new ChunkCipher(keys);
    this.headerBuf = undefined;
  }

  private feed(data: Buffer): void {
    const c = this.cipher as ChunkCipher;
    this.framer.push(data);
    for (let p = this.framer.takeFull(); p; p = this.framer.takeFull()) {
      const [body, tag] = splitTail(p, TAG_SIZE);
      if (!c.verify(body, tag, this.index, false)) {
        // Diagnosis only, never acceptance: a chunk that is valid as final but has data after it.
        if (c.verify(body, tag, this.index, true)) {
          throw formatError(
            'format-trailing-data',
            `trailing data after the final chunk (chunk ${this.index})`,
          );
        }
        throw chunkFailed(this.index);
      }
      this.release(c, body, p, false);
      this.index++;
    }
  }

  private finish(c: ChunkCipher): void {
    const p = this.framer.takeRest();
    const len = this.framer.buffered + p.reduce((n, b) => n + b.length, 0);
    if (len < TAG_SIZE) {
      throw formatError(
        'format-truncated',
        `file is truncated: chunk ${this.index} has ${len} bytes, fewer than its 32-byte tag`,
      );
    }
    if (len === TAG_SIZE && this.index > 0) {
      throw formatError(
        'format-empty-final-chunk',
        `final chunk ${this.index} is empty; only an empty file may end with an empty chunk`,
      );
    }
    const [body, tag] = splitTail(p, TAG_SIZE);
    if (!c.verify(body, tag, this.index, true)) {
      // Diagnosis only: a valid non-final chunk at the end means the final chunk is missing.
      if (len === SEALED_CHUNK_SIZE && c.verify(body, tag, this.index, false)) {
        throw formatError(
          'format-truncated',
          `file is truncated: it ends after chunk ${this.index} without a final chunk`,
        );
      }
      throw chunkFailed(this.index);
    }
    this.release(c, body, p, true);
  }

  private release(c: ChunkCipher, body: Buffer[], sealed: Buffer[], last: boolean): void {
    if (this.verifyOnly) {
      for (const b of sealed) this.push(b);
      return;
    }
    const out: Buffer[] = [];
    c.open(body, this.index, last, out);
    for (const b of out) this.push(b);
  }
}

function chunkFailed(index: number) {
  return formatError(
    'format-chunk-failed',
    `chunk ${index} failed authentication`,
    'the file is corrupt, truncated, reordered or has data appended',
  );
}
