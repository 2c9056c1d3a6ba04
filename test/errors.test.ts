/**
 * Exit statuses follow from what an error is (its code's declared class), never from how its
 * code is spelled: a local `unsupported-key` is not a refusal, and a refusal with a wire code
 * this client does not know still is one.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EXIT, SecureStreamError, UsageError, exitClassOf, exitCodeFor } from '../src/errors.js';
import { ERROR_CODES, WireError } from '../src/protocol.js';
import { formatError } from '../src/format/errors.js';

describe('exit codes', () => {
  const table: [string, unknown, number][] = [
    ['a usage error', new UsageError('bad flag'), 2],
    ['an interruption', new SecureStreamError('interrupted', 'interrupted'), 130],
    ['a refused dial', new SecureStreamError('connect-failed', 'refused'), 3],
    ['a rejected certificate', new SecureStreamError('tls-client-rejected', 'no'), 3],
    ['a server name mismatch', new SecureStreamError('tls-server-name', 'no'), 3],
    ['a refusal the server sent', new WireError('not-found', 'no such file'), 4],
    ['a refusal with a code this client does not know', refusal('quota'), 4],
    ['a truncated transfer', new SecureStreamError('truncated', 'short'), 5],
    ['a digest mismatch', new SecureStreamError('digest-mismatch', 'differs'), 5],
    ['a protocol violation', new SecureStreamError('protocol', 'garbage'), 5],
    ['a format error', formatError('format-wrong-key', 'wrong key'), 5],
    // The bug of issue 11: a local key the format cannot use was taken for a server refusal.
    ['an unusable key in encrypt (no server involved)', keyError(), 1],
    ['a missing certificate', new SecureStreamError('pki-missing', 'gone'), 1],
    ['a full disk', new SecureStreamError('disk-full', 'full'), 1],
    ['an error that is not ours', new Error('boom'), 1],
    ['a thrown string', 'boom', 1],
  ];
  for (const [what, e, code] of table) {
    it(`${what}: exit ${code}`, () => {
      assert.equal(exitCodeFor(e), code);
    });
  }

  it('every wire code this version sends is a refusal (exit 4), and refusals keep the wire code', () => {
    for (const c of ERROR_CODES) {
      const e = new WireError(c, 'x');
      assert.equal(e.code, 'refused');
      assert.equal(e.wireCode, c);
      assert.equal(exitCodeFor(e), EXIT.refused);
    }
    assert.equal(refusal('quota').wireCode, 'quota');
  });

  it('the one code spelled like a wire code is a local failure', () => {
    assert.equal(exitClassOf('unsupported-key'), 'failure');
  });
});

function refusal(code: string): WireError {
  return new WireError(code, `the server refused "f": ${code}`, undefined, 'received');
}

function keyError(): SecureStreamError {
  return new SecureStreamError('unsupported-key', 'cannot encrypt to an ed25519 key');
}
