/**
 * CRLs made by the openssl CLI: read (PEM, several lists, DER), checked for signature by each
 * key type, and judged for what the server may load (same-name CAs, partial-chain anchors,
 * critical extensions, delta lists), and extended by `pki revoke`.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  crlSignedBy,
  isRevoked,
  readCrlFile,
  signatureValid,
  type Crl,
} from '../../src/pki/crl.js';
import { revoke } from '../../src/pki/revoke.js';
import { readTrustAnchors } from '../../src/pki/trust.js';
import { loadCrl } from '../../src/revocation.js';
import { EXT, OpensslPki, opensslRun, type KeyAlg } from '../helpers/opensslpki.js';
import { tempDir } from '../helpers/pki.js';

let dir: string;
let p: OpensslPki;
const x = (path: string): X509Certificate => new X509Certificate(readFileSync(path));
const serial = (path: string): string => x(path).serialNumber.toLowerCase().replace(/^0+/, '');
const anchors = (...paths: string[]) =>
  readTrustAnchors(
    paths.map((f) => readFileSync(f, 'utf8')).join(''),
    'ca.pem',
    'client',
    new Date(),
  );
const explicit = (path: string) => ({ kind: 'explicit' as const, path });

async function rejects(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

before(async () => {
  dir = await tempDir('crlfile');
  p = new OpensslPki(dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('reading lists', () => {
  const algs: KeyAlg[] = ['p256', 'p384', 'p521', 'ed25519', 'rsa2048', 'rsapss2048'];
  for (const alg of algs) {
    test(`a list signed by a ${alg} CA verifies with that CA only`, async () => {
      const ca = p.root(`sig-${alg}`, { ext: EXT.root, alg });
      const leaf = p.issue(ca, `sig-${alg}-leaf`, { ext: EXT.client });
      p.revoke(ca, leaf);
      const [crl] = await readCrlFile(p.crl(ca, `sig-${alg}`));
      assert.ok(crl);
      assert.equal(crl.revokedCount, 1);
      assert.ok(isRevoked(crl, serial(leaf.cert)));
      assert.ok(signatureValid(crl, x(ca.cert)));
      assert.ok(crlSignedBy(crl, x(ca.cert)));
      const other = p.root(`sig-${alg}-other`, { ext: EXT.root, cn: `sig-${alg}`, alg });
      assert.ok(!crlSignedBy(crl, x(other.cert)), 'same name, other key');
    });
  }

  test('reason codes, CRL number, no AKI; several lists per file; DER', async () => {
    const ca = p.root('read');
    const a = p.issue(ca, 'read-a', { ext: EXT.client });
    const b = p.issue(ca, 'read-b', { ext: EXT.client });
    p.revoke(ca, a);
    const first = p.crl(ca, 'read-1');
    p.revoke(ca, b);
    const second = p.crl(ca, 'read-2', { aki: true });
    assert.match(opensslRun(['crl', '-in', first, '-noout', '-text']), /Key Compromise/);
    const lists = await readCrlFile(p.concat('read-both.pem', first, second));
    assert.deepEqual(
      lists.map((l) => [l.revokedCount, l.crlNumber, l.authorityKeyId === undefined]),
      [
        [1, 1n, true],
        [2, 2n, false],
      ],
    );
    assert.ok(isRevoked(lists[1] as Crl, serial(b.cert)));
    assert.ok(!isRevoked(lists[0] as Crl, serial(b.cert)));
    const der = join(dir, 'read.der');
    opensslRun(['crl', '-in', second, '-outform', 'DER', '-out', der]);
    const [fromDer] = await readCrlFile(der);
    assert.deepEqual(fromDer?.der, (lists[1] as Crl).der);
  });

  test('a critical extension OpenSSL does not handle is noted; deltaCRLIndicator marks a delta', async () => {
    const ca = p.root('ext');
    appendFileSync(
      ca.config,
      '[ odd ]\n1.3.6.1.4.1.55555.1 = critical,ASN1:NULL\n[ delta ]\n2.5.29.27 = critical,DER:02:01:01\n',
    );
    const odd = p.crl(ca, 'odd', { crlexts: 'odd' });
    assert.equal((await readCrlFile(odd))[0]?.unhandledCritical, '1.3.6.1.4.1.55555.1');
    const delta = p.crl(ca, 'delta', { crlexts: 'delta' });
    const [d] = await readCrlFile(delta);
    assert.ok(d);
    assert.equal(d.delta, true);
    assert.equal(d.unhandledCritical, undefined);
    // a delta list is not the CA's list
    await rejects(
      loadCrl(explicit(delta), anchors(ca.cert)),
      'crl-incomplete',
      /has no list signed by CA "CN=ext"/,
    );
  });
});

describe('what the server may load', () => {
  test('two same-name CAs: lists without AKI refused, with AKI accepted', async () => {
    const one = p.root('twin-1', { ext: EXT.root, cn: 'Twin CA' });
    const two = p.root('twin-2', { ext: EXT.root, cn: 'Twin CA' });
    const a = anchors(one.cert, two.cert);
    const plain = p.concat('twins.pem', p.crl(one, 'twin-1'), p.crl(two, 'twin-2'));
    await rejects(loadCrl(explicit(plain), a), 'crl-ambiguous', /share a subject name/);
    const withAki = p.concat(
      'twins-aki.pem',
      p.crl(one, 'twin-1a', { aki: true }),
      p.crl(two, 'twin-2a', { aki: true }),
    );
    const loaded = await loadCrl(explicit(withAki), a);
    assert.deepEqual(
      loaded?.lists.map((l) => l.signers.map((s) => s.fingerprint256)),
      [[x(one.cert).fingerprint256], [x(two.cert).fingerprint256]],
    );
  });

  test('an intermediate anchored without its root cannot take a CRL', async () => {
    const root = p.root('pc-root');
    const inter = p.issue(root, 'pc-inter', { ext: EXT.intermediate });
    await rejects(
      loadCrl(explicit(p.crl(inter, 'pc-inter')), anchors(inter.cert)),
      'crl-partial-chain',
      /CA "CN=pc-inter" is a trust anchor without its issuer "CN=pc-root"/,
    );
    const both = p.concat('pc-both.pem', p.crl(root, 'pc-root'), p.crl(inter, 'pc-inter-2'));
    const loaded = await loadCrl(explicit(both), anchors(root.cert, inter.cert));
    assert.equal(loaded?.lists.length, 2);
  });

  test('foreign lists and uncovered CAs are refused; an unhandled critical extension too', async () => {
    const ca = p.root('cov');
    const stranger = p.root('stranger');
    await rejects(
      loadCrl(explicit(p.crl(stranger, 'stranger')), anchors(ca.cert)),
      'pki-crl-foreign',
      /is not signed by this CA: its issuer "CN=stranger" is no CA of the CA file/,
    );
    await rejects(
      loadCrl(explicit(p.crl(ca, 'cov')), anchors(ca.cert, stranger.cert)),
      'crl-incomplete',
      /has no list signed by CA "CN=stranger"/,
    );
    appendFileSync(ca.config, '[ odd ]\n1.3.6.1.4.1.55555.2 = critical,ASN1:NULL\n');
    const odd = p.crl(ca, 'cov-odd', { crlexts: 'odd' });
    await rejects(
      loadCrl(explicit(odd), anchors(ca.cert)),
      'pki-invalid',
      /critical extension 1\.3\.6\.1\.4\.1\.55555\.2/,
    );
  });
});

describe('pki revoke on a list made elsewhere', () => {
  test('the entries and their reason codes stay; the CRL number goes on from theirs', async () => {
    const ca = p.root('folder-ca');
    const folder = join(dir, 'folder');
    await mkdir(folder);
    await copyFile(ca.cert, join(folder, 'ca.crt'));
    await copyFile(ca.key, join(folder, 'ca.key'));
    const old = p.issue(ca, 'folder-old', { ext: EXT.client });
    const fresh = p.issue(ca, 'folder-new', { ext: EXT.client });
    await copyFile(fresh.cert, join(folder, 'fresh.crt'));
    p.revoke(ca, old);
    p.crl(ca, 'folder-1');
    await copyFile(p.crl(ca, 'folder-2'), join(folder, 'crl.pem')); // crl number 2
    const r = await revoke({ dir: folder, target: 'fresh' });
    assert.equal(r.crlNumber, 3n);
    assert.equal(r.revokedCount, 2);
    const text = opensslRun([
      'crl',
      '-in',
      join(folder, 'crl.pem'),
      '-noout',
      '-text',
      '-CAfile',
      ca.cert,
    ]);
    assert.match(text, /Key Compromise/);
    assert.ok(text.includes(`Serial Number: ${serial(old.cert).toUpperCase()}`));
    assert.ok(text.includes(`Serial Number: ${serial(fresh.cert).toUpperCase()}`));
    assert.match(text, /X509v3 CRL Number: \n\s+3\n/);
  });
});
