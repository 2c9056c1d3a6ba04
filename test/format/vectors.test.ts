import { strict as assert } from 'node:assert';
import { createHash, createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  createDecryptStream,
  createEncryptStream,
  createVerifyStream,
  decryptBuffer,
  deriveFileKeys,
  ecPrivateKeyFromScalar,
  encryptBuffer,
  encryptedSize,
  identityFromPrivateKey,
  recipientFromPublicKey,
  recipientId,
} from '../../src/format/index.js';
import { chunkIv } from '../../src/format/chunk.js';
import { feed } from '../helpers/feed.js';

const DIR = new URL('../../../test/data/vectors-format-v1/', import.meta.url);
interface Case {
  plaintext_sha256: string;
  chunks: number;
  header_len: number;
  file_len: number;
  header_mac: string;
  chunk0_tag: string;
  file_sha256: string;
  header_hex?: string;
  plaintext: string;
}
const V = JSON.parse(readFileSync(new URL('vectors.json', DIR), 'utf8')) as {
  file_key: string;
  salt: string;
  k_header_mac: string;
  k_payload_enc: string;
  k_payload_mac: string;
  recipient_p256_d: string;
  ephemeral_p256_d: string;
  recipient_id: string;
  cases: Case[];
};
const hex = (s: string) => Buffer.from(s, 'hex');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const sizeOf = (c: Case) => Number(/x (\d+)$/.exec(c.plaintext)?.[1]);
const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff));

const privateKey = createPrivateKey(readFileSync(new URL('recipient-p256.key.pem', DIR)));
const identity = identityFromPrivateKey(privateKey);
const recipient = recipientFromPublicKey(createPublicKey(privateKey));
const ephemeral = ecPrivateKeyFromScalar('P-256', hex(V.ephemeral_p256_d));

function fixedRandom() {
  const queue = [hex(V.file_key), hex(V.salt)];
  return (n: number) => {
    const b = queue.shift();
    if (b?.length !== n) throw new Error(`unexpected random(${n})`);
    return b;
  };
}

void test('fixed inputs give the published scalars, rid and keys', () => {
  const d = createHash('sha256').update('securestream test recipient p256').digest('hex');
  assert.equal(d, V.recipient_p256_d);
  const e = createHash('sha256').update('securestream test ephemeral p256').digest('hex');
  assert.equal(e, V.ephemeral_p256_d);
  const scalar = privateKey.export({ format: 'jwk' }).d ?? '';
  assert.equal(Buffer.from(scalar, 'base64url').toString('hex'), V.recipient_p256_d);
  assert.equal(recipientId(privateKey).toString('hex'), V.recipient_id);
  const keys = deriveFileKeys(hex(V.file_key), hex(V.salt));
  assert.equal(keys.header.toString('hex'), V.k_header_mac);
  assert.equal(keys.enc.toString('hex'), V.k_payload_enc);
  assert.equal(keys.mac.toString('hex'), V.k_payload_mac);
});

for (const c of V.cases) {
  const n = sizeOf(c);
  const file = readFileSync(new URL(`p256_${n}.sst`, DIR));
  const plain = pattern(n);

  void test(`vector p256_${n}: reproduced byte for byte`, async () => {
    assert.equal(sha(plain), c.plaintext_sha256);
    assert.equal(file.length, c.file_len);
    assert.equal(sha(file), c.file_sha256);
    const opts = { recipients: [recipient], random: fixedRandom(), ephemeral: () => ephemeral };
    const out = await encryptBuffer(plain, opts);
    assert.equal(out.length, encryptedSize(n, [recipient]));
    assert.equal(sha(out), c.file_sha256);
    assert.ok(out.equals(file));
    const streamed = await feed(
      createEncryptStream({ ...opts, random: fixedRandom() }),
      plain,
      () => 1 + Math.floor(Math.random() * 9000),
    );
    assert.ok(streamed.equals(file));
    const bytewise = await feed(
      createEncryptStream({ ...opts, random: fixedRandom() }),
      plain,
      () => 1,
    );
    assert.ok(bytewise.equals(file), 'plaintext fed byte by byte');
  });

  void test(`vector p256_${n}: intermediate values`, () => {
    const h = c.header_len;
    if (c.header_hex) assert.equal(file.subarray(0, h).toString('hex'), c.header_hex);
    assert.equal(file.subarray(h - 32, h).toString('hex'), c.header_mac);
    const keys = deriveFileKeys(hex(V.file_key), hex(V.salt));
    const mac = createHmac('sha256', keys.header)
      .update(file.subarray(0, h - 32))
      .digest();
    assert.equal(mac.toString('hex'), c.header_mac);
    const first = Math.min(n, 65536);
    const tagAt = h + first;
    assert.equal(file.subarray(tagAt, tagAt + 32).toString('hex'), c.chunk0_tag);
    const iv = chunkIv(0, c.chunks === 1);
    const tag = createHmac('sha256', keys.mac).update(iv).update(file.subarray(h, tagAt));
    assert.equal(tag.digest('hex'), c.chunk0_tag);
    assert.equal(c.file_len, h + n + 32 * c.chunks);
  });

  void test(`vector p256_${n}: decrypts whole, streamed and fed byte by byte`, async () => {
    assert.ok((await decryptBuffer(file, { identities: [identity] })).equals(plain));
    const rnd = () => 1 + Math.floor(Math.random() * 20000);
    assert.ok(
      (await feed(createDecryptStream({ identities: [identity] }), file, rnd)).equals(plain),
    );
    // Byte by byte: every boundary of header, stanza, chunk and tag falls between two writes.
    const out = await feed(createDecryptStream({ identities: [identity] }), file, () => 1);
    assert.ok(out.equals(plain));
  });

  void test(`vector p256_${n}: verify stream passes the file through unchanged`, async () => {
    const rnd = () => 1 + Math.floor(Math.random() * 3000);
    const out = await feed(createVerifyStream({ identities: [identity] }), file, rnd);
    assert.ok(out.equals(file));
  });
}
