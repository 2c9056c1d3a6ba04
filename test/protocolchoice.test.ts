import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ALPN_H2,
  ALPN_HTTP11,
  ALPN_LINE,
  chooseAlpn,
  classifyFirstBytes,
  serverProtocols,
  suiteAllowsH2,
} from '../src/transport/protocolchoice.js';

const RUNS = process.env['SLOW'] ? 20_000 : 1000;

describe('ALPN', () => {
  it('offers h2 only when a suite of the policy allows it (RFC 9113 §9.2.2)', () => {
    const all = [ALPN_H2, ALPN_HTTP11, ALPN_LINE];
    assert.deepEqual(
      serverProtocols({ ciphers: ['ECDHE-ECDSA-AES128-GCM-SHA256'], http: true }),
      all,
    );
    assert.deepEqual(serverProtocols({ ciphers: ['AES128-GCM-SHA256'], http: true }), [
      ALPN_HTTP11,
      ALPN_LINE,
    ]);
    assert.deepEqual(
      serverProtocols({ ciphers: ['AES128-GCM-SHA256', 'TLS_AES_128_GCM_SHA256'], http: true }),
      all,
    );
    assert.deepEqual(serverProtocols({ ciphers: ['ECDHE-RSA-AES128-GCM-SHA256'], http: false }), [
      ALPN_LINE,
    ]);
    assert.equal(suiteAllowsH2('AES256-GCM-SHA384'), false);
    assert.equal(suiteAllowsH2('DHE-RSA-AES128-GCM-SHA256'), true);
  });

  it("picks by the server's preference, or nothing", () => {
    const ours = [ALPN_H2, ALPN_HTTP11, ALPN_LINE];
    assert.equal(chooseAlpn(['http/1.1', 'h2'], ours), 'h2');
    assert.equal(chooseAlpn(['http/1.1'], ours), 'http/1.1');
    assert.equal(chooseAlpn(['securestream/1'], ours), 'securestream/1');
    assert.equal(chooseAlpn(['h2', 'http/1.1'], [ALPN_LINE]), undefined);
    assert.equal(chooseAlpn(['spdy/3'], ours), undefined);
  });
});

describe('first bytes without ALPN', () => {
  const table: [string, 'http/1.1' | 'line' | undefined][] = [
    ['GET /f.bin HTTP/1.1\r\nHost: localhost\r\n\r\n', 'http/1.1'], // wget
    ['GET /f.bin HTTP/1.1\r\n', 'http/1.1'],
    ['GET / HTTP/1.0\n', 'http/1.1'],
    ['HEAD /a%20b HTTP/1.1\r\n', 'http/1.1'],
    ['OPTIONS * HTTP/1.1\r\n', 'http/1.1'],
    ['DELETE /x HTTP/1.1\r\n', 'http/1.1'],
    ['GET hello.txt\n', 'line'],
    ['GET hello.txt HTTP/1.1\r\n', 'line'],
    ['GET /etc/passwd\n', 'line'],
    ['GET /a b\n', 'line'],
    ['GET /a HTTP/2\r\n', 'line'],
    ['GET /a HTTPS/1.1\r\n', 'line'],
    ['GET /a HTTP/1.1\rX', 'line'],
    ['GET  /a HTTP/1.1\r\n', 'line'],
    ['get /a HTTP/1.1\r\n', 'http/1.1'],
    ['PUT a\n', 'line'],
    ['GET * HTTP/1.1\n', 'line'],
    ['\x16\x03\x01', 'line'],
    ['\n', 'line'],
    [' GET /', 'line'],
    ['G', undefined],
    ['GET', undefined],
    ['GET ', undefined],
    ['GET /', undefined],
    ['GET /f.bin', undefined],
    ['GET /f.bin ', undefined],
    ['GET /f.bin HTTP/1', undefined],
    ['GET /f.bin HTTP/1.1', undefined],
    ['GET /f.bin HTTP/1.1\r', undefined],
    ['GET hel', 'line'],
    [`${'A'.repeat(21)} /`, 'line'],
    [`GET /${'a'.repeat(9000)}`, 'http/1.1'],
  ];
  for (const [bytes, want] of table) {
    it(`${JSON.stringify(bytes.slice(0, 40))} → ${String(want)}`, () => {
      assert.equal(classifyFirstBytes(Buffer.from(bytes, 'latin1')), want);
    });
  }

  it('decides the same whatever the chunking: a decision never changes with more bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom('GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n', 'GET a b\n', 'GET /x\n'),
          fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
        ),
        (text) => {
          const all = Buffer.from(text, 'latin1');
          let first: string | undefined;
          for (let n = 0; n <= all.length; n++) {
            const v = classifyFirstBytes(all.subarray(0, n));
            if (first !== undefined) assert.equal(v, first);
            else first = v;
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never takes a valid line-protocol request for HTTP', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }).filter((n) => !n.startsWith('/')),
        (name) => {
          const v = classifyFirstBytes(Buffer.from(`GET ${name}\n`));
          assert.equal(v, 'line');
        },
      ),
      { numRuns: RUNS },
    );
  });
});
