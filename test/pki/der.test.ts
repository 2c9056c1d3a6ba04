import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DerError,
  TAG,
  children,
  decodeOid,
  decodeTime,
  encodeElement,
  encodeTime,
  encodeUnsigned,
  readElement,
} from '../../src/pki/der.js';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s/g, ''), 'hex');

describe('DER reader', () => {
  test('short and long lengths; children stay inside their parent', () => {
    const el = readElement(hex('30 06 02 01 05 04 01 aa'), 0);
    assert.deepEqual(el, { tag: 0x30, start: 0, contentStart: 2, end: 8 });
    const kids = [...children(hex('30 06 02 01 05 04 01 aa'), el)];
    assert.deepEqual(
      kids.map((k) => [k.tag, k.start, k.end]),
      [
        [0x02, 2, 5],
        [0x04, 5, 8],
      ],
    );
    const long = Buffer.concat([hex('04 82 01 00'), Buffer.alloc(256)]);
    assert.equal(readElement(long, 0).end, 260);
  });

  const refused: [string, string, RegExp][] = [
    ['indefinite length', '30 80 00 00', /indefinite length/],
    ['non-minimal long form', '04 81 05 0102030405', /non-minimal length/],
    ['leading zero length byte', '04 82 00 80', /non-minimal length/],
    ['five length bytes', '04 85 0100000000', /length of 5 bytes/],
    ['content past the buffer', '04 05 0102', /runs past its container/],
    ['truncated header', '04', /truncated element/],
    ['high tag number', '1f 01 00', /high tag number/],
  ];
  for (const [what, bytes, message] of refused) {
    test(`refuses ${what}`, () => {
      assert.throws(
        () => readElement(hex(bytes), 0),
        (e: unknown) => {
          assert.ok(e instanceof DerError);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }

  test('a child that runs past its parent is refused', () => {
    const buf = hex('30 03 04 05 01 02 03 04 05');
    const parent = readElement(buf, 0);
    assert.throws(() => [...children(buf, parent)], DerError);
  });

  test('object identifiers and times', () => {
    const oid = hex('06 03 55 1d 1d');
    assert.equal(decodeOid(oid, readElement(oid, 0)), '2.5.29.29');
    const ecdsa = hex('06 08 2a 86 48 ce 3d 04 03 02');
    assert.equal(decodeOid(ecdsa, readElement(ecdsa, 0)), '1.2.840.10045.4.3.2');
    const utc = encodeTime(new Date('2049-12-31T23:59:59Z'));
    assert.equal(utc[0], TAG.UTC_TIME);
    assert.equal(decodeTime(utc, readElement(utc, 0)).toISOString(), '2049-12-31T23:59:59.000Z');
    const gen = encodeTime(new Date('2050-01-01T00:00:00Z'));
    assert.equal(gen[0], TAG.GENERALIZED_TIME);
    assert.equal(decodeTime(gen, readElement(gen, 0)).toISOString(), '2050-01-01T00:00:00.000Z');
    const bad = encodeElement(TAG.UTC_TIME, Buffer.from('250230000000Z'));
    assert.throws(() => decodeTime(bad, readElement(bad, 0)), /invalid calendar date/);
  });

  test('property: every length round-trips, content bytes included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 255 }), (n, b) => {
        const el = encodeElement(TAG.OCTET_STRING, Buffer.alloc(n, b));
        const read = readElement(el, 0);
        return read.end === el.length && read.end - read.contentStart === n;
      }),
      { numRuns: process.env.SLOW ? 5000 : 100 },
    );
  });

  test('property: unsigned integers are minimal and positive', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 21 }), (bytes) => {
        const el = encodeUnsigned(bytes);
        const content = el.subarray(readElement(el, 0).contentStart);
        const value = BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
        const minimal =
          content.length === 1 || !(content[0] === 0 && ((content[1] as number) & 0x80) === 0);
        return (
          minimal &&
          ((content[0] as number) & 0x80) === 0 &&
          BigInt(`0x${content.toString('hex')}`) === value
        );
      }),
      { numRuns: process.env.SLOW ? 5000 : 200 },
    );
  });
});
