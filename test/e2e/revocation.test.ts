/**
 * Revocation: `pki revoke` then SIGHUP shuts one client out without a restart, while a transfer
 * in flight (by that very client) completes with a correct digest and other clients get in.
 * Also --crl FILE, CRLs that would lock clients out, and a CRL that disappears.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, startServer, tempDir, type ServerProcess } from '../helpers/proc.js';
import { rawExchange } from '../helpers/raw.js';
import { holdTransfer, sha256File } from '../helpers/transfer.js';

describe('revocation', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let pki: string;
  let root: string;
  let server: ServerProcess | undefined;
  const get = (who: string, port: number, extra: string[] = []) =>
    runCli([
      'get',
      'hello.txt',
      '--server',
      `localhost:${port}`,
      '--ca',
      join(pki, 'ca.crt'),
      '--cert',
      join(pki, `${who}.crt`),
      '--key',
      join(pki, `${who}.key`),
      '--out',
      join(dir.path, `out-${who}-${Date.now()}`),
      ...extra,
    ]);

  /** In-process client (faster than a `get` process): true when the server answered OK. */
  const served = async (certDir: string, who: string, port: number): Promise<boolean> => {
    const r = await rawExchange({
      port,
      ca: join(pki, 'ca.crt'),
      client: { cert: join(certDir, `${who}.crt`), key: join(certDir, `${who}.key`) },
      send: 'GET hello.txt\n',
    });
    return r.received.toString().startsWith('OK 6 plain\n');
  };

  before(async () => {
    dir = await tempDir();
    pki = join(dir.path, 'pki');
    const init = await runCli([
      'pki',
      'init',
      '--dir',
      pki,
      '--client',
      'alice',
      '--client',
      'bob',
    ]);
    assert.equal(init.code, 0, init.stderr);
    root = join(dir.path, 'root');
    await mkdir(root);
    await writeFile(join(root, 'hello.txt'), 'hello\n');
    await writeFile(join(root, 'big.bin'), randomBytes(24 * 1024 * 1024));
  });
  after(async () => {
    await server?.stop();
    await dir.remove();
  });

  it('pki revoke + SIGHUP: the revoked client is refused, others and transfers in flight go on', async () => {
    server = await startServer(['--pki', pki, '--root', root]);
    // No crl.pem yet: every client of the CA gets in.
    assert.equal(await served(pki, 'alice', server.port), true);
    assert.equal(await served(pki, 'bob', server.port), true);

    const held = await holdTransfer({
      port: server.port,
      ca: join(pki, 'ca.crt'),
      client: { cert: join(pki, 'alice.crt'), key: join(pki, 'alice.key') },
      name: 'big.bin',
    });
    const revoked = await runCli(['pki', 'revoke', 'alice', '--dir', pki]);
    assert.equal(revoked.code, 0, revoked.stderr);
    // Not yet: the server reads the CRL at start and on SIGHUP only.
    assert.equal(await served(pki, 'alice', server.port), true);

    const since = server.logLines().length;
    process.kill(server.pid, 'SIGHUP');
    const reloaded = await server.waitForLog((l) => l['msg'] === 'reloaded', { since });
    assert.equal(reloaded['crl'], join(pki, 'crl.pem'));
    assert.equal(reloaded['revoked'], 1);

    const refused = await get('alice', server.port);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /closed the connection after receiving our certificate/);
    const line = await server.waitForLog((l) => l['outcome'] === 'handshake-failed', { since });
    const alice = new X509Certificate(await readFile(join(pki, 'alice.crt')));
    const serial = alice.serialNumber.toLowerCase().replace(/^0+/, '');
    assert.match(
      String(line['reason']),
      new RegExp(
        `^client certificate revoked \\(serial ${serial}, by the CRL of "CN=securestream CA`,
      ),
    );
    assert.equal(line['cause'], 'revoked');
    assert.equal(line['subject'], 'CN=alice');
    assert.equal(line['serial'], serial);
    assert.equal(line['fingerprint256'], alice.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.equal(line['verifyError'], 'CERT_REVOKED');

    assert.equal(await served(pki, 'bob', server.port), true, 'bob is not revoked');
    assert.equal(await served(pki, 'client', server.port), true);

    const done = await held.finish();
    assert.equal(done.complete, true, JSON.stringify({ ...done, trailer: done.trailer }));
    assert.equal(done.bodySha256, sha256File(join(root, 'big.bin')));
    assert.equal(await server.stop(), 0);
    server = undefined;
  });

  it('a crl.pem that disappears fails the reload and stays in force', async () => {
    server = await startServer(['--pki', pki, '--root', root]);
    await rename(join(pki, 'crl.pem'), join(pki, 'crl.pem.away'));
    try {
      const since = server.logLines().length;
      process.kill(server.pid, 'SIGHUP');
      const l = await server.waitForLog(
        (x) => x['msg'] === 'reload failed; keeping the previous material',
        { since },
      );
      assert.equal(l['code'], 'crl-missing');
      assert.equal(await served(pki, 'alice', server.port), false);
      assert.equal(await served(pki, 'bob', server.port), true);
    } finally {
      await rename(join(pki, 'crl.pem.away'), join(pki, 'crl.pem'));
      await server.stop();
      server = undefined;
    }
  });

  it('--crl FILE with explicit --ca/--cert/--key', async () => {
    const crl = join(dir.path, 'elsewhere.pem');
    await copyFile(join(pki, 'crl.pem'), crl);
    const material = [
      '--ca',
      join(pki, 'ca.crt'),
      '--cert',
      join(pki, 'server.crt'),
      '--key',
      join(pki, 'server.key'),
    ];
    server = await startServer([...material, '--root', root, '--crl', crl]);
    try {
      assert.equal(await served(pki, 'alice', server.port), false);
      assert.equal(await served(pki, 'bob', server.port), true);
    } finally {
      await server.stop();
      server = undefined;
    }
    // Without --crl, explicit material means no CRL: the folder's crl.pem is not guessed at.
    server = await startServer([...material, '--root', root]);
    try {
      assert.equal(await served(pki, 'alice', server.port), true);
    } finally {
      await server.stop();
      server = undefined;
    }
  });

  it('refuses a CRL that is missing, foreign, or leaves a CA of the bundle uncovered', async () => {
    const other = join(dir.path, 'other');
    assert.equal((await runCli(['pki', 'init', '--dir', other, '--client', 'eve'])).code, 0);
    assert.equal((await runCli(['pki', 'revoke', 'eve', '--dir', other])).code, 0);
    const serve = (extra: string[]) =>
      runCli(['serve', '--root', root, '--port', '0', ...extra], { timeoutMs: 20_000 });

    const missing = await serve(['--pki', pki, '--crl', join(dir.path, 'none.pem')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /none\.pem/);

    const foreign = await serve(['--pki', pki, '--crl', join(other, 'crl.pem')]);
    assert.equal(foreign.code, 1);
    assert.match(
      foreign.stderr,
      /securestream: error: CRL ".*other\/crl\.pem" is not signed by this CA/,
    );

    // Two CAs, a CRL for one: OpenSSL would refuse every client of the other (UNABLE_TO_GET_CRL).
    const bundle = join(dir.path, 'bundle.crt');
    await writeFile(
      bundle,
      (await readFile(join(pki, 'ca.crt'), 'utf8')) +
        (await readFile(join(other, 'ca.crt'), 'utf8')),
    );
    const partial = await serve([
      '--ca',
      bundle,
      '--cert',
      join(pki, 'server.crt'),
      '--key',
      join(pki, 'server.key'),
      '--crl',
      join(pki, 'crl.pem'),
    ]);
    assert.equal(partial.code, 1);
    assert.match(partial.stderr, /has no list signed by CA "CN=securestream CA/);

    // Both CRLs in one file: starts, and each CA's revocations apply.
    const both = join(dir.path, 'both.pem');
    await writeFile(
      both,
      (await readFile(join(pki, 'crl.pem'), 'utf8')) +
        (await readFile(join(other, 'crl.pem'), 'utf8')),
    );
    server = await startServer([
      '--ca',
      bundle,
      '--cert',
      join(pki, 'server.crt'),
      '--key',
      join(pki, 'server.key'),
      '--root',
      root,
      '--crl',
      both,
    ]);
    try {
      assert.equal(await served(pki, 'bob', server.port), true);
      assert.equal(await served(pki, 'alice', server.port), false);
      assert.equal(await served(other, 'eve', server.port), false, 'revoked by the second CA');
      assert.equal(await served(other, 'client', server.port), true, 'the second CA still works');
    } finally {
      await server.stop();
      server = undefined;
    }
  });
});
