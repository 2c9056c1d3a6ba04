import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { WireError } from '../../src/protocol.js';
import { HttpRefusal } from '../../src/http/status.js';
import { MAX_TARGET_BYTES, parseTarget, targetOf, type Target } from '../../src/http/target.js';

const RUNS = process.env['SLOW'] ? 20_000 : 500;

function verdict(raw: string): Target | string {
  try {
    return parseTarget(raw);
  } catch (e) {
    if (e instanceof WireError) return e.wireCode;
    if (e instanceof HttpRefusal) return String(e.status);
    throw e;
  }
}

describe('request-target → name', () => {
  const table: [string, Target | string][] = [
    ['/a.txt', { kind: 'file', name: 'a.txt' }],
    ['/a/b.txt', { kind: 'file', name: 'a/b.txt' }],
    ['/a%20b.txt', { kind: 'file', name: 'a b.txt' }],
    ['/%C3%BCn%C3%AF.txt', { kind: 'file', name: 'ünï.txt' }],
    ['/a%2Fb', { kind: 'file', name: 'a/b' }],
    ['/a.txt?x=1', { kind: 'file', name: 'a.txt' }],
    ['/a+b', { kind: 'file', name: 'a+b' }],
    ['/%252e%252e', { kind: 'file', name: '%2e%2e' }],
    ['https://localhost:8443/a.txt', { kind: 'file', name: 'a.txt' }],
    ['/', { kind: 'folder', name: '' }],
    ['https://localhost', { kind: 'folder', name: '' }],
    ['/logs/', { kind: 'folder', name: 'logs' }],
    ['/logs/2026/', { kind: 'folder', name: 'logs/2026' }],
    ['/logs/?after=b%20c&limit=10', { kind: 'folder', name: 'logs', after: 'b c', limit: 10 }],
    ['/?after=x', { kind: 'folder', name: '', after: 'x', limit: undefined }],
    // Confinement: the same verdicts as the line protocol's GET.
    ['/../etc/passwd', 'forbidden'],
    ['/%2e%2e/etc/passwd', 'forbidden'],
    ['/%2E%2E/etc/passwd', 'forbidden'],
    ['/a/%2e%2e/%2e%2e/x', 'forbidden'],
    ['/a/../b', 'forbidden'],
    ['/./a', 'forbidden'],
    ['/%2e/a', 'forbidden'],
    ['//etc/passwd', 'forbidden'],
    ['/%2Fetc/passwd', 'forbidden'],
    ['/a%5Cb', 'forbidden'],
    ['/%2e%2e/', 'forbidden'],
    // Malformed.
    ['/a%00b', 'bad-request'],
    ['/a%0Ab', 'bad-request'],
    ['/a%7F', 'bad-request'],
    ['/a//b', 'bad-request'],
    ['/a//', 'bad-request'],
    ['/a%', 'bad-request'],
    ['/a%4', 'bad-request'],
    ['/a%zz', 'bad-request'],
    ['/%FF%FE', 'bad-request'],
    ['/%C3', 'bad-request'],
    ['a.txt', 'bad-request'],
    ['*', 'bad-request'],
    [`/${'a'.repeat(1025)}`, 'bad-request'],
    ['/?after=', 'bad-request'],
    ['/?after=a%2Fb', 'bad-request'],
    ['/?limit=0', 'bad-request'],
    ['/?limit=ten', 'bad-request'],
    [`/${'%41'.repeat(MAX_TARGET_BYTES)}`, '414'],
  ];
  for (const [raw, want] of table) {
    it(`${raw.slice(0, 50)} → ${typeof want === 'string' ? want : JSON.stringify(want)}`, () => {
      assert.deepEqual(verdict(raw), want);
    });
  }

  it('raw UTF-8 bytes handed over as latin1 (as node does) decode to the name', () => {
    const latin1 = Buffer.from('/ünï.txt', 'utf8').toString('latin1');
    assert.deepEqual(verdict(latin1), { kind: 'file', name: 'ünï.txt' });
  });

  it('targetOf and parseTarget round-trip every valid name', () => {
    const segment = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
      .filter((s) => !s.includes('/') && s !== '.' && s !== '..' && !s.includes('\\'))
      // eslint-disable-next-line no-control-regex
      .filter((s) => !/[\u0000-\u001f\u007f]/.test(s));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), (segs) => {
        const name = segs.join('/');
        assert.deepEqual(parseTarget(targetOf(name)), { kind: 'file', name });
        assert.deepEqual(parseTarget(targetOf(name, true)), { kind: 'folder', name });
      }),
      { numRuns: RUNS },
    );
  });
});
