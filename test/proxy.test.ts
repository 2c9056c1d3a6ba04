/**
 * ProxyHeaderReader without sockets: PROXY protocol v1 and v2 headers fed whole, split at
 * every byte and byte by byte, one event each, the bytes after the header handed back intact,
 * every cap decided as soon as the bytes allow, one violation per rule of the spec.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { crc32c } from '../src/transport/crc32c.js';
import {
  MAX_PROXY_V1_LINE,
  MAX_PROXY_V2_LENGTH,
  PROXY_V2_SIGNATURE,
  ProxyHeaderReader,
  formatIPv6,
  startsWithProxyHeader,
  type ProxyEvent,
} from '../src/transport/proxy.js';

/** Feeds `input` in the given slices; every event (at most one may come), and where it came. */
function feed(input: Buffer, cuts: number[]): { events: ProxyEvent[]; at: number } {
  const reader = new ProxyHeaderReader();
  const events: ProxyEvent[] = [];
  let at = -1;
  let from = 0;
  for (const to of [...cuts, input.length]) {
    if (events.length > 0) break;
    const ev = reader.push(input.subarray(from, to));
    if (ev) {
      // what the socket would deliver next belongs after the header's own leftovers
      events.push(
        ev.type === 'header' ? { ...ev, rest: Buffer.concat([ev.rest, input.subarray(to)]) } : ev,
      );
      at = to;
    }
    from = to;
  }
  return { events, at };
}

/** One event whatever the slicing: whole, cut at every single position, and byte by byte. */
function readAllWays(input: Buffer): ProxyEvent {
  const whole = feed(input, []).events;
  assert.equal(whole.length, 1, 'one event for the whole input');
  const first = whole[0] as ProxyEvent;
  const same = (ev: ProxyEvent | undefined, how: string): void => {
    assert.ok(ev, `no event ${how}`);
    assert.deepEqual(summary(ev), summary(first), how);
  };
  for (let cut = 1; cut < input.length; cut++) same(feed(input, [cut]).events[0], `cut at ${cut}`);
  const bytes = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
  same(feed(input, bytes).events[0], 'byte by byte');
  return first;
}

/** An event as plain data (Buffers as hex), for deep comparison. */
function summary(ev: ProxyEvent): unknown {
  if (ev.type === 'violation') return { code: ev.error.code, message: ev.error.message };
  const { header, rest } = ev;
  return {
    ...header,
    tlvs: header.tlvs.map((t) => ({ type: t.type, value: t.value.toString('hex') })),
    rest: rest.toString('hex'),
  };
}

function header(ev: ProxyEvent): Extract<ProxyEvent, { type: 'header' }> {
  assert.equal(ev.type, 'header', ev.type === 'violation' ? ev.error.message : '');
  return ev;
}

function violation(ev: ProxyEvent): { code: string; message: string } {
  assert.equal(ev.type, 'violation');
  const e = ev.error;
  return { code: e.code, message: e.message };
}

/** A TLS ClientHello's first bytes: what follows the header on a real connection. */
const TLS = Buffer.from('160301020001', 'hex');

/** A version 2 header: command and family/protocol bytes, then the body given. */
function v2(verCmd: number, famProto: number, body: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([verCmd, famProto]), len, body]);
}

function inet4(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function tlv(type: number, value: Buffer): Buffer {
  const b = Buffer.alloc(3);
  b[0] = type;
  b.writeUInt16BE(value.length, 1);
  return Buffer.concat([b, value]);
}

describe('PROXY protocol v1', () => {
  it('reads a TCP4 line and hands back the TLS bytes after it', () => {
    const line = 'PROXY TCP4 198.18.0.7 198.18.0.1 40001 8443\r\n';
    const ev = header(readAllWays(Buffer.concat([Buffer.from(line), TLS])));
    assert.deepEqual(ev.header.source, { address: '198.18.0.7', family: 'IPv4', port: 40001 });
    assert.deepEqual(ev.header.destination, { address: '198.18.0.1', family: 'IPv4', port: 8443 });
    assert.equal(ev.header.command, 'proxy');
    assert.equal(ev.header.version, 1);
    assert.equal(ev.header.length, line.length);
    assert.ok(ev.rest.equals(TLS));
  });

  it('reads a TCP6 line of the longest form the spec allows', () => {
    const a = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const line = `PROXY TCP6 ${a} ${a} 65535 65535\r\n`;
    assert.equal(line.length, 104);
    const ev = header(readAllWays(Buffer.from(line)));
    assert.deepEqual(ev.header.source, { address: a, family: 'IPv6', port: 65535 });
    assert.equal(ev.rest.length, 0);
  });

  it('takes UNKNOWN (with or without addresses) as "use the real endpoints"', () => {
    for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff::1 ::1 1 2\r\n']) {
      const ev = header(readAllWays(Buffer.from(line)));
      assert.equal(ev.header.command, 'local');
      assert.equal(ev.header.source, undefined);
    }
  });

  it(`accepts a line of exactly ${MAX_PROXY_V1_LINE} bytes and refuses one byte more at that byte`, () => {
    const pad = (n: number): string => `PROXY UNKNOWN ${'x'.repeat(n - 16)}\r\n`;
    assert.equal(pad(MAX_PROXY_V1_LINE).length, MAX_PROXY_V1_LINE);
    header(readAllWays(Buffer.from(pad(MAX_PROXY_V1_LINE))));
    const long = Buffer.from(pad(MAX_PROXY_V1_LINE + 1));
    assert.equal(violation(readAllWays(long)).code, 'proxy-header-too-long');
    // decided once 107 bytes without a CRLF are in, not at the end of the input
    const { at } = feed(
      long,
      Array.from({ length: long.length - 1 }, (_, i) => i + 1),
    );
    assert.equal(at, MAX_PROXY_V1_LINE);
  });

  const malformed: [string, string][] = [
    ['lower-case keyword', 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'],
    ['unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['a missing field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'],
    ['an extra field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'],
    ['port over 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'],
    ['port with a leading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n'],
    ['signed port', 'PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n'],
    ['IPv4 octet over 255', 'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'],
    ['IPv6 address under TCP4', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n'],
    ['IPv4 address under TCP6', 'PROXY TCP6 1.2.3.4 ::1 1 2\r\n'],
    ['a host name', 'PROXY TCP4 localhost 5.6.7.8 1 2\r\n'],
  ];
  for (const [why, line] of malformed) {
    it(`refuses ${why}`, () => {
      const v = violation(readAllWays(Buffer.from(line)));
      assert.equal(v.code, 'proxy-header-invalid');
    });
  }

  it('refuses LF without CR, CR without LF, a control byte and a non-ASCII byte, at that byte', () => {
    for (const [line, pos] of [
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 31],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', 32],
      ['PROXY TCP4 1.2\x003.4 5.6.7.8 1 2\r\n', 15],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\xe9\r\n', 31],
    ] as const) {
      const bytes = Buffer.from(line, 'latin1');
      const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
      const { events, at } = feed(bytes, cuts);
      assert.equal(violation(events[0] as ProxyEvent).code, 'proxy-header-invalid', line);
      assert.equal(at, pos, JSON.stringify(line));
    }
  });
});

describe('PROXY protocol v2', () => {
  it('reads PROXY over TCP/IPv4 and hands back the TLS bytes after it', () => {
    const bytes = Buffer.concat([
      v2(0x21, 0x11, inet4([198, 18, 0, 7], [198, 18, 0, 1], 40001, 8443)),
      TLS,
    ]);
    const ev = header(readAllWays(bytes));
    assert.deepEqual(ev.header.source, { address: '198.18.0.7', family: 'IPv4', port: 40001 });
    assert.deepEqual(ev.header.destination, { address: '198.18.0.1', family: 'IPv4', port: 8443 });
    assert.equal(ev.header.version, 2);
    assert.equal(ev.header.length, 28);
    assert.ok(ev.rest.equals(TLS));
  });

  it('reads PROXY over TCP/IPv6, addresses written as RFC 5952 says', () => {
    const body = Buffer.alloc(36);
    Buffer.from('20010db8000000000001000000000001', 'hex').copy(body, 0);
    Buffer.from('00000000000000000000ffffc6120001', 'hex').copy(body, 16);
    body.writeUInt16BE(1, 32);
    body.writeUInt16BE(443, 34);
    const ev = header(readAllWays(v2(0x21, 0x21, body)));
    assert.deepEqual(ev.header.source, { address: '2001:db8::1:0:0:1', family: 'IPv6', port: 1 });
    assert.deepEqual(ev.header.destination, {
      address: '::ffff:198.18.0.1',
      family: 'IPv6',
      port: 443,
    });
  });

  it('takes LOCAL, UNSPEC, AF_UNIX and datagrams as "use the real endpoints"', () => {
    const cases: [number, number, Buffer][] = [
      [0x20, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)], // LOCAL with an address block
      [0x20, 0x00, Buffer.alloc(0)], // LOCAL, UNSPEC: HAProxy's health checks
      [0x21, 0x00, Buffer.alloc(0)], // PROXY, UNSPEC
      [0x21, 0x31, Buffer.alloc(216)], // AF_UNIX stream
      [0x21, 0x12, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)], // UDP over IPv4
    ];
    for (const [vc, fp, body] of cases) {
      const ev = header(readAllWays(v2(vc, fp, body)));
      assert.equal(ev.header.source, undefined, `0x${vc.toString(16)} 0x${fp.toString(16)}`);
      assert.equal(ev.header.command, vc === 0x20 ? 'local' : 'proxy');
    }
  });

  it('reads TLVs in order and checks a CRC32C field', () => {
    const addr = inet4([10, 0, 0, 1], [10, 0, 0, 2], 1234, 443);
    const authority = tlv(0x02, Buffer.from('files.example'));
    const crcTlv = tlv(0x03, Buffer.alloc(4));
    const unsigned = v2(0x21, 0x11, Buffer.concat([addr, authority, crcTlv]));
    const crc = crc32c(unsigned);
    const signed = Buffer.from(unsigned);
    signed.writeUInt32BE(crc, signed.length - 4);
    const ev = header(readAllWays(signed));
    assert.deepEqual(
      ev.header.tlvs.map((t) => [t.type, t.value.toString('latin1')]),
      [
        [0x02, 'files.example'],
        [0x03, signed.subarray(-4).toString('latin1')],
      ],
    );
    const corrupt = Buffer.from(signed);
    corrupt[20] = (corrupt[20] as number) ^ 1; // a source address bit
    assert.deepEqual(violation(readAllWays(corrupt)), {
      code: 'proxy-header-invalid',
      message: 'PROXY v2 CRC32C does not match the header',
    });
  });

  const invalid: [string, Buffer][] = [
    ['version 1 in the version nibble', v2(0x11, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2))],
    ['command 2', v2(0x22, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2))],
    ['family 4', v2(0x21, 0x41, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2))],
    ['transport 3', v2(0x21, 0x13, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2))],
    ['an IPv4 block shorter than 12 bytes', v2(0x21, 0x11, Buffer.alloc(11))],
    ['an IPv6 block shorter than 36 bytes', v2(0x21, 0x21, Buffer.alloc(12))],
    [
      'a TLV longer than the header',
      v2(
        0x21,
        0x11,
        Buffer.concat([
          inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2),
          Buffer.from([0x04, 0x00, 0x09, 1]),
        ]),
      ),
    ],
    [
      'a TLV cut in its length',
      v2(
        0x21,
        0x11,
        Buffer.concat([inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), Buffer.from([0x04, 0x00])]),
      ),
    ],
    [
      'a CRC32C field of 3 bytes',
      v2(
        0x21,
        0x11,
        Buffer.concat([inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlv(0x03, Buffer.alloc(3))]),
      ),
    ],
  ];
  for (const [why, bytes] of invalid) {
    it(`refuses ${why}`, () => {
      assert.equal(violation(readAllWays(bytes)).code, 'proxy-header-invalid');
    });
  }

  it(`accepts ${MAX_PROXY_V2_LENGTH} bytes after the preamble and refuses more at byte 16`, () => {
    const padded = (n: number): Buffer =>
      v2(
        0x21,
        0x11,
        Buffer.concat([inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlv(0x04, Buffer.alloc(n - 15))]),
      );
    assert.equal(padded(MAX_PROXY_V2_LENGTH).length, 16 + MAX_PROXY_V2_LENGTH);
    header(readAllWays(padded(MAX_PROXY_V2_LENGTH)));
    const over = padded(MAX_PROXY_V2_LENGTH + 1);
    const cuts = Array.from({ length: over.length - 1 }, (_, i) => i + 1);
    const { events, at } = feed(over, cuts);
    assert.equal(violation(events[0] as ProxyEvent).code, 'proxy-header-too-long');
    assert.equal(at, 16);
  });
});

describe('PROXY header detection', () => {
  it('refuses a connection that starts with anything else at its first byte', () => {
    const { events, at } = feed(TLS, [1, 2, 3]);
    assert.equal(violation(events[0] as ProxyEvent).code, 'proxy-header-invalid');
    assert.equal(at, 1);
  });

  it('says a connection closed mid-header is invalid', () => {
    const reader = new ProxyHeaderReader();
    assert.equal(reader.push(Buffer.from('PROXY TCP4 1.2')), undefined);
    assert.deepEqual(violation(reader.end()), {
      code: 'proxy-header-invalid',
      message: 'the connection closed after 14 bytes, before a complete PROXY header',
    });
  });

  const starts: [string, Buffer, boolean | undefined][] = [
    ['nothing', Buffer.alloc(0), undefined],
    ['"P"', Buffer.from('P'), undefined],
    ['"PROXY"', Buffer.from('PROXY'), undefined],
    ['"PROXY "', Buffer.from('PROXY '), true],
    ['"PROXZ"', Buffer.from('PROXZ'), false],
    ['a TLS record', TLS, false],
    ['11 bytes of the v2 signature', PROXY_V2_SIGNATURE.subarray(0, 11), undefined],
    ['the v2 signature', PROXY_V2_SIGNATURE, true],
    ['CR LF CR LF then X', Buffer.from('\r\n\r\nX'), false],
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\n'), false],
  ];
  for (const [what, bytes, want] of starts) {
    it(`startsWithProxyHeader(${what}) is ${String(want)}`, () => {
      assert.equal(startsWithProxyHeader(bytes), want);
    });
  }
});

describe('helpers', () => {
  it('crc32c matches the RFC 3720 check value', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa); // RFC 3720 §B.4: 32 bytes of zeros
  });

  const v6: [string, string][] = [
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['00010000000000000000000000000000', '1::'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // one zero group stays
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // first of two equal runs
    ['20010db8000100000000000000000001', '2001:db8:1::1'],
    ['fe800000000000000000abcdef0000ff', 'fe80::abcd:ef00:ff'],
  ];
  for (const [hex, text] of v6) {
    it(`formatIPv6 ${text}`, () => {
      assert.equal(formatIPv6(Buffer.from(hex, 'hex')), text);
    });
  }
});
