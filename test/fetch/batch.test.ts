/** The exit status of a batch with failures: the most telling class wins (README, Exit codes). */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { InterruptedError, SecureStreamError } from '../../src/errors.js';
import { batchExitCode } from '../../src/fetch/batch.js';
import { WireError } from '../../src/protocol.js';

const refused = new WireError('not-found', 'no', undefined, 'received');
const integrity = new SecureStreamError('digest-mismatch', 'bad');
const tls = new SecureStreamError('connect-failed', 'down');
const local = new SecureStreamError('disk-full', 'full');

describe('batch exit status', () => {
  const cases: [string, unknown[], number][] = [
    ['no failure', [], 0],
    ['names refused only', [refused, refused], 4],
    ['a local write failure', [local], 1],
    ['refused and local', [refused, local], 4],
    ['refused and no connection', [refused, tls], 3],
    ['anything with a bad digest', [refused, tls, local, integrity], 5],
    ['a foreign error', [new Error('x')], 1],
    ['an interruption', [refused, new InterruptedError('SIGTERM')], 143],
  ];
  for (const [what, errors, code] of cases) {
    it(`${what}: ${code}`, () => {
      assert.equal(batchExitCode(errors), code);
    });
  }
});
