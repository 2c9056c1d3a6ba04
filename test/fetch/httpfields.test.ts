/**
 * What `get` reads from an HTTP response head: Content-Range, entity tags, Repr-Digest, the
 * encrypted media type, and refusals mapped to the line protocol's codes.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  SSTREAM_TYPE,
  contentLength,
  contentRange,
  modeOf,
  refusalOf,
  sha256OfDigestField,
  strongEtag,
} from '../../src/fetch/httpfields.js';
import { EXIT, exitCodeFor } from '../../src/errors.js';

const HEX = 'ab'.repeat(32);
const B64 = Buffer.from(HEX, 'hex').toString('base64');

describe('HTTP fields as get reads them', () => {
  it('Content-Range of a 206: start, inclusive end, size; anything else is protocol', () => {
    assert.deepEqual(contentRange({ 'content-range': 'bytes 100-999/1000' }), {
      start: 100,
      end: 999,
      size: 1000,
    });
    for (const bad of ['bytes 100-1000/1000', 'bytes 5-4/10', 'bytes */1000', 'items 1-2/3', '']) {
      assert.throws(() => contentRange({ 'content-range': bad }), { code: 'protocol' }, bad);
    }
  });

  it('Repr-Digest: the sha-256 member as hex, whatever else the dictionary holds', () => {
    assert.equal(sha256OfDigestField(`sha-256=:${B64}:`), HEX);
    assert.equal(sha256OfDigestField(`sha-512=:AAAA:, sha-256=:${B64}:`), HEX);
    assert.equal(sha256OfDigestField('sha-256=:short:'), undefined);
    assert.equal(sha256OfDigestField(undefined), undefined);
  });

  it('only a strong entity tag is a version token', () => {
    assert.equal(strongEtag({ etag: `"sha256-${HEX}"` }), `"sha256-${HEX}"`);
    assert.equal(strongEtag({ etag: `W/"sha256-${HEX}"` }), undefined);
    assert.equal(strongEtag({ etag: 'unquoted' }), undefined);
    assert.equal(strongEtag({}), undefined);
  });

  it('Content-Length: canonical digits only', () => {
    assert.equal(contentLength({ 'content-length': '1024' }), 1024);
    assert.equal(contentLength({}), undefined);
    assert.throws(() => contentLength({ 'content-length': '-1' }), { code: 'protocol' });
  });

  it('an encrypted body is known by its media type', () => {
    assert.equal(modeOf({ 'content-type': SSTREAM_TYPE }), 'sstream-v1');
    assert.equal(modeOf({ 'content-type': 'application/octet-stream' }), 'plain');
  });

  it('a refusal: the code from the body, else from the status; exit class refused', () => {
    const e = refusalOf('x.bin', 404, 'not-found: no such file\n');
    assert.equal(e.wireCode, 'not-found');
    assert.equal(e.message, 'the server refused "x.bin": not-found (no such file)');
    assert.equal(exitCodeFor(e), EXIT.refused);
    assert.equal(refusalOf('x', 403, '').wireCode, 'forbidden');
    assert.equal(refusalOf('x', 418, '<html>').wireCode, 'http-418');
    assert.equal(refusalOf('x', 503, 'file-changed: try again\n').wireCode, 'file-changed');
  });
});
