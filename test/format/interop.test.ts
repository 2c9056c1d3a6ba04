import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

// Decrypts a vector with the openssl CLI only: no code of src/format is used here, so this
// checks the spec and the vectors, not our decoder against itself.
const DIR = new URL('../../../test/data/vectors-format-v1/', import.meta.url);
const SPKI_P256_PREFIX = '3059301306072a8648ce3d020106082a8648ce3d030107034200';

function ossl(args: string[], input?: Buffer): Buffer {
  return execFileSync('openssl', args, { input, maxBuffer: 1 << 24 });
}
const hexOf = (s: string) => Buffer.from(s, 'latin1').toString('hex');
function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return ossl([
    'kdf',
    '-binary',
    '-keylen',
    '32',
    '-kdfopt',
    'digest:SHA256',
    '-kdfopt',
    `hexkey:${ikm.toString('hex')}`,
    '-kdfopt',
    `hexsalt:${salt.toString('hex')}`,
    '-kdfopt',
    `hexinfo:${hexOf(info)}`,
    'HKDF',
  ]);
}
function iv(i: number, last: boolean): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(i, 4);
  b[8] = last ? 1 : 0;
  return b;
}

void test('openssl CLI alone decrypts p256_65537.sst (two chunks)', () => {
  const file = readFileSync(new URL('p256_65537.sst', DIR));
  const tmp = mkdtempSync(join(tmpdir(), 'sst-ossl-'));
  try {
    const salt = file.subarray(12, 44);
    assert.equal(file[44], 1);
    const body = file.subarray(48, 48 + file.readUInt16BE(46));
    const rid = body.subarray(0, 32);
    const epk = body.subarray(33, 98);
    const w = body.subarray(98, 138);
    const hdrEnd = 48 + body.length;
    const peer = join(tmp, 'epk.der');
    writeFileSync(peer, Buffer.concat([Buffer.from(SPKI_P256_PREFIX, 'hex'), epk]));
    const z = ossl([
      'pkeyutl',
      '-derive',
      '-inkey',
      new URL('recipient-p256.key.pem', DIR).pathname,
      '-peerkey',
      peer,
      '-peerform',
      'DER',
    ]);
    const kek = hkdf(z, Buffer.concat([epk, rid]), 'securestream/v1 ecdh-es');
    const fileKey = ossl(
      ['enc', '-d', '-id-aes256-wrap', '-K', kek.toString('hex'), '-iv', 'A6A6A6A6A6A6A6A6'],
      w,
    );
    assert.equal(
      fileKey.toString('hex'),
      Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex'),
    );
    const kHdr = hkdf(fileKey, salt, 'securestream/v1 header-mac');
    const kEnc = hkdf(fileKey, salt, 'securestream/v1 payload-enc');
    const kMac = hkdf(fileKey, salt, 'securestream/v1 payload-mac');
    const mac = (key: Buffer, data: Buffer) =>
      ossl(
        ['dgst', '-sha256', '-binary', '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`],
        data,
      );
    assert.ok(mac(kHdr, file.subarray(0, hdrEnd)).equals(file.subarray(hdrEnd, hdrEnd + 32)));
    let off = hdrEnd + 32;
    const plain: Buffer[] = [];
    for (const [i, len, last] of [
      [0, 65536, false],
      [1, 1, true],
    ] as const) {
      const c = file.subarray(off, off + len);
      const tag = file.subarray(off + len, off + len + 32);
      assert.ok(mac(kMac, Buffer.concat([iv(i, last), c])).equals(tag), `tag ${i}`);
      const args = ['enc', '-d', '-aes-256-ctr', '-K', kEnc.toString('hex')];
      plain.push(ossl([...args, '-iv', iv(i, last).toString('hex')], c));
      off += len + 32;
    }
    assert.equal(off, file.length);
    const expected = Buffer.from(Array.from({ length: 65537 }, (_, i) => i & 0xff));
    assert.ok(Buffer.concat(plain).equals(expected));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
