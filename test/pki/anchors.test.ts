/**
 * Which certificates are CAs and trust anchors, decided as OpenSSL decides, and how names are
 * compared: certificates made by the openssl CLI.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  KeyUsage,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import {
  authorityKeyIdOf,
  isCaCertificate,
  keyUsageOf,
  subjectKeyIdOf,
} from '../../src/pki/describe.js';
import { issuerDer, nameText, sameName, subjectDer } from '../../src/pki/names.js';
import { parseCertificates, pemBlocks, pemBody, toPem } from '../../src/pki/pem.js';
import {
  TAG,
  children,
  contextTag,
  elementBytes,
  encodeElement,
  expectElement,
  type DerElement,
} from '../../src/pki/der.js';
import { SecureStreamError } from '../../src/errors.js';
import { readTrustAnchors } from '../../src/pki/trust.js';
import { EXT, OpensslPki, opensslRun, type CaFiles } from '../helpers/opensslpki.js';
import { tempDir } from '../helpers/pki.js';

let dir: string;
let p: OpensslPki;
let root: CaFiles;
let inter: CaFiles;
const x509 = (path: string): X509Certificate => new X509Certificate(readFileSync(path));
const text = (...paths: string[]): string => paths.map((f) => readFileSync(f, 'utf8')).join('');

before(async () => {
  dir = await tempDir('anchors');
  p = new OpensslPki(dir);
  root = p.root('root');
  inter = p.issue(root, 'inter', { ext: EXT.intermediate });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('isCaCertificate follows X509_check_ca', () => {
  const cases: [string, string | null, boolean][] = [
    ['basicConstraints CA:TRUE', EXT.root, true],
    ['a version 1 self-signed root', null, true],
    ['keyCertSign without basicConstraints', EXT.rootNoBasicConstraints, true],
    ['neither basicConstraints nor keyUsage (v3)', 'subjectKeyIdentifier=hash\n', false],
    ['basicConstraints CA:FALSE', 'basicConstraints=CA:false\nkeyUsage=keyCertSign\n', false],
    [
      'CA:TRUE but keyUsage without keyCertSign',
      'basicConstraints=critical,CA:true\nkeyUsage=digitalSignature\n',
      false,
    ],
  ];
  for (const [what, ext, ca] of cases) {
    test(`${what}: ${ca ? 'a CA' : 'not a CA'}, as openssl verify says`, () => {
      const name = `ca-${what.replace(/\W+/g, '-')}`;
      const c = p.root(name, { ext });
      assert.equal(isCaCertificate(x509(c.cert)), ca);
      const leaf = p.issue(c, `${name}-leaf`, { ext: EXT.client });
      // openssl verify trusts the root as an anchor either way; whether the root may sign is
      // what X509_check_ca decides, seen with -x509_strict off as a verification result
      const v = (() => {
        try {
          opensslRun(['verify', '-CAfile', c.cert, leaf.cert]);
          return true;
        } catch {
          return false;
        }
      })();
      assert.equal(v, ca, `openssl verify ${v ? 'accepts' : 'refuses'} a leaf under it`);
    });
  }

  test('the extensions read with der.ts are what @peculiar/asn1-x509 reads, for every bit', () => {
    const names = [
      'digitalSignature',
      'nonRepudiation',
      'keyEncipherment',
      'dataEncipherment',
      'keyAgreement',
      'keyCertSign',
      'cRLSign',
      'encipherOnly',
      'decipherOnly',
    ];
    const exts: (string | null)[] = [
      null,
      ...Object.values(EXT),
      // every single bit, the ninth (decipherOnly) in the BIT STRING's second byte
      ...names.map((n) => `keyUsage=${n}\n`),
      `keyUsage=critical,${names.join(',')}\nsubjectKeyIdentifier=hash\n`,
      'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=keyCertSign\n',
      'basicConstraints=CA:true,pathlen:300\nauthorityKeyIdentifier=keyid:always\n',
      'basicConstraints=CA:false\nsubjectKeyIdentifier=hash\n',
    ];
    exts.forEach((ext, i) => {
      const c = x509(p.issue(inter, `peculiar-${i}`, { ext }).cert);
      const tbs = AsnConvert.parse(c.raw, Certificate).tbsCertificate;
      const find = (oid: string) => tbs.extensions?.find((e) => e.extnID === oid)?.extnValue;
      const ku = find(id_ce_keyUsage);
      const bits = ku && AsnConvert.parse(ku, KeyUsage).toNumber();
      assert.deepEqual(
        keyUsageOf(c),
        bits === undefined ? undefined : names.filter((_, b) => bits & (1 << b)),
        `keyUsage of ${ext ?? 'v1'}`,
      );
      const ski = find(id_ce_subjectKeyIdentifier);
      assert.equal(
        subjectKeyIdOf(c),
        ski && Buffer.from(AsnConvert.parse(ski, SubjectKeyIdentifier).buffer).toString('hex'),
      );
      const aki = find(id_ce_authorityKeyIdentifier);
      const akid = aki && AsnConvert.parse(aki, AuthorityKeyIdentifier).keyIdentifier;
      assert.equal(authorityKeyIdOf(c), akid && Buffer.from(akid.buffer).toString('hex'));
      const bc = find(id_ce_basicConstraints);
      const ca = bc && AsnConvert.parse(bc, BasicConstraints).cA;
      if (ca === false) assert.equal(isCaCertificate(c), false, ext ?? 'v1');
    });
  });

  test('keyUsage bits by name', () => {
    assert.deepEqual(keyUsageOf(x509(root.cert)), ['keyCertSign', 'cRLSign']);
    const leaf = p.issue(inter, 'ku-leaf', { ext: EXT.server });
    assert.deepEqual(keyUsageOf(x509(leaf.cert)), ['digitalSignature', 'keyEncipherment']);
    assert.equal(keyUsageOf(x509(p.root('no-ku', { ext: null }).cert)), undefined);
  });
});

describe('readTrustAnchors', () => {
  test('a root stays a CERTIFICATE; a lone intermediate becomes what openssl -addtrust writes', () => {
    const rooted = readTrustAnchors(text(root.cert, inter.cert), 'both.pem', 'client', new Date());
    assert.equal(rooted.partial.length, 0);
    assert.deepEqual(
      pemBlocks(rooted.pem).map((b) => b.label),
      ['CERTIFICATE', 'CERTIFICATE'],
    );

    for (const [role, purpose] of [
      ['client', 'clientAuth'],
      ['server', 'serverAuth'],
    ] as const) {
      const alone = readTrustAnchors(text(inter.cert), 'inter.pem', role, new Date());
      assert.deepEqual(
        alone.partial.map((c) => c.subject),
        ['CN=inter'],
      );
      const [block] = pemBlocks(alone.pem);
      assert.equal(block?.label, 'TRUSTED CERTIFICATE');
      const theirs = opensslRun(['x509', '-in', inter.cert, '-addtrust', purpose]);
      assert.deepEqual(pemBody(block as never), pemBody(pemBlocks(theirs)[0] as never));
    }
  });

  test('leaf certificates are dropped; a file of leaves only is refused', () => {
    const leaf = p.issue(inter, 'drop-leaf', { ext: EXT.client });
    const a = readTrustAnchors(text(leaf.cert, root.cert), 'mixed.pem', 'client', new Date());
    assert.deepEqual(
      a.cas.map((c) => c.subject),
      ['CN=root'],
    );
    assert.throws(
      () => readTrustAnchors(text(leaf.cert), 'leaf.pem', 'client', new Date()),
      /CA file "leaf\.pem" contains no CA certificate/,
    );
  });

  test('an expired CA is a warning while another is valid, an error when none is', () => {
    const old = p.root('old-root', { ext: EXT.root, start: -60, end: -1 });
    const both = readTrustAnchors(text(old.cert, root.cert), 'b.pem', 'client', new Date());
    assert.equal(both.warnings.length, 1);
    assert.match(both.warnings[0] ?? '', /CA "CN=old-root" expired on \d{4}-/);
    assert.throws(
      () => readTrustAnchors(text(old.cert), 'old.pem', 'client', new Date()),
      (e: Error & { code?: string }) =>
        e.code === 'pki-expired' &&
        /CA file "old\.pem": CA "CN=old-root" expired on/.test(e.message),
    );
  });
});

describe('names', () => {
  test('subject and issuer DER come out of the certificate as openssl encodes them', () => {
    const c = x509(inter.cert);
    assert.equal(nameText(subjectDer(c)), 'CN=inter');
    assert.equal(nameText(issuerDer(c)), 'CN=root');
    assert.ok(sameName(issuerDer(c), subjectDer(x509(root.cert))));
    assert.ok(!sameName(subjectDer(c), subjectDer(x509(root.cert))));
  });

  test('compared as X509_NAME_cmp does: string type, case and inner spaces do not matter', () => {
    const name = (o: string, cn: string, type: 'utf8String' | 'printableString'): Buffer => {
      const rdn = (oid: string, v: string) =>
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({ type: oid, value: new AttributeValue({ [type]: v }) }),
        ]);
      return Buffer.from(AsnConvert.serialize(new Name([rdn('2.5.4.10', o), rdn('2.5.4.3', cn)])));
    };
    const utf8 = name('Example  Org', 'Issuing CA', 'utf8String');
    const printable = name(' example org', 'ISSUING ca ', 'printableString');
    assert.notDeepEqual(utf8, printable);
    assert.ok(sameName(utf8, printable));
    assert.ok(!sameName(utf8, name('Example Org', 'Issuing CA 2', 'utf8String')));
    assert.ok(!sameName(utf8, name('Issuing CA', 'Example Org', 'utf8String')), 'order matters');
    assert.equal(nameText(printable), 'O= example org, CN=ISSUING ca ');
  });
});

describe('certificates whose extensions break RFC 5280 are refused where they are read', () => {
  /** Throws pki-invalid naming `file`, certificate 1, and `detail`. */
  const refused = (read: () => unknown, file: string, detail: RegExp): void => {
    assert.throws(read, (e: unknown) => {
      assert.ok(e instanceof SecureStreamError);
      assert.equal(e.code, 'pki-invalid');
      assert.ok(e.message.startsWith(`certificate 1 in "${file}" (`), e.message);
      assert.match(e.message, detail);
      return true;
    });
  };

  test('a keyUsage or basicConstraints that does not decode (made by openssl)', () => {
    const cases: [string, RegExp][] = [
      ['keyUsage=DER:05:00\n', /keyUsage is not a BIT STRING/],
      ['keyUsage=DER:03:03:07:80\n', /runs past its container/],
      ['basicConstraints=DER:30:03:02:01:ff\n', /not a small non-negative INTEGER/],
      ['basicConstraints=DER:04:00\n', /basicConstraints is not a SEQUENCE/],
      // cA as an empty BOOLEAN: OpenSSL refuses it; it must not read as TRUE here
      ['basicConstraints=DER:30:02:01:00\n', /a BOOLEAN is not one byte/],
    ];
    cases.forEach(([ext, detail], i) => {
      const file = p.issue(inter, `rfc5280-${i}`, { ext }).cert;
      refused(() => parseCertificates(text(file), file), file, detail);
      // as a CA file (get --ca, serve --ca), next to a good CA
      refused(
        () => readTrustAnchors(text(file, root.cert), file, 'client', new Date()),
        file,
        detail,
      );
    });
  });

  test('a length in long form where one byte would do is read as OpenSSL reads it', () => {
    // BER, not DER (X.690 section 8.1.3.5); openssl verify takes such a certificate.
    const file = p.issue(inter, 'rfc5280-ber', { ext: 'keyUsage=DER:03:81:02:05:20\n' }).cert;
    const [cert] = parseCertificates(text(file), file);
    assert.deepEqual(keyUsageOf(cert as X509Certificate), ['keyEncipherment']);
    assert.equal(isCaCertificate(cert as X509Certificate), false);
  });

  test('an extension twice is refused', () => {
    // openssl merges repeated extensions when it signs: the TBSCertificate is edited here
    // (node parses a certificate without checking its signature).
    const der = x509(p.issue(inter, 'rfc5280-dup', { ext: EXT.server }).cert).raw;
    const cert = expectElement(der, 0, TAG.SEQUENCE);
    const [tbs, alg, sig] = [...children(der, cert)] as DerElement[];
    const edit = (f: (exts: Buffer[]) => Buffer[]): string => {
      const parts = [...children(der, tbs as DerElement)].map((el) => {
        if (el.tag !== contextTag(3)) return elementBytes(der, el);
        const seq = expectElement(der, el.contentStart, TAG.SEQUENCE, el.end);
        const exts = [...children(der, seq)].map((e) => elementBytes(der, e));
        return encodeElement(contextTag(3), encodeElement(TAG.SEQUENCE, ...f(exts)));
      });
      const out = encodeElement(
        TAG.SEQUENCE,
        encodeElement(TAG.SEQUENCE, ...parts),
        elementBytes(der, alg as DerElement),
        elementBytes(der, sig as DerElement),
      );
      return toPem('CERTIFICATE', out);
    };
    const ku = (exts: Buffer[]): Buffer => {
      const found = exts.find((e) => e.includes(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0f])));
      assert.ok(found, 'EXT.server has a keyUsage');
      return found;
    };
    // unchanged, the rebuilt certificate reads
    const same = parseCertificates(
      edit((e) => e),
      'same.pem',
    )[0] as X509Certificate;
    assert.deepEqual(keyUsageOf(same), ['digitalSignature', 'keyEncipherment']);
    refused(
      () =>
        parseCertificates(
          edit((e) => [...e, ku(e)]),
          'twice.pem',
        ),
      'twice.pem',
      /extension 2\.5\.29\.15 appears twice/,
    );
  });
});
