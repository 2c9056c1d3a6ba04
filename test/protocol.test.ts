import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  quotedName,
  MAX_NAME_BYTES,
  MAX_REQUEST_LINE,
  WireError,
  checkName,
  encodeErr,
  encodeOk,
  encodeRequest,
  encodeTrailer,
  parseRequestLine,
  parseResponseHeader,
  parseTrailer,
} from '../src/protocol.js';
import { SecureStreamError } from '../src/errors.js';

const RUNS = process.env['SLOW'] ? 20_000 : 500;
const line = (s: string): Buffer => Buffer.from(s, 'utf8');
const wireCode = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof WireError) return e.wireCode;
    throw e;
  }
  return 'accepted';
};

describe('request line', () => {
  it('accepts GET <name>, with or without CR', () => {
    assert.equal(parseRequestLine(line('GET a/b.txt')), 'a/b.txt');
    assert.equal(parseRequestLine(line('GET a/b.txt\r')), 'a/b.txt');
    assert.equal(parseRequestLine(line('GET ünïcødé')), 'ünïcødé');
    assert.equal(parseRequestLine(line('GET  leading space')), ' leading space');
  });

  const table: [string, string | Buffer, string][] = [
    ['empty line', '', 'bad-request'],
    ['verb only', 'GET', 'bad-request'],
    ['lower-case verb', 'get a', 'bad-request'],
    ['other verb', 'PUT a', 'bad-request'],
    ['empty name', 'GET ', 'bad-request'],
    ['dot-dot', 'GET ../a', 'forbidden'],
    ['dot', 'GET ./a', 'forbidden'],
    ['dot-dot at end', 'GET a/..', 'forbidden'],
    ['absolute', 'GET /a', 'forbidden'],
    ['backslash', 'GET a\\b', 'forbidden'],
    ['trailing slash', 'GET a/', 'bad-request'],
    ['double slash', 'GET a//b', 'bad-request'],
    ['NUL', Buffer.from('GET a\0b', 'latin1'), 'bad-request'],
    ['tab', 'GET a\tb', 'bad-request'],
    ['DEL', 'GET a\x7fb', 'bad-request'],
    ['CR inside', 'GET a\rb', 'bad-request'],
    ['invalid UTF-8', Buffer.from([0x47, 0x45, 0x54, 0x20, 0xc3, 0x28]), 'bad-request'],
    ['name of 1025 bytes', `GET ${'x'.repeat(MAX_NAME_BYTES + 1)}`, 'bad-request'],
  ];
  for (const [what, input, code] of table) {
    it(`rejects ${what} with ${code}`, () => {
      assert.equal(
        wireCode(() => parseRequestLine(typeof input === 'string' ? line(input) : input)),
        code,
      );
    });
  }

  it('accepts a name of exactly 1024 bytes', () => {
    assert.equal(
      parseRequestLine(line(`GET ${'x'.repeat(MAX_NAME_BYTES)}`)).length,
      MAX_NAME_BYTES,
    );
  });

  it('round-trips encodeRequest for any valid name', () => {
    const segment = fc
      // eslint-disable-next-line no-control-regex -- the rule under test is about control characters
      .stringMatching(/^[^/\\\u0000-\u001f\u007f]{1,20}$/)
      .filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segs) => {
        const name = segs.join('/');
        fc.pre(Buffer.byteLength(name) <= MAX_NAME_BYTES);
        const wire = encodeRequest(name);
        assert.equal(wire[wire.length - 1], 0x0a);
        assert.equal(parseRequestLine(wire.subarray(0, -1)), name);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws past its boundary: any bytes give a name or a WireError with a stable code', () => {
    const codes = new Set(['bad-request', 'forbidden']);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_REQUEST_LINE + 16 }), (bytes) => {
        try {
          const name = parseRequestLine(Buffer.from(bytes));
          checkName(name); // whatever is accepted must also pass the name rules on its own
        } catch (e) {
          assert.ok(e instanceof WireError, `threw ${String(e)}`);
          assert.ok(codes.has(e.wireCode));
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('response header', () => {
  it('parses OK and ERR lines', () => {
    assert.deepEqual(parseResponseHeader(encodeOk(123, 'plain').subarray(0, -1)), {
      kind: 'ok',
      length: 123,
      mode: 'plain',
    });
    assert.deepEqual(parseResponseHeader(encodeOk(0, 'sstream-v1').subarray(0, -1)), {
      kind: 'ok',
      length: 0,
      mode: 'sstream-v1',
    });
    assert.deepEqual(parseResponseHeader(line('ERR not-found no such file')), {
      kind: 'err',
      code: 'not-found',
      message: 'no such file',
    });
  });
  for (const bad of [
    'OK 01 plain',
    'OK -1 plain',
    'OK 1 zip',
    'OK 1',
    'OK 99999999999999999 plain',
    'ok 1 plain',
    'HTTP/1.1 200 OK',
    '',
  ]) {
    it(`rejects "${bad}" as a protocol error`, () => {
      assert.throws(
        () => parseResponseHeader(line(bad)),
        (e: unknown) => e instanceof SecureStreamError && e.code === 'protocol',
      );
    });
  }
  it('keeps an ERR message on one printable line', () => {
    assert.equal(encodeErr('internal', 'a\nb\u00e9').toString('latin1'), 'ERR internal a?b?\n');
  });
});

describe('trailer', () => {
  const h = 'ab'.repeat(32);
  const h2 = 'cd'.repeat(32);
  it('parses one digest in plain and two in sstream-v1', () => {
    assert.deepEqual(parseTrailer(encodeTrailer(h).subarray(0, -1), 'plain'), { bodySha256: h });
    assert.deepEqual(parseTrailer(encodeTrailer(h, h2).subarray(0, -1), 'sstream-v1'), {
      bodySha256: h,
      plaintextSha256: h2,
    });
  });
  const bad: [string, 'plain' | 'sstream-v1'][] = [
    [`SHA256 ${h.toUpperCase()}`, 'plain'],
    [`SHA256 ${h.slice(1)}`, 'plain'],
    [`SHA256 ${h} ${h2}`, 'plain'],
    [`SHA256 ${h}`, 'sstream-v1'],
    [`SHA256  ${h}`, 'plain'],
    [`sha256 ${h}`, 'plain'],
  ];
  for (const [text, mode] of bad) {
    it(`rejects "${text.slice(0, 20)}…" in ${mode}`, () => {
      assert.throws(
        () => parseTrailer(line(text), mode),
        (e: unknown) => e instanceof SecureStreamError && e.code === 'protocol',
      );
    });
  }
});

describe('quotedName', () => {
  it('quotes a short name whole, cuts a long one after 64 characters (graphemes) with its byte length', () => {
    assert.equal(quotedName('a\nb'), '"a\\nb"');
    assert.equal(quotedName('x'.repeat(64)), `"${'x'.repeat(64)}"`);
    assert.equal(quotedName('x'.repeat(65)), `"${'x'.repeat(64)}…" (65 bytes)`);
    assert.equal(quotedName('é'.repeat(100)), `"${'é'.repeat(64)}…" (200 bytes)`);
  });
});
