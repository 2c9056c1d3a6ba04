import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { copyFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { normalizeSerial, readCrlFile } from '../../src/pki/crl.js';
import { initPki, issueClient } from '../../src/pki/folder.js';
import { revoke } from '../../src/pki/revoke.js';
import { readTrustAnchors } from '../../src/pki/trust.js';
import { loadCrl } from '../../src/revocation.js';
import { openssl, tempDir } from '../helpers/pki.js';

const DAY = 24 * 60 * 60 * 1000;

async function rejectsWith(p: Promise<unknown>, code: string, text?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { code?: string }).code, code, String(e));
    if (text) assert.match((e as Error).message, text);
    return true;
  });
}

/** A date as a CRL stores it: whole seconds. */
function wholeSeconds(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString();
}

async function serialOf(path: string): Promise<string> {
  return new X509Certificate(await readFile(path)).serialNumber.toLowerCase();
}

let root: string;
let dir: string;
let other: string;
before(async () => {
  root = await tempDir('crl');
  dir = join(root, 'pki');
  other = join(root, 'other');
  await initPki({ dir, clients: ['client', 'alice', 'bob'] });
  await initPki({ dir: other });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('revoke', () => {
  test('by name: writes crl.pem 0644 that openssl lists and enforces', async () => {
    const r = await revoke({ dir, target: 'alice' });
    assert.equal(r.name, 'alice');
    assert.equal(r.serialHex, await serialOf(join(dir, 'alice.crt')));
    assert.equal(r.alreadyRevoked, false);
    assert.equal(r.revokedCount, 1);
    assert.equal(r.crlNumber, 1n);
    assert.equal(r.crlPath, join(dir, 'crl.pem'));
    assert.equal((await stat(r.crlPath)).mode & 0o777, 0o644);

    const text = openssl(['crl', '-in', r.crlPath, '-noout', '-text']);
    assert.equal(text.status, 0, text.stderr);
    assert.ok(text.stdout.includes(`Serial Number: ${r.serialHex.toUpperCase()}`), text.stdout);
    assert.match(text.stdout, /X509v3 CRL Number: \n\s+1\n/);
    assert.match(text.stdout, /Authority Key Identifier/);

    const check = (name: string) =>
      openssl(
        ['verify', '-crl_check', '-CAfile', 'ca.crt', '-CRLfile', 'crl.pem', `${name}.crt`],
        dir,
      );
    const revoked = check('alice');
    assert.notEqual(revoked.status, 0);
    assert.match(revoked.stdout + revoked.stderr, /certificate revoked/);
    const fine = check('bob');
    assert.equal(fine.status, 0, fine.stdout + fine.stderr);
    assert.equal(openssl(['crl', '-in', 'crl.pem', '-CAfile', 'ca.crt', '-noout'], dir).status, 0);
  });

  test('again: succeeds, says alreadyRevoked, leaves the file byte-identical', async () => {
    const before = await readFile(join(dir, 'crl.pem'));
    const r = await revoke({ dir, target: 'alice' });
    assert.equal(r.alreadyRevoked, true);
    assert.equal(r.revokedCount, 1);
    assert.deepEqual(await readFile(join(dir, 'crl.pem')), before);
  });

  test('by serial, any case, with colons: appends and bumps the CRL number', async () => {
    const serial = await serialOf(join(dir, 'bob.crt'));
    const target = serial.toUpperCase().match(/../g)?.join(':') ?? '';
    const r = await revoke({ dir, target });
    assert.equal(r.name, undefined);
    assert.equal(r.serialHex, serial);
    assert.equal(r.revokedCount, 2);
    assert.equal(r.crlNumber, 2n);
    const v = openssl(
      ['verify', '-crl_check', '-CAfile', 'ca.crt', '-CRLfile', 'crl.pem', 'bob.crt'],
      dir,
    );
    assert.notEqual(v.status, 0);
    const c = openssl(
      ['verify', '-crl_check', '-CAfile', 'ca.crt', '-CRLfile', 'crl.pem', 'client.crt'],
      dir,
    );
    assert.equal(c.status, 0, c.stdout + c.stderr);
  });

  test('a high-bit serial with leading zeros is encoded as a positive INTEGER', async () => {
    const r = await revoke({ dir, target: '00:80:01' });
    assert.equal(r.serialHex, '8001');
    const text = openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-text']).stdout;
    assert.match(text, /Serial Number: 8001\n/);
    assert.equal(r.crlNumber, 3n);
  });

  test('nextUpdate defaults to the CA expiry; nextUpdateDays overrides it', async () => {
    const ca = new X509Certificate(await readFile(join(other, 'ca.crt')));
    const a = await revoke({ dir: other, target: '01' });
    assert.equal(a.nextUpdate.getTime(), new Date(ca.validTo).getTime());
    const now = new Date();
    const b = await revoke({ dir: other, target: '02', now, nextUpdateDays: 7 });
    assert.equal(Math.round((b.nextUpdate.getTime() - now.getTime()) / DAY), 7);
    await rejectsWith(revoke({ dir: other, target: '03', nextUpdateDays: 0 }), 'usage');
  });

  test('a crl.pem of another CA is refused with pki-crl-foreign and kept', async () => {
    const d = join(root, 'foreign');
    await initPki({ dir: d });
    await copyFile(join(other, 'crl.pem'), join(d, 'crl.pem'));
    await rejectsWith(revoke({ dir: d, target: 'client' }), 'pki-crl-foreign');
    assert.deepEqual(await readFile(join(d, 'crl.pem')), await readFile(join(other, 'crl.pem')));
  });

  test('a crl.pem that is not a CRL is pki-invalid', async () => {
    const d = join(root, 'junk');
    await initPki({ dir: d });
    await writeFile(join(d, 'crl.pem'), 'junk');
    await rejectsWith(revoke({ dir: d, target: 'client' }), 'pki-invalid');
  });

  test('the server certificate, by name or serial, is refused with how to replace it; no CRL changes', async () => {
    const crl = join(dir, 'crl.pem');
    const before = await readFile(crl).catch(() => undefined);
    const refusal = /^the server certificate cannot be revoked: clients do not check revocation/;
    for (const target of ['server', 'Server', await serialOf(join(dir, 'server.crt'))]) {
      await assert.rejects(revoke({ dir, target }), (e: unknown) => {
        assert.equal((e as { code?: string }).code, 'usage');
        assert.match((e as Error).message, refusal);
        assert.match(
          (e as { hint?: string }).hint ?? '',
          /issue a new server certificate .* reload the server \(docs\/SECURITY\.md §4\)$/,
        );
        return true;
      });
    }
    assert.deepEqual(await readFile(crl).catch(() => undefined), before);
  });

  test('unknown names, the CA itself and foreign certificates are refused', async () => {
    await rejectsWith(revoke({ dir, target: 'nobody' }), 'pki-unknown-target', /nobody/);
    await rejectsWith(revoke({ dir, target: 'CA' }), 'usage');
    await rejectsWith(revoke({ dir, target: 'a'.repeat(41) }), 'pki-unknown-target');
    await copyFile(join(other, 'client.crt'), join(dir, 'stranger.crt'));
    await rejectsWith(revoke({ dir, target: 'stranger' }), 'pki-untrusted');
    await rejectsWith(revoke({ dir: join(root, 'none'), target: 'x' }), 'pki-missing');
  });

  test('a client issued later can be revoked too', async () => {
    const issued = await issueClient({ dir, name: 'carol' });
    const r = await revoke({ dir, target: 'carol' });
    assert.equal(r.serialHex, issued.serialHex);
  });
});

describe('loadCrl', () => {
  const anchorsOf = async (d: string) =>
    readTrustAnchors(
      await readFile(join(d, 'ca.crt'), 'utf8'),
      join(d, 'ca.crt'),
      'client',
      new Date(),
    );

  test('returns the list of the CA, as one PEM block per list', async () => {
    const loaded = await loadCrl({ kind: 'pki', dir }, await anchorsOf(dir));
    assert.ok(loaded);
    assert.deepEqual(loaded.pem, [await readFile(join(dir, 'crl.pem'), 'utf8')]);
    assert.equal(loaded.revokedCount, 4); // alice, bob, 8001, carol
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.lists[0]?.signers.length, 1);
  });

  test('pki-crl-foreign for another CA, pki-invalid for junk, pki-missing', async () => {
    const otherAnchors = await anchorsOf(other);
    const explicit = (path: string) => ({ kind: 'explicit' as const, path });
    await rejectsWith(
      loadCrl(explicit(join(dir, 'crl.pem')), otherAnchors),
      'pki-crl-foreign',
      /is not signed by this CA: its issuer "CN=securestream CA [0-9a-f]+" is no CA of the CA file/,
    );
    await readCrlFile(join(dir, 'crl.pem')); // without a CA only the format is checked
    await rejectsWith(readCrlFile(join(dir, 'ca.crt')), 'pki-invalid', /no PEM CRL/);
    const broken = join(root, 'broken.pem');
    await writeFile(broken, '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
    await rejectsWith(readCrlFile(broken), 'pki-invalid', /cannot be parsed/);
    await rejectsWith(readCrlFile(join(root, 'absent.pem')), 'pki-missing');
  });

  test('a list past nextUpdate loads with a warning that names the CA and the date', async () => {
    const d = join(root, 'short');
    await initPki({ dir: d });
    const r = await revoke({ dir: d, target: 'client', nextUpdateDays: 1 });
    const anchors = await anchorsOf(d);
    assert.deepEqual((await loadCrl({ kind: 'pki', dir: d }, anchors))?.warnings, []);
    const later = new Date(Date.now() + 2 * DAY);
    const loaded = await loadCrl({ kind: 'pki', dir: d }, anchors, undefined, later);
    assert.ok(loaded);
    assert.equal(loaded.warnings.length, 1);
    assert.match(
      String(loaded.warnings[0]),
      new RegExp(
        `the list of CA "CN=securestream CA [0-9a-f]+" expired on ${wholeSeconds(r.nextUpdate)}`,
      ),
    );
  });
});

describe('normalizeSerial', () => {
  test('ignores case, colons and leading zeros; rejects non-hex and over 20 bytes', () => {
    assert.equal(normalizeSerial('00:AB:cd'), 'abcd');
    assert.equal(normalizeSerial('0'), '0');
    assert.equal(normalizeSerial('xyz'), undefined);
    assert.equal(normalizeSerial(''), undefined);
    assert.equal(normalizeSerial('a'.repeat(41)), undefined);
  });

  test('property: every colon/case spelling of a serial normalises to the same value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.boolean(), (bytes, upper) => {
        const hex = Buffer.from(bytes).toString('hex');
        const spelled = (upper ? hex.toUpperCase() : hex).match(/../g)?.join(':') ?? '';
        const want = hex.replace(/^0+(?=.)/, '');
        return normalizeSerial(spelled) === want && normalizeSerial(hex) === want;
      }),
      { numRuns: process.env.SLOW ? 10_000 : 100 },
    );
  });
});
