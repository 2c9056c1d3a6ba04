/**
 * CRLs as real PKIs have them (issue 9): 100,000 entries and several MiB through `serve` and
 * `pki revoke`; lists from `openssl ca -gencrl` (no authority key identifier, reason codes)
 * for a root and its intermediates; two CAs with the same name; an expired list; lists that
 * would lock every client out, refused at start with the fix.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { appendFile, copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bigCrl } from '../helpers/bigcrl.js';
import { EXT, OpensslPki, opensslRun, type CertFiles } from '../helpers/opensslpki.js';
import {
  runCli,
  startServer,
  tempDir,
  type RunResult,
  type ServerProcess,
} from '../helpers/proc.js';
import { rawExchange } from '../helpers/raw.js';

const BODY = 'revocation lists\n';

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, '');
}

/** Resident set size of a process, in MiB (Linux). */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

describe('CRLs as real PKIs have them', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let p: OpensslPki;
  const servers: ServerProcess[] = [];

  const serve = async (args: string[]): Promise<ServerProcess> => {
    const s = await startServer([...args, '--root', root]);
    servers.push(s);
    return s;
  };
  const serveRefuses = (args: string[]): Promise<RunResult> =>
    runCli(['serve', ...args, '--root', root, '--port', '0']);
  /** True when `client` (chain file and key) gets the file; false when refused with no byte. */
  const served = async (s: ServerProcess, ca: string, client: CertFiles): Promise<boolean> => {
    const r = await rawExchange({ port: s.port, ca, client, send: 'GET hello.txt\n' });
    if (r.received.length === 0) return false;
    assert.match(r.received.toString(), new RegExp(`^OK ${BODY.length} plain\n${BODY}SHA256 `));
    return true;
  };
  const refusal = async (s: ServerProcess, ca: string, client: CertFiles) => {
    const since = s.logLines().length;
    assert.equal(await served(s, ca, client), false, 'a refused client gets no byte');
    return s.waitForLog((l) => l['outcome'] === 'handshake-failed', { since });
  };

  before(async () => {
    tmp = await tempDir();
    root = join(tmp.path, 'root');
    await mkdir(root);
    await writeFile(join(root, 'hello.txt'), BODY);
    p = new OpensslPki(join(tmp.path, 'pki'));
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await tmp.remove();
  });

  it('6: a CRL of 100,000 entries loads in serve and survives pki revoke', async (t) => {
    const ca = p.root('big-ca');
    const srv = p.issue(ca, 'big-server', { ext: EXT.server });
    const folder = join(tmp.path, 'folder');
    await mkdir(folder);
    const names = ['alice', 'bob', 'carol'];
    for (const n of names) {
      const c = p.issue(ca, `big-${n}`, { ext: EXT.client });
      await copyFile(c.cert, join(folder, `${n}.crt`));
      await copyFile(c.key, join(folder, `${n}.key`));
    }
    await copyFile(ca.cert, join(folder, 'ca.crt'));
    await copyFile(ca.key, join(folder, 'ca.key'));
    await copyFile(srv.cert, join(folder, 'server.crt'));
    await copyFile(srv.key, join(folder, 'server.key'));
    const who = (n: string): CertFiles => ({
      cert: join(folder, `${n}.crt`),
      key: join(folder, `${n}.key`),
    });
    const bobSerial = serialOf(await readFile(who('bob').cert, 'utf8'));

    const t0 = Date.now();
    const crl = bigCrl({
      caPem: await readFile(ca.cert, 'utf8'),
      caKeyPem: await readFile(ca.key, 'utf8'),
      count: 100_000,
      serials: [bobSerial],
    });
    const crlPath = join(folder, 'crl.pem');
    await writeFile(crlPath, crl);
    t.diagnostic(`generated in ${Date.now() - t0} ms, ${(await stat(crlPath)).size} bytes`);
    assert.ok((await stat(crlPath)).size > 4 * 1024 * 1024, 'several MiB');
    const v = opensslRun(['crl', '-in', crlPath, '-CAfile', ca.cert, '-noout', '-verify']);
    assert.equal(v, '');

    const started = Date.now();
    const s = await serve(['--pki', folder]);
    t.diagnostic(
      `serve with 100,001 entries: started in ${Date.now() - started} ms, RSS ${(await rssMiB(s.pid)).toFixed(0)} MiB`,
    );
    const listening = await s.waitForLog((l) => l['msg'] === 'listening');
    assert.equal(listening['revoked'], 100_001);
    assert.equal(await served(s, ca.cert, who('alice')), true);
    const line = await refusal(s, ca.cert, who('bob'));
    assert.equal(line['cause'], 'revoked');
    assert.equal(line['serial'], bobSerial);
    assert.match(
      String(line['reason']),
      new RegExp(`serial ${bobSerial}, by the CRL of "CN=big-ca"`),
    );

    const revokedAt = Date.now();
    const r = await runCli(['pki', 'revoke', 'carol', '--dir', folder]);
    t.diagnostic(`pki revoke on 100,001 entries: ${Date.now() - revokedAt} ms`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /100002 revoked/);
    assert.equal(opensslRun(['crl', '-in', crlPath, '-CAfile', ca.cert, '-noout', '-verify']), '');
    const text = opensslRun(['crl', '-in', crlPath, '-noout', '-text']);
    assert.equal(text.match(/Serial Number: /g)?.length, 100_002);
    assert.match(text, /Key Compromise/); // the entries' reason codes were kept

    const since = s.logLines().length;
    process.kill(s.pid, 'SIGHUP');
    const reloaded = await s.waitForLog((l) => l['msg'] === 'reloaded', { since });
    assert.equal(reloaded['revoked'], 100_002);
    assert.equal(await served(s, ca.cert, who('carol')), false);
    assert.equal(await served(s, ca.cert, who('alice')), true);
    t.diagnostic(`after reload: RSS ${(await rssMiB(s.pid)).toFixed(0)} MiB`);
  });

  it('openssl ca lists (no AKI, reason codes) for a root and its intermediates, PEM or DER', async () => {
    const r = p.root('tool-root');
    const inter = p.issue(r, 'tool-inter', { ext: EXT.intermediate });
    const gone = p.issue(r, 'tool-inter-revoked', { ext: EXT.intermediate });
    const ok = p.issue(inter, 'tool-ok', { ext: EXT.client });
    const revoked = p.issue(inter, 'tool-revoked', { ext: EXT.client });
    const orphan = p.issue(gone, 'tool-orphan', { ext: EXT.client });
    const srv = p.issue(r, 'tool-server', { ext: EXT.server });
    p.revoke(inter, revoked);
    p.revoke(r, gone);
    const lists = p.concat(
      'tool.crl.pem',
      p.crl(r, 'tool-root'),
      p.crl(inter, 'tool-inter'),
      p.crl(gone, 'tool-gone'),
    );
    assert.doesNotMatch(
      opensslRun(['crl', '-in', lists, '-noout', '-text']),
      /Authority Key Identifier/,
    );
    const ca = p.concat('tool-ca.pem', r.cert, inter.cert, gone.cert);
    const s = await serve(['--ca', ca, '--cert', srv.cert, '--key', srv.key, '--crl', lists]);
    assert.equal(await served(s, r.cert, ok), true);
    const leaf = await refusal(s, r.cert, revoked);
    assert.equal(leaf['cause'], 'revoked');
    assert.match(String(leaf['reason']), /by the CRL of "CN=tool-inter"/);
    const mid = await refusal(s, r.cert, orphan);
    assert.equal(mid['cause'], 'intermediate-revoked');
    assert.equal(mid['culprit'], 'CN=tool-inter-revoked');

    const der = join(tmp.path, 'single.crl.der');
    const single = p.root('der-root');
    const derClient = p.issue(single, 'der-client', { ext: EXT.client });
    p.revoke(single, derClient);
    opensslRun(['crl', '-in', p.crl(single, 'der-root'), '-outform', 'DER', '-out', der]);
    const s2 = await serve([
      '--ca',
      single.cert,
      '--cert',
      srv.cert,
      '--key',
      srv.key,
      '--crl',
      der,
    ]);
    assert.equal((await refusal(s2, r.cert, derClient))['cause'], 'revoked');
  });

  it('7: two CAs with one name: lists without AKI are refused at start, lists with AKI work', async () => {
    const x1 = p.root('same-1', { ext: EXT.root, cn: 'Same Name CA' });
    const x2 = p.root('same-2', { ext: EXT.root, cn: 'Same Name CA' });
    const srv = p.issue(x1, 'same-server', { ext: EXT.server });
    const c1 = p.issue(x1, 'same-c1', { ext: EXT.client });
    const c2 = p.issue(x2, 'same-c2', { ext: EXT.client });
    const r1 = p.issue(x1, 'same-r1', { ext: EXT.client });
    const r2 = p.issue(x2, 'same-r2', { ext: EXT.client });
    p.revoke(x1, r1);
    p.revoke(x2, r2);
    const ca = p.concat('same-ca.pem', x1.cert, x2.cert);
    const plain = p.concat('same-plain.crl.pem', p.crl(x1, 'same-1'), p.crl(x2, 'same-2'));
    const refused = await serveRefuses([
      '--ca',
      ca,
      '--cert',
      srv.cert,
      '--key',
      srv.key,
      '--crl',
      plain,
    ]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /securestream: error: CAs "CN=Same Name CA" \(sha256 [0-9a-f]{16}…\) and "CN=Same Name CA" \(sha256 [0-9a-f]{16}…\) share a subject name/,
    );
    assert.match(
      refused.stderr,
      /securestream: hint: issue the CRLs with an authority key identifier/,
    );

    const withAki = p.concat(
      'same-aki.crl.pem',
      p.crl(x1, 'same-1-aki', { aki: true }),
      p.crl(x2, 'same-2-aki', { aki: true }),
    );
    const s = await serve(['--ca', ca, '--cert', srv.cert, '--key', srv.key, '--crl', withAki]);
    assert.equal(await served(s, x1.cert, c1), true);
    assert.equal(
      await served(s, x1.cert, c2),
      true,
      "the second CA's clients are checked against its own list",
    );
    assert.equal((await refusal(s, x1.cert, r1))['cause'], 'revoked');
    assert.equal((await refusal(s, x1.cert, r2))['cause'], 'revoked');
  });

  it('an expired CRL: a warning at start and reload, and refusals that say so', async () => {
    const ca = p.root('stale-ca');
    const srv = p.issue(ca, 'stale-server', { ext: EXT.server });
    const client = p.issue(ca, 'stale-client', { ext: EXT.client });
    const crl = p.crl(ca, 'stale', { last: -10, next: -1 });
    const s = await serve(['--ca', ca.cert, '--cert', srv.cert, '--key', srv.key, '--crl', crl]);
    const warning = await s.waitForLog((l) => l['msg'] === 'certificate warning');
    assert.match(
      String(warning['warning']),
      /the list of CA "CN=stale-ca" expired on \d{4}-.*every client of that CA is refused until it is renewed/,
    );
    const line = await refusal(s, ca.cert, client);
    assert.equal(line['cause'], 'crl-expired');
    assert.match(
      String(line['reason']),
      /^the CRL of CA "CN=stale-ca" has expired \(nextUpdate \d{4}-/,
    );
    const since = s.logLines().length;
    process.kill(s.pid, 'SIGHUP');
    await s.waitForLog((l) => l['msg'] === 'reloaded', { since });
    await s.waitForLog((l) => l['msg'] === 'certificate warning', { since });
  });

  it('lists that would lock every client out are refused at start with the fix', async () => {
    const r = p.root('lock-root');
    const inter = p.issue(r, 'lock-inter', { ext: EXT.intermediate });
    const srv = p.issue(r, 'lock-server', { ext: EXT.server });
    const material = ['--cert', srv.cert, '--key', srv.key];
    // an intermediate alone as the anchor: OpenSSL would want its issuer's list for it too
    const partial = await serveRefuses([
      '--ca',
      inter.cert,
      ...material,
      '--crl',
      p.crl(inter, 'lock-inter'),
    ]);
    assert.equal(partial.code, 1);
    assert.match(
      partial.stderr,
      /CA "CN=lock-inter" is a trust anchor without its issuer "CN=lock-root" in the CA file/,
    );
    assert.match(
      partial.stderr,
      /hint: add the CA "CN=lock-root" to the CA file and its CRL to the CRL file/,
    );
    // a critical extension OpenSSL does not handle
    await appendFile(r.config, '[ critical_ext ]\n1.3.6.1.4.1.55555.1 = critical,ASN1:NULL\n');
    const critical = p.crl(r, 'critical', { crlexts: 'critical_ext' });
    const crit = await serveRefuses(['--ca', r.cert, ...material, '--crl', critical]);
    assert.equal(crit.code, 1);
    assert.match(
      crit.stderr,
      /has the critical extension 1\.3\.6\.1\.4\.1\.55555\.1, which OpenSSL does not handle/,
    );
  });
});
