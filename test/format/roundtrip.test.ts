import { strict as assert } from 'node:assert';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  createDecryptStream,
  createEncryptStream,
  createVerifyStream,
  Encryptor,
  encryptedSize,
  identityFromPrivateKey,
  recipientFromPublicKey,
} from '../../src/format/index.js';
import { feed, seededSizes } from '../helpers/feed.js';

const SLOW = process.env['SLOW'] === '1';
const KEYS = {
  'RSA-2048': generateKeyPairSync('rsa', { modulusLength: 2048 }),
  'RSA-3072': generateKeyPairSync('rsa', { modulusLength: 3072 }),
  'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  'P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }),
};
const SIZES = [0, 1, 31, 32, 65535, 65536, 65537, 131072, 131079, 327680];

/** Feeds `input` in slices of 1..max bytes (seeded) and collects the output. */
const feedSeeded = (t: Transform, input: Buffer, max: number, seed: number): Promise<Buffer> =>
  feed(t, input, seededSizes(max, seed));

for (const [name, pair] of Object.entries(KEYS)) {
  void test(`round trip to ${name} at chunk-boundary sizes with random slicing`, async () => {
    const recipients = [recipientFromPublicKey(pair.publicKey)];
    const identities = [identityFromPrivateKey(pair.privateKey)];
    for (const [i, n] of SIZES.entries()) {
      const plain = randomBytes(n);
      const file = await feedSeeded(createEncryptStream({ recipients }), plain, 70000, i + 1);
      assert.equal(file.length, encryptedSize(n, recipients), `size ${n}`);
      const back = await feedSeeded(createDecryptStream({ identities }), file, 1 + i * 9000, i + 7);
      assert.ok(back.equals(plain), `size ${n}`);
      const same = await feedSeeded(createVerifyStream({ identities }), file, 50000, i + 3);
      assert.ok(same.equals(file));
    }
  });
}

void test('one file to all four key types opens with each', async () => {
  const recipients = Object.values(KEYS).map((k) => recipientFromPublicKey(k.publicKey));
  const plain = randomBytes(70000);
  const file = await feedSeeded(createEncryptStream({ recipients }), plain, 9000, 5);
  assert.equal(file.length, encryptedSize(plain.length, recipients));
  for (const k of Object.values(KEYS)) {
    const identities = [identityFromPrivateKey(k.privateKey)];
    assert.ok(
      (await feedSeeded(createDecryptStream({ identities }), file, 30000, 9)).equals(plain),
    );
  }
});

void test('property: any size and slicing round-trips', async () => {
  const pair = KEYS['P-256'];
  const recipients = [recipientFromPublicKey(pair.publicKey)];
  const identities = [identityFromPrivateKey(pair.privateKey)];
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.integer({ min: 0, max: 300_000 }), fc.constantFrom(0, 65535, 65536, 131072)),
      fc.integer({ min: 1, max: 100_000 }),
      fc.integer({ min: 1, max: 100_000 }),
      fc.integer(),
      async (n, wmax, rmax, seed) => {
        const plain = randomBytes(n);
        const file = await feedSeeded(createEncryptStream({ recipients }), plain, wmax, seed);
        assert.equal(file.length, encryptedSize(n, recipients));
        const back = await feedSeeded(createDecryptStream({ identities }), file, rmax, seed + 1);
        assert.ok(back.equals(plain));
      },
    ),
    { numRuns: SLOW ? 300 : 12 },
  );
});

void test(
  'multi-GiB streamed round trip keeps memory bounded',
  { skip: SLOW ? false : 'set SLOW=1: streams 3 GiB through encrypt and decrypt (about a minute)' },
  async () => {
    const pair = KEYS['P-256'];
    const block = randomBytes(1 << 20);
    const total = 3 * 1024; // MiB
    const inHash = createHash('sha256');
    const outHash = createHash('sha256');
    let peak = 0;
    const base = process.memoryUsage().rss;
    function* source() {
      for (let i = 0; i < total; i++) {
        inHash.update(block);
        yield block;
      }
    }
    const sink = new Transform({
      transform(b: Buffer, _e, cb) {
        outHash.update(b);
        peak = Math.max(peak, process.memoryUsage.rss());
        cb();
      },
    });
    await pipeline(
      Readable.from(source()),
      createEncryptStream({ recipients: [recipientFromPublicKey(pair.publicKey)] }),
      createDecryptStream({ identities: [identityFromPrivateKey(pair.privateKey)] }),
      sink,
    );
    assert.equal(outHash.digest('hex'), inHash.digest('hex'));
    assert.ok(peak - base < 256 * 1024 * 1024, `rss grew by ${(peak - base) >> 20} MiB`);
  },
);

void test('Encryptor keeps no view of its input: a caller may overwrite each buffer after update', async () => {
  const pair = KEYS['P-256'];
  const recipients = [recipientFromPublicKey(pair.publicKey)];
  const identities = [identityFromPrivateKey(pair.privateKey)];
  await fc.assert(
    fc.asyncProperty(
      fc.nat(300_000),
      fc.array(fc.integer({ min: 1, max: 90_000 }), { minLength: 1, maxLength: 8 }),
      async (size, pattern) => {
        const plain = randomBytes(size);
        const enc = await Encryptor.create({ recipients });
        const out: Buffer[] = [enc.header];
        const scratch = Buffer.alloc(90_000);
        for (let pos = 0, i = 0; pos < size; i++) {
          const n = Math.min(pattern[i % pattern.length] ?? 1, size - pos);
          const view = scratch.subarray(0, n);
          plain.copy(view, 0, pos, pos + n);
          out.push(...enc.update(view));
          scratch.fill(0xa5); // what a reused read buffer would hold next
          pos += n;
        }
        out.push(...enc.final());
        const file = Buffer.concat(out);
        assert.equal(file.length, encryptedSize(size, recipients));
        const back = await feedSeeded(createDecryptStream({ identities }), file, 65536, size + 1);
        assert.ok(back.equals(plain));
      },
    ),
    { numRuns: 25 },
  );
});
