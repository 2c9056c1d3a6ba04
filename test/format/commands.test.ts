import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runDecrypt, defaultDecryptOutput } from '../../src/commands/decrypt.js';
import { runEncrypt } from '../../src/commands/encrypt.js';
import { SecureStreamError } from '../../src/errors.js';
import { isRoot, mountTmpfs, umount } from '../helpers/tmpfs.js';

let dir = '';
const plain = randomBytes(200_000);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const code = (c: string) => (e: unknown) => e instanceof SecureStreamError && e.code === c;
const p = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sst-cmd-'));
  await mkdir(p('pki'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p('pki/client.key'),
      '-out',
      p('client.crt'),
      '-subj',
      '/CN=client',
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  await writeFile(p('data.bin'), plain);
});
after(() => rm(dir, { recursive: true, force: true }));

void test('encrypt to a certificate, decrypt with --key and --pki', async () => {
  const lines: string[] = [];
  await runEncrypt({ file: p('data.bin'), to: [p('client.crt')] }, (l) => lines.push(l));
  const enc = await readFile(p('data.bin.sst'));
  assert.deepEqual(lines, [`${sha(enc)}  ${p('data.bin.sst')}`]);
  await runDecrypt({ file: p('data.bin.sst'), key: p('pki/client.key'), out: p('a.out') }, (l) =>
    lines.push(l),
  );
  assert.ok((await readFile(p('a.out'))).equals(plain));
  assert.equal(lines[1], `${sha(plain)}  ${p('a.out')}`);
  await runDecrypt(
    { file: p('data.bin.sst'), pki: p('pki'), out: p('b.out'), expectSha256: sha(plain) },
    () => undefined,
  );
  assert.ok((await readFile(p('b.out'))).equals(plain));
});

void test('--expect-sha256 mismatch leaves no output', async () => {
  await runEncrypt({ file: p('data.bin'), to: [p('client.crt')], out: p('e.sst') }, () => 0);
  await assert.rejects(
    runDecrypt({ file: p('e.sst'), pki: p('pki'), expectSha256: '0'.repeat(64) }, () => 0),
    code('digest-mismatch'),
  );
  const left = await readdir(dir);
  assert.ok(!left.includes('e'), 'no output file');
  assert.ok(!left.some((f) => f.endsWith('.part')), 'no temp file');
});

void test('passphrase file: first line, CRLF stripped, NFC', async () => {
  await writeFile(p('pass1'), 'cafe\u0301\r\nsecond line\n');
  await writeFile(p('pass2'), 'caf\u00e9');
  await runEncrypt(
    { file: p('data.bin'), to: [], passphraseFile: p('pass1'), log2N: 10, out: p('s.sst') },
    () => 0,
  );
  await runDecrypt({ file: p('s.sst'), passphraseFile: p('pass2') }, () => 0);
  assert.ok((await readFile(p('s'))).equals(plain));
  await writeFile(p('empty'), '\nsecret\n');
  await assert.rejects(
    runDecrypt({ file: p('s.sst'), passphraseFile: p('empty') }, () => 0),
    code('passphrase-empty'),
  );
});

void test('flag conflicts are usage errors naming the flags', async () => {
  const f = p('data.bin.sst');
  const usage = (m: RegExp) => (e: unknown) => code('usage')(e) && m.test((e as Error).message);
  await assert.rejects(
    runDecrypt({ file: f }, () => 0),
    usage(/--key, --pki or --passphrase-file/),
  );
  await assert.rejects(
    runDecrypt({ file: f, key: 'k', pki: 'd' }, () => 0),
    usage(/--key and --pki cannot be combined/),
  );
  await assert.rejects(
    runEncrypt({ file: f, to: ['x'], passphraseFile: 'y' }, () => 0),
    usage(/--to and --passphrase-file/),
  );
  await assert.rejects(
    runEncrypt({ file: f, to: [] }, () => 0),
    usage(/no recipient/),
  );
  await assert.rejects(
    runDecrypt({ file: f, pki: p('pki'), out: f }, () => 0),
    usage(/is the input file/),
  );
  await assert.rejects(
    runDecrypt({ file: f, pki: p('pki'), expectSha256: 'abc' }, () => 0),
    usage(/64 hexadecimal/),
  );
});

void test('missing input and unsupported recipient key', async () => {
  await assert.rejects(
    runDecrypt({ file: p('nope.sst'), pki: p('pki') }, () => 0),
    code('input-not-found'),
  );
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', p('ed.key')]);
  execFileSync('openssl', ['pkey', '-in', p('ed.key'), '-pubout', '-out', p('ed.pub')]);
  await assert.rejects(
    runEncrypt({ file: p('data.bin'), to: [p('ed.pub')] }, () => 0),
    code('unsupported-key'),
  );
});

void test('default decrypt output names', () => {
  assert.equal(defaultDecryptOutput('a/b.txt.sst'), 'a/b.txt');
  assert.equal(defaultDecryptOutput('a/b.bin'), 'a/b.bin.out');
  assert.equal(defaultDecryptOutput('a/.sst'), 'a/.sst.out');
});

void test('a full disk fails encrypt and decrypt with disk-full and leaves nothing', async (t) => {
  if (!isRoot) {
    t.skip('needs root to mount a 1 MiB tmpfs (a full disk cannot be simulated otherwise)');
    return;
  }
  const big = randomBytes(3 * 1024 * 1024);
  await writeFile(p('big.bin'), big);
  await runEncrypt({ file: p('big.bin'), to: [p('client.crt')], out: p('big.sst') }, () => 0);
  const small = p('small');
  await mkdir(small);
  const m = mountTmpfs(small, 'size=1m');
  if (!m.ok) {
    t.skip(`running as root but cannot mount a tmpfs: ${m.error}`);
    return;
  }
  try {
    await assert.rejects(
      runEncrypt({ file: p('big.bin'), to: [p('client.crt')], out: join(small, 'e.sst') }, () => 0),
      code('disk-full'),
    );
    await assert.rejects(
      runDecrypt({ file: p('big.sst'), pki: p('pki'), out: join(small, 'd.bin') }, () => 0),
      code('disk-full'),
    );
    assert.deepEqual(await readdir(small), []);
  } finally {
    umount(small);
  }
});

void test('decrypt --out -: plaintext on stdout as it verifies, digest line on stderr, no file named "-"', async () => {
  const { runCli } = await import('../helpers/proc.js');
  await runEncrypt({ file: p('data.bin'), to: [p('client.crt')], out: p('pipe.sst') }, () => {});
  const cwd = p('pipe-cwd');
  await mkdir(cwd);
  const key = ['--key', p('pki/client.key'), '--out', '-'];
  const ok = await runCli(['decrypt', p('pipe.sst'), ...key], { cwd });
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(ok.stdoutBytes.equals(plain));
  assert.equal(ok.stderr, `${sha(plain)}  -\n`);
  const wrong = await runCli(
    ['decrypt', p('pipe.sst'), ...key, '--expect-sha256', 'a'.repeat(64)],
    {
      cwd,
    },
  );
  assert.equal(wrong.code, 5, wrong.stderr);
  assert.match(
    wrong.stderr,
    /^securestream: error: plaintext SHA-256 [0-9a-f]{64} does not match/m,
  );
  // A chunk near the end altered: what verified before it went out, then exit 5.
  const enc = await readFile(p('pipe.sst'));
  enc.writeUInt8(enc.readUInt8(enc.length - 40) ^ 1, enc.length - 40);
  await writeFile(p('tampered.sst'), enc);
  const bad = await runCli(['decrypt', p('tampered.sst'), ...key], { cwd });
  assert.equal(bad.code, 5, bad.stderr);
  assert.match(bad.stderr, /^securestream: error: /m);
  assert.doesNotMatch(bad.stderr, / {2}-$/m, 'no digest line for a failed decryption');
  assert.ok(bad.stdoutBytes.length < plain.length);
  assert.ok(plain.subarray(0, bad.stdoutBytes.length).equals(bad.stdoutBytes));
  assert.deepEqual(await readdir(cwd), []);
});
