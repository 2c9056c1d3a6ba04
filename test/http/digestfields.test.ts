import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  legacyDigest,
  parseReprDigest,
  reprDigest,
  wantsLegacyDigest,
  wantsReprDigest,
} from '../../src/http/digestfields.js';

// RFC 9530 Appendix D/§B: the SHA-256 of `{"hello": "world"}` is this byte sequence.
const RFC_CONTENT = '{"hello": "world"}';
const RFC_VALUE = 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:';

describe('Repr-Digest (RFC 9530)', () => {
  it("matches the RFC's example", () => {
    const hex = createHash('sha256').update(RFC_CONTENT).digest('hex');
    assert.equal(reprDigest(hex), RFC_VALUE);
    assert.equal(parseReprDigest(RFC_VALUE), hex);
    assert.equal(parseReprDigest(`sha-512=:AAAA:, ${RFC_VALUE}`), hex);
    assert.equal(parseReprDigest('sha-256=:short=:'), undefined);
    assert.equal(legacyDigest(hex), 'SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=');
  });

  const want: [string | undefined, boolean][] = [
    [undefined, true],
    ['sha-256=10', true],
    ['sha-512=3, sha-256=10', true],
    ['sha-512=10', true],
    ['sha-256=0', false],
    ['sha-512=5, sha-256=0', false],
    ['garbage', true],
  ];
  for (const [field, expected] of want) {
    it(`Want-Repr-Digest ${String(field)} → ${expected ? 'sent' : 'left out'}`, () => {
      assert.equal(wantsReprDigest(field), expected);
    });
  }
});

describe('Want-Digest (RFC 3230)', () => {
  const table: [string | undefined, boolean][] = [
    [undefined, false],
    ['SHA-256', true],
    ['sha-256', true],
    ['SHA-512;q=1, SHA-256;q=1, SHA;q=0.1', true], // what aria2 sends
    ['SHA-256;q=0', false],
    ['MD5', false],
    ['SHA-256;q=0.5', true],
  ];
  for (const [field, expected] of table) {
    it(`${String(field)} → ${expected}`, () => {
      assert.equal(wantsLegacyDigest(field), expected);
    });
  }
});
