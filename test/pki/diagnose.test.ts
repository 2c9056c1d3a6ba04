/**
 * Refusal causes from OpenSSL's one code and the chain at hand: which certificate expired, is
 * revoked or lacks a usage. Certificates and CRLs from the openssl CLI.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { readCrlFile, crlSignedBy } from '../../src/pki/crl.js';
import { diagnoseClientRefusal, type TrustContext } from '../../src/pki/diagnose.js';
import { EXT, OpensslPki, type CaFiles } from '../helpers/opensslpki.js';
import { tempDir } from '../helpers/pki.js';

let dir: string;
let p: OpensslPki;
let root: CaFiles;
let inter: CaFiles;
let trust: TrustContext;
const x = (path: string): X509Certificate => new X509Certificate(readFileSync(path));
const now = new Date();

before(async () => {
  dir = await tempDir('diagnose');
  p = new OpensslPki(dir);
  root = p.root('root');
  inter = p.issue(root, 'inter', { ext: EXT.intermediate });
  trust = { anchors: [x(root.cert)], crls: [] };
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('diagnoseClientRefusal', () => {
  test('expired: the leaf, else the intermediate it sent, else the CA of --ca', () => {
    const leafOld = p.issue(inter, 'leaf-old', { ext: EXT.client, start: -30, end: -1 });
    const a = diagnoseClientRefusal(
      'CERT_HAS_EXPIRED',
      [x(leafOld.cert), x(inter.cert)],
      trust,
      now,
    );
    assert.equal(a.cause, 'expired');
    assert.match(a.reason, /^client certificate expired on \d{4}-/);
    assert.equal(a.culprit, undefined);

    const interOld = p.issue(root, 'inter-old', { ext: EXT.intermediate, start: -60, end: -1 });
    const leaf = p.issue(interOld, 'leaf', { ext: EXT.client, start: -30, end: 30 });
    const b = diagnoseClientRefusal(
      'CERT_HAS_EXPIRED',
      [x(leaf.cert), x(interOld.cert)],
      trust,
      now,
    );
    assert.equal(b.cause, 'intermediate-expired');
    assert.equal(b.culprit, 'CN=inter-old');
    assert.match(b.reason, /the client certificate itself is valid$/);

    const rootOld = p.root('root-old', { ext: EXT.root, start: -60, end: -1 });
    const under = p.issue(rootOld, 'under-root-old', { ext: EXT.client, start: -30, end: 30 });
    const c = diagnoseClientRefusal(
      'CERT_HAS_EXPIRED',
      [x(under.cert), x(rootOld.cert)], // node links the store's CA too
      { anchors: [x(rootOld.cert)], crls: [] },
      now,
    );
    assert.equal(c.cause, 'ca-expired');
    assert.match(c.reason, /^CA "CN=root-old" of --ca expired on/);
  });

  test('not yet valid', () => {
    const future = p.issue(inter, 'future', { ext: EXT.client, start: 2, end: 30 });
    const r = diagnoseClientRefusal('CERT_NOT_YET_VALID', [x(future.cert)], trust, now);
    assert.equal(r.cause, 'not-yet-valid');
    assert.match(r.reason, /^client certificate not yet valid: not before \d{4}-/);
  });

  test('revoked: the leaf or an intermediate, named with the list that says so', async () => {
    const gone = p.issue(inter, 'gone', { ext: EXT.client });
    const badInter = p.issue(root, 'bad-inter', { ext: EXT.intermediate });
    const orphan = p.issue(badInter, 'orphan', { ext: EXT.client });
    p.revoke(inter, gone);
    p.revoke(root, badInter);
    const lists = await readCrlFile(
      p.concat('all.crl.pem', p.crl(root, 'root'), p.crl(inter, 'inter')),
    );
    const cas = [x(root.cert), x(inter.cert), x(badInter.cert)];
    const withCrls: TrustContext = {
      anchors: cas,
      crls: lists.map((crl) => ({ crl, signers: cas.filter((c) => crlSignedBy(crl, c)) })),
    };
    const leaf = diagnoseClientRefusal(
      'CERT_REVOKED',
      [x(gone.cert), x(inter.cert)],
      withCrls,
      now,
    );
    assert.equal(leaf.cause, 'revoked');
    const serial = x(gone.cert).serialNumber.toLowerCase();
    assert.equal(
      leaf.reason,
      `client certificate revoked (serial ${serial}, by the CRL of "CN=inter")`,
    );
    const mid = diagnoseClientRefusal(
      'CERT_REVOKED',
      [x(orphan.cert), x(badInter.cert)],
      withCrls,
      now,
    );
    assert.equal(mid.cause, 'intermediate-revoked');
    assert.equal(mid.culprit, 'CN=bad-inter');
  });

  test('purpose: extended key usage, key usage, or an intermediate restricting either', () => {
    const server = p.issue(inter, 'as-client', { ext: EXT.serverOnlyAsClient });
    assert.equal(
      diagnoseClientRefusal('INVALID_PURPOSE', [x(server.cert)], trust, now).cause,
      'extended-key-usage',
    );
    const ke = p.issue(inter, 'ke', { ext: EXT.clientNoSignature });
    const r = diagnoseClientRefusal('INVALID_PURPOSE', [x(ke.cert)], trust, now);
    assert.equal(r.cause, 'key-usage');
    assert.equal(r.reason, 'client certificate key usage (keyEncipherment) lacks digitalSignature');
    const webOnly = p.issue(root, 'web-only', {
      ext: `${EXT.intermediate}extendedKeyUsage=serverAuth\n`,
    });
    const under = p.issue(webOnly, 'under-web', { ext: EXT.client });
    const i = diagnoseClientRefusal(
      'INVALID_PURPOSE',
      [x(under.cert), x(webOnly.cert)],
      trust,
      now,
    );
    assert.equal(i.cause, 'intermediate-extended-key-usage');
    assert.equal(i.culprit, 'CN=web-only');
  });

  test('unknown CA: a foreign issuer, or one with a name of --ca and another key', () => {
    const rogue = p.root('rogue');
    const stranger = p.issue(rogue, 'stranger', { ext: EXT.client });
    const a = diagnoseClientRefusal(
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      [x(stranger.cert)],
      trust,
      now,
    );
    assert.equal(a.cause, 'unknown-ca');
    assert.equal(a.reason, 'client certificate from an unknown CA: "CN=rogue" is not a CA of --ca');
    const twin = p.root('twin', { ext: EXT.root, cn: 'root' });
    const impostor = p.issue(twin, 'impostor', { ext: EXT.client });
    const b = diagnoseClientRefusal(
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      [x(impostor.cert)],
      trust,
      now,
    );
    assert.match(
      b.reason,
      /issued by "CN=root", a name the CA of --ca has, but not by that CA's key/,
    );
    const self = diagnoseClientRefusal('DEPTH_ZERO_SELF_SIGNED_CERT', [x(rogue.cert)], trust, now);
    assert.equal(self.cause, 'self-signed');
  });

  test('an expired CRL is named with its CA and nextUpdate', async () => {
    const leaf = p.issue(root, 'stale-leaf', { ext: EXT.client });
    const [crl] = await readCrlFile(p.crl(root, 'stale', { last: -10, next: -1 }));
    assert.ok(crl);
    const r = diagnoseClientRefusal(
      'CRL_HAS_EXPIRED',
      [x(leaf.cert)],
      { anchors: [x(root.cert)], crls: [{ crl, signers: [x(root.cert)] }] },
      now,
    );
    assert.equal(r.cause, 'crl-expired');
    assert.match(
      r.reason,
      /^the CRL of CA "CN=root" has expired \(nextUpdate \d{4}-.*\): renew it/,
    );
  });
});
