import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Transform } from 'node:stream';
import { test } from 'node:test';
import { runDecrypt } from '../../src/commands/decrypt.js';
import type { DecryptCommandOptions } from '../../src/config.js';
import { SecureStreamError } from '../../src/errors.js';
import { ChunkCipher } from '../../src/format/chunk.js';
import { encodeHeader } from '../../src/format/header.js';
import {
  createDecryptStream,
  createEncryptStream,
  createVerifyStream,
  deriveFileKeys,
  encryptBuffer,
  identityFromPrivateKey,
  passphraseIdentity,
  passphraseRecipient,
  type FormatErrorCode,
  type Identity,
  type Stanza,
} from '../../src/format/index.js';
import { feedSlices } from '../helpers/feed.js';

const DIR = new URL('../../../test/data/vectors-format-v1/', import.meta.url);
const vec = (n: number) => readFileSync(new URL(`p256_${n}.sst`, DIR));
const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff));
const FILE_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const SALT = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x20 + i));
const H = 218;
const FULL = 65568;
const at = (k: number) => H + k * FULL;

const f1 = vec(1);
const f64k = vec(65536);
const f128k = vec(131072);
const f200k = vec(200000);
const header = f1.subarray(0, H);
const stanza = { type: 2, body: header.subarray(48, 48 + 138) };

/** A copy of `b` with byte `i` xor `mask`. */
function flip(b: Buffer, i: number, mask = 1): Buffer {
  const c = Buffer.from(b);
  c[i] = (c[i] ?? 0) ^ mask;
  return c;
}

/** Header with the vector key, then chunks sealed as told (any index, any final flag). */
function craft(
  chunks: { plain: Buffer; index: number; last: boolean }[],
  stanzas: Stanza[] = [stanza],
) {
  const keys = deriveFileKeys(FILE_KEY, SALT);
  const out: Buffer[] = [encodeHeader(SALT, stanzas, keys.header)];
  const c = new ChunkCipher(keys);
  for (const k of chunks) c.seal([k.plain], k.index, k.last, out);
  return Buffer.concat(out);
}

function run(t: Transform, input: Buffer): Promise<{ out: Buffer; err: unknown }> {
  return feedSlices(t, input, () => 1 + Math.floor(Math.random() * 40000));
}

function assertCode(err: unknown, code: FormatErrorCode, message?: RegExp): void {
  assert.ok(err instanceof SecureStreamError, `expected ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, /^[a-z]/);
  if (message) assert.match(err.message, message);
}

const pass = passphraseRecipient('correct horse', { log2N: 10 });
const scryptFile = await encryptBuffer(pattern(10), { recipients: [pass] });
const otherKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const PEM = {
  me: readFileSync(new URL('recipient-p256.key.pem', DIR), 'utf8'),
  other: otherKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};
/** Who decrypts: a key (by name) or a passphrase. */
type Who = { key: keyof typeof PEM } | { passphrase: string };
const identityOf = (w: Who): Identity =>
  'key' in w ? identityFromPrivateKey(PEM[w.key]) : passphraseIdentity(w.passphrase);
const swap = (b: Buffer, i: number, j: number) => {
  const c = Buffer.from(b);
  b.copy(c, at(i), at(j), at(j + 1));
  b.copy(c, at(j), at(i), at(i + 1));
  return c;
};
const cat = (...b: Buffer[]) => Buffer.concat(b);

interface Case {
  name: string;
  file: Buffer;
  code: FormatErrorCode;
  message?: RegExp;
  who?: Who;
}
const cases: Case[] = [
  { name: 'empty input', file: Buffer.alloc(0), code: 'format-truncated' },
  { name: 'truncated inside the magic', file: f1.subarray(0, 5), code: 'format-truncated' },
  { name: 'truncated inside the header', file: f1.subarray(0, 100), code: 'format-truncated' },
  {
    name: 'truncated before the header mac ends',
    file: f1.subarray(0, H - 1),
    code: 'format-truncated',
  },
  { name: 'header only', file: f1.subarray(0, H), code: 'format-truncated' },
  {
    name: 'truncated at a chunk boundary',
    file: f128k.subarray(0, at(1)),
    code: 'format-truncated',
    message: /without a final chunk/,
  },
  {
    name: 'truncated mid-chunk',
    file: f200k.subarray(0, at(2) + 1000),
    code: 'format-chunk-failed',
    message: /^chunk 2 failed authentication$/,
  },
  {
    name: 'truncated inside the last tag',
    file: f1.subarray(0, f1.length - 10),
    code: 'format-truncated',
  },
  {
    name: 'chunks swapped',
    file: swap(f200k, 0, 1),
    code: 'format-chunk-failed',
    message: /^chunk 0 /,
  },
  {
    name: 'chunk duplicated',
    file: cat(f200k.subarray(0, at(1)), f200k.subarray(at(0))),
    code: 'format-chunk-failed',
    message: /^chunk 1 /,
  },
  {
    name: 'chunk deleted',
    file: cat(f200k.subarray(0, at(1)), f200k.subarray(at(2))),
    code: 'format-chunk-failed',
    message: /^chunk 1 /,
  },
  {
    name: 'one trailing byte after a full final chunk',
    file: cat(f64k, Buffer.of(0)),
    code: 'format-trailing-data',
  },
  {
    name: 'one trailing byte after a short final chunk',
    file: cat(f1, Buffer.of(0)),
    code: 'format-chunk-failed',
  },
  {
    name: 'a trailing chunk',
    file: cat(f64k, f128k.subarray(at(0), at(1))),
    code: 'format-trailing-data',
  },
  {
    name: 'two final chunks',
    file: craft([
      { plain: pattern(65536), index: 0, last: true },
      { plain: pattern(5), index: 1, last: true },
    ]),
    code: 'format-trailing-data',
  },
  {
    name: 'empty final chunk after data',
    file: craft([
      { plain: pattern(65536), index: 0, last: false },
      { plain: Buffer.alloc(0), index: 1, last: true },
    ]),
    code: 'format-empty-final-chunk',
  },
  {
    name: 'short non-final chunk',
    file: craft([
      { plain: pattern(100), index: 0, last: false },
      { plain: pattern(100), index: 1, last: true },
    ]),
    code: 'format-chunk-failed',
    message: /^chunk 0 /,
  },
  {
    name: 'bit flip in ciphertext',
    file: flip(f200k, at(1) + 77),
    code: 'format-chunk-failed',
    message: /^chunk 1 /,
  },
  {
    name: 'bit flip in a tag',
    file: flip(f200k, at(2) - 1),
    code: 'format-chunk-failed',
    message: /^chunk 1 /,
  },
  {
    name: 'bit flip in the final chunk',
    file: flip(f200k, f200k.length - 40),
    code: 'format-chunk-failed',
    message: /^chunk 3 /,
  },
  { name: 'bit flip in salt', file: flip(f1, 20), code: 'format-header-tampered' },
  { name: 'bit flip in header mac', file: flip(f1, H - 1, 0x80), code: 'format-header-tampered' },
  { name: 'bit flip in magic', file: flip(f1, 0), code: 'format-bad-magic' },
  { name: 'bit flip in version', file: flip(f1, 7, 2), code: 'format-bad-version' },
  { name: 'bit flip in suite', file: flip(f1, 8), code: 'format-bad-suite' },
  { name: 'bit flip in chunk_log2', file: flip(f1, 9), code: 'format-bad-chunk-size' },
  { name: 'bit flip in flags', file: flip(f1, 11), code: 'format-bad-flags' },
  {
    name: 'off-curve epk',
    file: flip(f1, 48 + 33 + 64),
    code: 'format-bad-stanza',
    message: /not a point on P-256/,
  },
  {
    name: 'compressed-point prefix in epk',
    file: flip(f1, 48 + 33, 0x06),
    code: 'format-bad-stanza',
  },
  {
    name: 'unknown curve byte',
    file: flip(f1, 48 + 32, 0x08),
    code: 'format-bad-stanza',
    message: /unknown curve 9/,
  },
  {
    name: 'stanza count 0',
    file: flip(f1, 44, 1),
    code: 'format-bad-stanza',
    message: /0 stanzas/,
  },
  {
    name: 'stanza count 9',
    file: flip(f1, 44, 8),
    code: 'format-bad-stanza',
    message: /9 stanzas/,
  },
  {
    name: 'stanza length over 1100',
    file: (() => {
      const c = Buffer.from(f1);
      c.writeUInt16BE(1101, 46);
      return c;
    })(),
    code: 'format-bad-stanza',
    message: /1101, over the limit of 1100/,
  },
  {
    name: 'stanza body shorter than its curve',
    file: (() => {
      const c = Buffer.from(f1);
      c.writeUInt16BE(137, 46);
      return c;
    })(),
    code: 'format-bad-stanza',
    message: /expected 138/,
  },
  { name: 'wrong key (wrapped key corrupted)', file: flip(f1, 48 + 137), code: 'format-wrong-key' },
  {
    name: 'wrong recipient',
    file: f1,
    code: 'format-not-recipient',
    who: { key: 'other' },
    message: /not encrypted to EC P-256 key/,
  },
  {
    name: 'passphrase for a key-encrypted file',
    file: f1,
    code: 'format-not-recipient',
    who: { passphrase: 'x' },
  },
  { name: 'key for a passphrase-encrypted file', file: scryptFile, code: 'format-not-recipient' },
  {
    name: 'wrong passphrase',
    file: scryptFile,
    code: 'format-wrong-passphrase',
    who: { passphrase: 'wrong horse' },
  },
  {
    name: 'scrypt cost over 20',
    file: (() => {
      const c = Buffer.from(scryptFile);
      c[48 + 16] = 21;
      return c;
    })(),
    code: 'format-scrypt-cost',
    who: { passphrase: 'correct horse' },
  },
  {
    name: 'scrypt cost under 10',
    file: (() => {
      const c = Buffer.from(scryptFile);
      c[48 + 16] = 9;
      return c;
    })(),
    code: 'format-scrypt-cost',
    who: { passphrase: 'correct horse' },
  },
  {
    name: 'scrypt beside another stanza',
    file: craft(
      [{ plain: pattern(3), index: 0, last: true }],
      [{ type: 3, body: scryptFile.subarray(48, 48 + 57) }, stanza],
    ),
    code: 'format-scrypt-not-alone',
  },
  {
    name: 'unknown stanza modified',
    file: flip(
      craft(
        [{ plain: pattern(3), index: 0, last: true }],
        [{ type: 0x7f, body: Buffer.alloc(9) }, stanza],
      ),
      50,
    ),
    code: 'format-header-tampered',
  },
];

for (const c of cases) {
  for (const [mode, make] of [
    ['decrypt', createDecryptStream],
    ['verify', createVerifyStream],
  ] as const) {
    void test(`${mode} rejects: ${c.name} (${c.code})`, async () => {
      const { err } = await run(make({ identities: [identityOf(c.who ?? { key: 'me' })] }), c.file);
      assertCode(err, c.code, c.message);
    });
  }
  void test(`decrypt command leaves no output: ${c.name}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sst-neg-'));
    try {
      const who = c.who ?? { key: 'me' };
      await writeFile(join(dir, 'in.sst'), c.file);
      const opts: DecryptCommandOptions = { file: join(dir, 'in.sst') };
      if ('key' in who) {
        await writeFile(join(dir, 'k.pem'), PEM[who.key]);
        Object.assign(opts, { key: join(dir, 'k.pem') });
      } else {
        await writeFile(join(dir, 'pass'), `${who.passphrase}\n`);
        Object.assign(opts, { passphraseFile: join(dir, 'pass') });
      }
      const lines: string[] = [];
      await assert.rejects(
        runDecrypt(opts, (l) => lines.push(l)),
        (e: unknown) => {
          assertCode(e, c.code);
          return true;
        },
      );
      assert.deepEqual(lines, []);
      const left = (await readdir(dir)).sort();
      assert.deepEqual(left, 'key' in who ? ['in.sst', 'k.pem'] : ['in.sst', 'pass']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

void test('unknown stanza types are skipped when intact', async () => {
  const file = craft(
    [{ plain: pattern(3), index: 0, last: true }],
    [{ type: 0x7f, body: Buffer.alloc(9) }, stanza],
  );
  const { out, err } = await run(
    createDecryptStream({ identities: [identityOf({ key: 'me' })] }),
    file,
  );
  assert.equal(err, undefined);
  assert.ok(out.equals(pattern(3)));
});

void test('positive controls: empty file and exact multiples of 64 KiB', async () => {
  for (const n of [0, 65536, 131072]) {
    const { out, err } = await run(
      createDecryptStream({ identities: [identityOf({ key: 'me' })] }),
      vec(n),
    );
    assert.equal(err, undefined);
    assert.ok(out.equals(pattern(n)));
  }
});

void test('no plaintext of a failing chunk is released', async () => {
  const { out, err } = await run(
    createDecryptStream({ identities: [identityOf({ key: 'me' })] }),
    flip(f200k, at(2) + 5),
  );
  assertCode(err, 'format-chunk-failed', /^chunk 2 /);
  assert.ok(out.equals(pattern(2 * 65536)));
  const v = await run(
    createVerifyStream({ identities: [identityOf({ key: 'me' })] }),
    flip(f200k, at(2) + 5),
  );
  assert.ok(v.out.equals(f200k.subarray(0, at(2))));
});

void test('encoder refuses a passphrase beside another recipient', () => {
  assert.throws(
    () => createEncryptStream({ recipients: [pass, pass] }),
    (e: unknown) => e instanceof SecureStreamError && e.code === 'format-scrypt-not-alone',
  );
});
