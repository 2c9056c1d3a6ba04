import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  chunkCount,
  encryptedSize,
  headerSize,
  payloadSize,
  plaintextSize,
} from '../../src/format/index.js';

const SLOW = process.env['SLOW'] === '1';
const rsa4096 = { bodyLength: 32 + 512 };
const p256 = { bodyLength: 138 };
const p384 = { bodyLength: 170 };

void test('chunk count and payload size at the boundaries', () => {
  const table: [number, number, number][] = [
    // plaintext, chunks, payload
    [0, 1, 32],
    [1, 1, 33],
    [65535, 1, 65567],
    [65536, 1, 65568],
    [65537, 2, 65601],
    [131072, 2, 131136],
    [131079, 3, 131175],
  ];
  for (const [n, chunks, payload] of table) {
    assert.equal(chunkCount(n), chunks, `chunks of ${n}`);
    assert.equal(payloadSize(n), payload, `payload of ${n}`);
    assert.equal(plaintextSize(payload), n, `plaintext of ${payload}`);
  }
});

void test('header size follows the recipients', () => {
  assert.equal(headerSize([p256]), 218);
  assert.equal(headerSize([p384]), 45 + 3 + 170 + 32);
  assert.equal(headerSize([rsa4096, p256]), 45 + 3 + 544 + 3 + 138 + 32);
  assert.equal(encryptedSize(65537, [p256]), 65819);
});

void test('payload lengths no file can have are refused', () => {
  for (const p of [0, 1, 31, 65568 + 1, 65568 + 31, 65568 + 32, 2 * 65568 + 32, -5, 1.5]) {
    assert.equal(plaintextSize(p), undefined, String(p));
  }
  assert.throws(() => payloadSize(-1), RangeError);
});

void test('property: plaintextSize inverts payloadSize', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => plaintextSize(payloadSize(n)) === n),
    { numRuns: SLOW ? 100_000 : 2000 },
  );
});
