import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SecureStreamError } from '../../src/errors.js';
import {
  decryptBuffer,
  encryptBuffer,
  encryptedSize,
  identityFromPrivateKey,
  passphraseIdentity,
  passphraseRecipient,
  recipientFromCertificate,
  recipientFromPublicKey,
} from '../../src/format/index.js';

const unsupported = (pattern: RegExp) => (e: unknown) =>
  e instanceof SecureStreamError && e.code === 'unsupported-key' && pattern.test(e.message);

void test('unsupported keys are refused with a message naming the type', () => {
  const table: [string, KeyObject, RegExp][] = [
    ['ed25519', generateKeyPairSync('ed25519').publicKey, /an ed25519 key/],
    ['x25519', generateKeyPairSync('x25519').publicKey, /an x25519 key/],
    ['rsa-pss', generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey, /RSA-PSS/],
    ['rsa-1024', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, /1024 bits/],
    ['secp256k1', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey, /secp256k1/],
    ['P-521', generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey, /secp521r1/],
  ];
  for (const [name, key, msg] of table) {
    assert.throws(() => recipientFromPublicKey(key), unsupported(msg), name);
  }
  const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;
  assert.throws(() => identityFromPrivateKey(pss), unsupported(/cannot decrypt with an RSA-PSS/));
  const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  assert.throws(() => identityFromPrivateKey(pub), unsupported(/expected a private key/));
});

void test('recipient from a certificate (openssl-made) round-trips', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sst-cert-'));
  try {
    const key = join(dir, 'k.pem');
    const crt = join(dir, 'c.pem');
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'];
    args.push('-nodes', '-keyout', key, '-out', crt, '-subj', '/CN=t', '-days', '1');
    execFileSync('openssl', args, { stdio: 'ignore' });
    const r = recipientFromCertificate(readFileSync(crt, 'utf8'));
    assert.equal(r.bodyLength, 170);
    const plain = randomBytes(1000);
    const file = await encryptBuffer(plain, { recipients: [r] });
    assert.equal(file.length, encryptedSize(1000, [r]));
    const identities = [identityFromPrivateKey(readFileSync(key, 'utf8'))];
    assert.ok((await decryptBuffer(file, { identities })).equals(plain));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('bad certificate text is refused', () => {
  assert.throws(
    () => recipientFromCertificate('not a certificate'),
    (e: unknown) => e instanceof SecureStreamError && e.code === 'bad-certificate',
  );
});

void test('passphrase is NFC-normalised; default cost 18 round-trips', async () => {
  const composed = 'caf\u00e9 \u00fcber';
  const decomposed = 'cafe\u0301 u\u0308ber';
  const plain = randomBytes(100);
  const file = await encryptBuffer(plain, { recipients: [passphraseRecipient(decomposed)] });
  assert.equal(file[45 + 3 + 16], 18);
  const back = await decryptBuffer(file, { identities: [passphraseIdentity(composed)] });
  assert.ok(back.equals(plain));
});

void test('passphrase recipient refuses an empty passphrase and costs outside 10..20', () => {
  const code = (c: string) => (e: unknown) => e instanceof SecureStreamError && e.code === c;
  assert.throws(() => passphraseRecipient(''), code('passphrase-empty'));
  assert.throws(() => passphraseRecipient('x', { log2N: 9 }), code('format-scrypt-cost'));
  assert.throws(() => passphraseRecipient('x', { log2N: 21 }), code('format-scrypt-cost'));
});

void test('encryption is randomised: same input, different files', async () => {
  const r = recipientFromPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const a = await encryptBuffer(Buffer.alloc(10), { recipients: [r] });
  const b = await encryptBuffer(Buffer.alloc(10), { recipients: [r] });
  assert.ok(!a.equals(b));
  assert.ok(!a.subarray(12, 44).equals(b.subarray(12, 44)), 'salt differs');
});
