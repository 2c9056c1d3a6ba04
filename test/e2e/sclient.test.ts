/**
 * PROTOCOL-v1 spoken by hand: `openssl s_client` as the client of the real server. Proves the
 * wire format is what the spec says (header, exact body, trailer, close) and that the server's
 * TLS policy holds against a client that is not ours.
 *
 * s_client flags: `-quiet` implies `-ign_eof`, so s_client keeps reading after its stdin (the
 * request) ends and exits when the server closes; `-no_ign_eof` would instead send close_notify
 * as soon as stdin ends, before the answer. Without `-crlf` s_client passes bytes unchanged.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { makeTestPki, type CertFiles, type TestPki } from '../helpers/pki.js';
import { run, startServer, tempDir, type ServerProcess } from '../helpers/proc.js';

interface SClientResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `openssl s_client` against the server with `input` on stdin; binary stdout. */
function sClient(port: number, args: string[], input: string): Promise<SClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', '-ign_eof', ...args],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Server verification on: the CA, and the IP SAN of the server certificate. */
function verifying(pki: TestPki): string[] {
  return ['-CAfile', pki.ca, '-verify_return_error', '-verify_ip', '127.0.0.1'];
}

function identity(c: CertFiles): string[] {
  return ['-cert', c.cert, '-key', c.key];
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let work: { path: string; remove: () => Promise<void> };
let pki: TestPki;
let server: ServerProcess;
let source: Buffer;
let sourcePath: string;

before(async () => {
  work = await tempDir('securestream-sclient-');
  pki = await makeTestPki(join(work.path, 'fixtures'));
  const root = join(work.path, 'root');
  await mkdir(root);
  // Bytes that look like protocol lines, CR LF and NUL first: they must arrive as body bytes.
  source = Buffer.concat([
    Buffer.from(`OK 1 plain\r\nSHA256 ${'0'.repeat(64)}\n\0\r\n`),
    randomBytes(1024 * 1024 + 17),
  ]);
  sourcePath = join(root, 'file.bin');
  await writeFile(sourcePath, source);
  server = await startServer(['--pki', pki.pki, '--root', root]);
});

after(async () => {
  await server.stop();
  await work.remove();
});

void describe('openssl-s-client-speaks-protocol-v1', () => {
  void test('s-client-downloads-file-byte-exact-with-trailer-digest', async (t: TestContext) => {
    const since = server.logLines().length;
    const r = await sClient(
      server.port,
      [...verifying(pki), ...identity(pki.client)],
      'GET file.bin\n',
    );
    assert.equal(r.code, 0, r.stderr);

    const lf = r.stdout.indexOf(0x0a);
    const header = r.stdout.subarray(0, lf).toString('latin1');
    const m = /^OK (\d+) plain$/.exec(header);
    assert.ok(m?.[1], `header: ${JSON.stringify(header)}`);
    const length = Number(m[1]);
    assert.equal(length, source.length);
    const body = r.stdout.subarray(lf + 1, lf + 1 + length);
    const trailer = r.stdout.subarray(lf + 1 + length).toString('latin1');
    assert.ok(body.equals(source), 'body differs from the source file');
    const t2 = /^SHA256 ([0-9a-f]{64})\n$/.exec(trailer);
    assert.ok(t2?.[1], `trailer (and nothing after it): ${JSON.stringify(trailer.slice(0, 200))}`);

    const summed = await run('sha256sum', [sourcePath]);
    assert.equal(summed.code, 0, summed.stderr);
    const expected = summed.stdout.split(' ')[0];
    assert.equal(t2[1], expected, "trailer digest vs sha256sum of the server's file");
    assert.equal(sha256(body), t2[1], 'digest of the received bytes vs the trailer');

    const logged = await server.waitForLog((l) => l['msg'] === 'connection', { since });
    t.diagnostic(`server logged: ${JSON.stringify(logged)}`);
    assert.equal(logged['outcome'], 'ok');
    assert.equal(logged['request'], 'file.bin');
    assert.equal(logged['bytes'], source.length);
    assert.equal(logged['sha256'], expected);
    assert.equal(logged['subject'], 'CN=client');
    assert.equal(logged['protocol'], 'TLSv1.2');
    assert.equal(logged['cipher'], 'ECDHE-ECDSA-AES128-GCM-SHA256');
  });

  void test('s-client-gets-err-not-found-then-close', async (t: TestContext) => {
    const since = server.logLines().length;
    const r = await sClient(
      server.port,
      [...verifying(pki), ...identity(pki.client)],
      'GET missing.bin\n',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString('latin1'), 'ERR not-found no such file\n');
    // the line is written on close, which may come after s_client exits: wait for it here
    const logged = await server.waitForLog((l) => l['msg'] === 'connection', { since });
    t.diagnostic(`server logged: ${JSON.stringify(logged)}`);
    assert.equal(logged['outcome'], 'not-found');
    assert.equal(logged['request'], 'missing.bin');
  });
});

void describe('server-refuses-clients-outside-its-policy', () => {
  const refusals: {
    name: string;
    args: (p: TestPki) => string[];
    /** What s_client reports: the alert it got, or the close. */
    alert: RegExp;
    /** The server's reason in its handshake-failed log line. */
    reason: RegExp;
  }[] = [
    {
      name: 'tls12-client-demanding-aes256-gcm-sha384-only',
      args: (p) => ['-tls1_2', '-cipher', 'AES256-GCM-SHA384', ...identity(p.client)],
      alert: /alert handshake failure/,
      reason: /^no shared cipher suite$/,
    },
    {
      name: 'tls11-client',
      args: (p) => ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0', ...identity(p.client)],
      alert: /alert protocol version/,
      reason: /^client offered no allowed TLS version$/,
    },
    {
      name: 'client-without-certificate',
      args: () => [],
      alert: /alert handshake failure/,
      reason: /no certificate/,
    },
    {
      name: 'client-with-certificate-from-a-rogue-ca',
      args: (p) => identity(p.rogueClient),
      // node checks the chain after its side of the handshake and just drops the socket: no
      // alert reaches the client, which sees the connection end
      alert: /unexpected eof while reading/,
      reason: /unknown CA/,
    },
  ];

  for (const c of refusals) {
    void test(`handshake-fails: ${c.name}`, async (t: TestContext) => {
      const since = server.logLines().length;
      const r = await sClient(server.port, [...verifying(pki), ...c.args(pki)], 'GET file.bin\n');
      assert.notEqual(r.code, 0, 's_client must fail');
      assert.equal(r.stdout.length, 0, 'not a byte of a response');
      assert.match(r.stderr, c.alert);
      const logged = await server.waitForLog((l) => l['outcome'] === 'handshake-failed', {
        since,
      });
      t.diagnostic(`server logged: ${JSON.stringify(logged)}`);
      assert.match(String(logged['reason']), c.reason);
      assert.match(String(logged['peer']), /^127\.0\.0\.1:\d+$/);
      assert.equal(logged['level'], 40, 'a warning');
      const served = server
        .logLines()
        .slice(since)
        .filter((l) => l['msg'] === 'connection');
      assert.deepEqual(served, [], 'no request was served');
    });
  }
});
