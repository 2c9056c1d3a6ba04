import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  etagOf,
  evaluateConditions,
  httpDate,
  ifRangeHolds,
  parseHttpDate,
  sha256OfEtag,
  type Conditions,
  type ConditionVerdict,
} from '../../src/http/conditional.js';

const HEX = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);
const TAG = etagOf(HEX);
const MTIME = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const V = { etag: TAG, mtimeMs: MTIME };
const LM = 'Fri, 02 Jan 2026 03:04:05 GMT';

describe('ETag', () => {
  it('is the quoted SHA-256 and round-trips', () => {
    assert.equal(TAG, `"sha256-${HEX}"`);
    assert.equal(sha256OfEtag(TAG), HEX);
    assert.equal(sha256OfEtag(`W/${TAG}`), undefined);
    assert.equal(sha256OfEtag('"sha256-xyz"'), undefined);
  });
});

describe('HTTP-date', () => {
  it('formats IMF-fixdate and parses the three forms', () => {
    assert.equal(httpDate(MTIME), LM);
    assert.equal(parseHttpDate(LM), Math.floor(MTIME / 1000));
    assert.equal(parseHttpDate('Friday, 02-Jan-26 03:04:05 GMT'), Math.floor(MTIME / 1000));
    assert.equal(parseHttpDate('Fri Jan  2 03:04:05 2026'), Math.floor(MTIME / 1000));
    assert.equal(parseHttpDate('2026-01-02T03:04:05Z'), undefined);
    assert.equal(parseHttpDate('yesterday'), undefined);
  });
});

describe('preconditions (RFC 9110 §13.2.2)', () => {
  const table: [string, Conditions, ConditionVerdict][] = [
    ['none', {}, 'proceed'],
    ['If-None-Match same tag', { ifNoneMatch: TAG }, 'not-modified'],
    ['If-None-Match weak form of the tag', { ifNoneMatch: `W/${TAG}` }, 'not-modified'],
    ['If-None-Match in a list', { ifNoneMatch: `"x", ${TAG}` }, 'not-modified'],
    ['If-None-Match star', { ifNoneMatch: '*' }, 'not-modified'],
    ['If-None-Match other tag', { ifNoneMatch: etagOf(OTHER) }, 'proceed'],
    ['If-None-Match comma inside a tag', { ifNoneMatch: '"a,b"' }, 'proceed'],
    ['If-Match same', { ifMatch: TAG }, 'proceed'],
    ['If-Match star', { ifMatch: '*' }, 'proceed'],
    ['If-Match other', { ifMatch: etagOf(OTHER) }, 'precondition-failed'],
    ['If-Match weak never matches', { ifMatch: `W/${TAG}` }, 'precondition-failed'],
    ['If-Modified-Since at mtime', { ifModifiedSince: LM }, 'not-modified'],
    [
      'If-Modified-Since later',
      { ifModifiedSince: 'Sat, 03 Jan 2026 00:00:00 GMT' },
      'not-modified',
    ],
    ['If-Modified-Since earlier', { ifModifiedSince: 'Thu, 01 Jan 2026 00:00:00 GMT' }, 'proceed'],
    ['If-Modified-Since garbage', { ifModifiedSince: 'soon' }, 'proceed'],
    [
      'If-None-Match wins over If-Modified-Since',
      { ifNoneMatch: etagOf(OTHER), ifModifiedSince: LM },
      'proceed',
    ],
    [
      'If-Unmodified-Since earlier',
      { ifUnmodifiedSince: 'Thu, 01 Jan 2026 00:00:00 GMT' },
      'precondition-failed',
    ],
    ['If-Unmodified-Since at mtime', { ifUnmodifiedSince: LM }, 'proceed'],
    [
      'If-Match wins over If-Unmodified-Since',
      { ifMatch: TAG, ifUnmodifiedSince: 'Thu, 01 Jan 2026 00:00:00 GMT' },
      'proceed',
    ],
    [
      'If-Match failing beats If-None-Match',
      { ifMatch: '"x"', ifNoneMatch: TAG },
      'precondition-failed',
    ],
  ];
  for (const [label, c, want] of table) {
    it(label, () => {
      assert.equal(evaluateConditions(c, V), want);
    });
  }

  it('without an ETag (encrypted responses) no tag ever matches', () => {
    assert.equal(evaluateConditions({ ifNoneMatch: '*' }, { mtimeMs: MTIME }), 'proceed');
    assert.equal(evaluateConditions({ ifMatch: '*' }, { mtimeMs: MTIME }), 'precondition-failed');
  });
});

describe('If-Range (RFC 9110 §13.1.5)', () => {
  const table: [string, string | undefined, boolean][] = [
    ['absent', undefined, true],
    ['current tag', TAG, true],
    ['stale tag', etagOf(OTHER), false],
    ['weak tag', `W/${TAG}`, false],
    ['Last-Modified exactly', LM, true],
    ['another date', 'Thu, 01 Jan 2026 00:00:00 GMT', false],
    ['garbage', 'whenever', false],
  ];
  for (const [label, field, want] of table) {
    it(label, () => {
      assert.equal(ifRangeHolds(field, V), want);
    });
  }
});
