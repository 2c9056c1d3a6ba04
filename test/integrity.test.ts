/**
 * DownloadCheck, the one verdict on a download whatever the wire: every announced byte, the
 * SHA-256 of all of them equal to the server's, a clean end; a held prefix (a resume) counts.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DownloadCheck } from '../src/transport/integrity.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const FILE = randomBytes(10_000);
const SHA = sha256(FILE);

/** Feeds `data` in slices of `n` bytes. */
function feed(check: DownloadCheck, data: Buffer, n: number): void {
  for (let i = 0; i < data.length; i += n) check.add(data.subarray(i, i + n));
}

describe('DownloadCheck', () => {
  for (const n of [1, 999, 10_000]) {
    it(`every byte in slices of ${n}, then the digest: the SHA-256 comes back`, () => {
      const check = new DownloadCheck(FILE.length);
      feed(check, FILE, n);
      check.expect(SHA, 'test');
      assert.equal(check.end(), SHA);
    });
  }

  it('the digest announced first (HTTP) is compared at the end', () => {
    const check = new DownloadCheck(FILE.length);
    check.expect(SHA, "the server's Repr-Digest");
    feed(check, FILE, 4096);
    assert.equal(check.end(), SHA);
  });

  it('a wrong digest once every byte is in: digest-mismatch at once, naming the source', () => {
    const check = new DownloadCheck(FILE.length);
    feed(check, FILE, 4096);
    assert.throws(
      () => {
        check.expect('0'.repeat(64), "the server's trailer");
      },
      {
        code: 'digest-mismatch',
        message: `the received bytes have SHA-256 ${SHA}, the server's trailer says ${'0'.repeat(64)}`,
      },
    );
  });

  it('a byte short at the end: truncated, with how far it got', () => {
    const check = new DownloadCheck(FILE.length);
    check.expect(SHA, 'test');
    feed(check, FILE.subarray(0, -1), 4096);
    assert.throws(() => check.end(), {
      code: 'truncated',
      message: `the response ended after ${FILE.length - 1} of ${FILE.length} bytes`,
    });
  });

  it('a byte past the announced length: protocol, and the byte is not counted', () => {
    const check = new DownloadCheck(3);
    check.add(Buffer.from('abc'));
    assert.throws(
      () => {
        check.add(Buffer.from('d'));
      },
      { code: 'protocol' },
    );
    assert.equal(check.received, 3);
  });

  it('no digest from the server: protocol', () => {
    const check = new DownloadCheck(FILE.length);
    feed(check, FILE, 4096);
    assert.throws(() => check.end(), { code: 'protocol', message: 'the server sent no digest' });
  });

  it('a held prefix (a resume) and the rest: the whole file is what is checked', () => {
    const cut = 6_000;
    const hash = createHash('sha256').update(FILE.subarray(0, cut));
    const check = new DownloadCheck(FILE.length, { bytes: cut, hash });
    assert.equal(check.received, cut);
    check.expect(SHA, 'test');
    feed(check, FILE.subarray(cut), 1000);
    assert.equal(check.end(), SHA);
  });

  it('a held prefix that differs from the server file (tampered): digest-mismatch, never a pass', () => {
    const cut = 6_000;
    const tampered = Buffer.from(FILE.subarray(0, cut));
    tampered[17] = (tampered[17] ?? 0) ^ 1;
    const check = new DownloadCheck(FILE.length, {
      bytes: cut,
      hash: createHash('sha256').update(tampered),
    });
    check.expect(SHA, 'test');
    feed(check, FILE.subarray(cut), 1000);
    assert.throws(() => check.end(), { code: 'digest-mismatch' });
  });

  it('a held prefix longer than the file: protocol', () => {
    assert.throws(() => new DownloadCheck(10, { bytes: 11, hash: createHash('sha256') }), {
      code: 'protocol',
    });
  });

  it('an unannounced length (chunked): every byte up to the clean end counts', () => {
    const check = new DownloadCheck(undefined);
    feed(check, FILE, 3000);
    assert.equal(check.full, false);
    check.expect(SHA, 'the trailer');
    assert.equal(check.end(), SHA);
    assert.equal(check.length, FILE.length);
    const cut = new DownloadCheck(undefined);
    feed(cut, FILE.subarray(0, 100), 10);
    assert.equal(
      cut.truncated('the connection closed').message,
      'the connection closed after 100 bytes',
    );
  });
});
