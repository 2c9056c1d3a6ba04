/**
 * The one decision that a download is complete, whatever carried it (the line protocol's
 * ResponseParser, an HTTP response, a resumed HTTP response): exactly the announced number of
 * bytes, the SHA-256 of all of them equal to the digest the server announced for them, and a
 * clean end of the response. Nothing here knows sockets or files: bytes and claims in, a
 * verdict out.
 */
import { createHash, type Hash } from 'node:crypto';
import { SecureStreamError } from '../errors.js';

/** Bytes already held from an earlier response (a resumed download): counted and hashed. */
export interface HeldPrefix {
  bytes: number;
  /**
   * SHA-256 over exactly those bytes, ready to take the rest; or `'elsewhere'`: the prefix and
   * the rest are hashed by someone else (the stored file read back on another thread), and
   * the digest of the whole is handed to {@link DownloadCheck.end}.
   */
  hash: Hash | 'elsewhere';
}

/**
 * Counts and hashes the bytes of one object (a file, or the body of an encrypted response)
 * as they arrive, possibly after a held prefix, and decides at the end whether they are the
 * object the server described.
 */
export class DownloadCheck {
  private readonly hash: Hash | undefined;
  private seen: number;
  private expected: { sha256: string; source: string } | undefined;
  private verified: string | undefined;

  private ended = false;

  /**
   * @param announced the object's length in bytes, as the server announced it (the whole file
   *   for a resumed download, not the rest); undefined when only the framing marks the end
   *   (HTTP/1.1 chunked): then every byte up to a clean end counts
   */
  constructor(
    private readonly announced: number | undefined,
    prefix?: HeldPrefix,
  ) {
    const hash = prefix?.hash ?? createHash('sha256');
    this.hash = hash === 'elsewhere' ? undefined : hash;
    this.seen = prefix?.bytes ?? 0;
    if (announced !== undefined && this.seen > announced) {
      throw new SecureStreamError(
        'protocol',
        `held ${this.seen} bytes of a ${announced}-byte file`,
      );
    }
  }

  /** The announced length; after a clean end of an unannounced one, the bytes counted. */
  get length(): number {
    return this.announced ?? (this.ended ? this.seen : 0);
  }

  /** Bytes counted so far, the held prefix included. */
  get received(): number {
    return this.seen;
  }

  /** True once every announced byte has arrived (an unannounced length: at the clean end). */
  get full(): boolean {
    return this.announced === undefined ? this.ended : this.seen === this.announced;
  }

  /** Counts and hashes the next bytes; throws `protocol` for a byte past the length. */
  add(data: Buffer): void {
    if (this.announced !== undefined && this.seen + data.length > this.announced) {
      throw new SecureStreamError(
        'protocol',
        `the server sent more than the ${this.announced} bytes it announced`,
      );
    }
    this.hash?.update(data);
    this.seen += data.length;
  }

  /**
   * The server's SHA-256 (lower-case hex) of all `length` bytes, and where it said so (for
   * messages: "the server's trailer", "Repr-Digest"). Compared at once when every byte is
   * in (then a mismatch throws `digest-mismatch` here), else at {@link end}.
   */
  expect(sha256: string, source: string): void {
    this.expected = { sha256, source };
    if (this.full && this.hash) this.compare();
  }

  /**
   * The verdict at the clean end of the response: every byte arrived (else `truncated`), the
   * server gave a digest (else `protocol`) and it matches (else `digest-mismatch`). Returns
   * the SHA-256 of the bytes.
   * @param hashedElsewhere the SHA-256 (hex) of all the bytes, when they were hashed elsewhere
   *   (a prefix with hash `'elsewhere'`); required then, ignored otherwise
   */
  end(hashedElsewhere?: string): string {
    if (this.announced === undefined) this.ended = true;
    if (!this.full) throw this.truncated('the response ended');
    if (!this.expected) throw new SecureStreamError('protocol', 'the server sent no digest');
    if (!this.hash) {
      if (hashedElsewhere === undefined) throw new Error('DownloadCheck: no digest given');
      this.verified ??= hashedElsewhere;
    }
    return this.compare();
  }

  /**
   * The error for a response that broke off now, naming how far it got: `<what> after N of M
   * bytes<tail>`.
   */
  truncated(what: string, hint?: string, tail = ''): SecureStreamError {
    const of = this.announced === undefined ? '' : ` of ${this.announced}`;
    return new SecureStreamError(
      'truncated',
      `${what} after ${this.seen}${of} bytes${tail}`,
      hint ?? 'the server stopped or the network failed; try again',
    );
  }

  private compare(): string {
    const expected = this.expected;
    if (!expected) throw new SecureStreamError('protocol', 'the server sent no digest');
    const got = (this.verified ??= this.hash?.digest('hex'));
    if (got === undefined) throw new Error('DownloadCheck: the bytes are hashed elsewhere');
    if (got !== expected.sha256) {
      throw new SecureStreamError(
        'digest-mismatch',
        `the received bytes have SHA-256 ${got}, ${expected.source} says ${expected.sha256}`,
      );
    }
    return got;
  }
}
