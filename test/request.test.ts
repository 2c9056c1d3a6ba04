/**
 * RequestReader without sockets, fed whole, in slices and byte by byte: a request or a typed
 * violation, the line cap counted once (LF included), and any byte after the line a violation
 * however late it comes.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MAX_REQUEST_LINE } from '../src/protocol.js';
import { RequestReader, type RequestEvent } from '../src/transport/request.js';
import { seededSizes } from './helpers/feed.js';

/** Feeds `input` in slices of `next()` bytes; every event, then what end() says. */
function read(input: Buffer | string, next: () => number, reader = new RequestReader()): string[] {
  const bytes = Buffer.from(input);
  const seen: string[] = [];
  const note = (e: RequestEvent | undefined): void => {
    if (e)
      seen.push(
        e.type === 'request' ? `request ${e.name}` : `${e.error.wireCode}: ${e.error.message}`,
      );
  };
  for (let i = 0; i < bytes.length;) {
    const n = Math.min(next(), bytes.length - i);
    note(reader.push(bytes.subarray(i, i + n)));
    i += n;
  }
  note(reader.end());
  return seen;
}

const FEEDS: [string, () => () => number][] = [
  ['whole', () => () => 1 << 20],
  ['in slices', () => seededSizes(9, 5)],
  ['byte by byte', () => () => 1],
];

const CAP_LINE = `GET ${'a'.repeat(MAX_REQUEST_LINE - 5)}\n`; // exactly the cap, LF included

const table: [string, string | Buffer, string[]][] = [
  ['a request', 'GET a/b.txt\n', ['request a/b.txt']],
  ['a request with CR LF', 'GET a/b.txt\r\n', ['request a/b.txt']],
  ['a malformed line', 'PUT a\n', ['bad-request: expected "GET <name>"']],
  ['a forbidden name', 'GET ../a\n', ['forbidden: name has a ".." segment']],
  ['bytes after the line', 'GET a\nX', ['bad-request: data after the request line']],
  ['a second line', 'GET a\nGET b\n', ['bad-request: data after the request line']],
  [
    'no LF before the end',
    'GET a',
    ['bad-request: connection closed before a complete request line'],
  ],
  ['nothing at all', '', ['bad-request: connection closed before a complete request line']],
  // At the cap the line is read (and refused for its name); one byte more is over the cap.
  ['a line of exactly the cap', CAP_LINE, ['bad-request: name longer than 1024 bytes']],
  [
    'a line one byte over the cap',
    `GET ${'a'.repeat(MAX_REQUEST_LINE - 4)}\n`,
    ['bad-request: request line too long'],
  ],
  [
    'the cap reached without an LF',
    'A'.repeat(MAX_REQUEST_LINE),
    ['bad-request: request line too long'],
  ],
  [
    'one byte short of the cap without an LF',
    'A'.repeat(MAX_REQUEST_LINE - 1),
    ['bad-request: connection closed before a complete request line'],
  ],
];

describe('RequestReader', () => {
  for (const [how, sizes] of FEEDS) {
    describe(how, () => {
      for (const [what, input, expected] of table) {
        it(what, () => {
          const seen = read(input, sizes());
          // Cut after the LF, a request is read before the bytes that follow it arrive.
          const [last, ...before] = [...seen].reverse();
          assert.deepEqual([last], expected, seen.join(' | '));
          assert.ok(
            before.every((e) => e.startsWith('request ')),
            seen.join(' | '),
          );
        });
      }
    });
  }

  it('a byte after the request, however late, is a violation; then nothing more', () => {
    const r = new RequestReader();
    const got = r.push(Buffer.from('GET big.bin\n'));
    assert.deepEqual(got, { type: 'request', name: 'big.bin' });
    const late = r.push(Buffer.from('X'));
    assert.ok(late?.type === 'violation');
    assert.equal(late.error.message, 'data after the request line');
    assert.equal(r.push(Buffer.from('more')), undefined);
    assert.equal(r.end(), undefined);
  });

  it('started turns true with the first byte', () => {
    const r = new RequestReader();
    assert.equal(r.started, false);
    assert.equal(r.push(Buffer.alloc(0)), undefined);
    assert.equal(r.started, false);
    r.push(Buffer.from('G'));
    assert.equal(r.started, true);
  });

  it('a smaller cap is a cap', () => {
    assert.deepEqual(
      read('GET abc\n', () => 1, new RequestReader(8)),
      ['request abc'],
    );
    assert.deepEqual(
      read('GET abcd\n', () => 1, new RequestReader(8)),
      ['bad-request: request line too long'],
    );
  });
});
