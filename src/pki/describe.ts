/**
 * What a certificate says about itself, read the way OpenSSL's verifier reads it: key usage,
 * basic constraints, key identifiers, whether it may act as a CA, and a summary for logs.
 */
import type { X509Certificate } from 'node:crypto';
import { altNames } from './altnames.js';
import {
  DerError,
  TAG,
  certificateReader,
  contentBytes,
  contextTag,
  decodeOid,
  type DerElement,
} from './der.js';

/** What the rest of the program needs to know about a loaded certificate. */
export interface CertInfo {
  /** Subject DN, e.g. `CN=client` (RDNs joined with ", "). */
  subject: string;
  /** SHA-256 of the DER certificate, lower-case hex without colons. */
  fingerprint256: string;
  /** Node's asymmetricKeyType of the certificate key: 'ec', 'rsa', 'rsa-pss', 'ed25519', … */
  keyKind: string;
  /** For EC keys: 'P-256', 'P-384', 'P-521', or OpenSSL's name for other curves. */
  curve?: string;
  /** For RSA and RSA-PSS keys: modulus length in bits. */
  rsaBits?: number;
  /** The keyUsage extension's bits by name; undefined when the extension is absent. */
  keyUsage?: KeyUsageName[];
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
}

/** The keyUsage bits of RFC 5280 section 4.2.1.3, spelled as there. */
export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

/** The KeyUsage BIT STRING's named bits, bit 0 first (RFC 5280 section 4.2.1.3). */
const KEY_USAGE_BITS: readonly KeyUsageName[] = [
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

/**
 * Lengths are read as OpenSSL reads them (der.ts certificateReader): the certificate has been
 * parsed by OpenSSL, and what it took must not fail here.
 */
const { readElement, expectElement, children } = certificateReader;

/** Extension OIDs (RFC 5280 section 4.2.1). */
const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

/** The extensions of a certificate, parsed once per X509Certificate object. */
interface Extensions {
  version: number;
  keyUsage?: KeyUsageName[];
  basicConstraints?: { ca: boolean; pathLen?: number };
  subjectKeyId?: string;
  authorityKeyId?: string;
}

const parsed = new WeakMap<X509Certificate, Extensions>();

/**
 * Reads the version and the four extensions above from the DER certificate with der.ts
 * (RFC 5280 section 4.1: Certificate, TBSCertificate, Extensions). The certificate has been
 * parsed by OpenSSL already (X509Certificate); an extension that is malformed, or appears
 * twice (RFC 5280 section 4.2; OpenSSL's verifier refuses such a certificate), throws
 * DerError.
 */
function extensionsOf(cert: X509Certificate): Extensions {
  let ext = parsed.get(cert);
  if (ext) return ext;
  const der = cert.raw;
  const outer = expectElement(der, 0, TAG.SEQUENCE);
  const tbs = expectElement(der, outer.contentStart, TAG.SEQUENCE, outer.end);
  ext = { version: 1 };
  const values = new Map<string, DerElement>();
  for (const el of children(der, tbs)) {
    if (el.tag === contextTag(0)) {
      const v = contentBytes(der, expectElement(der, el.contentStart, TAG.INTEGER, el.end));
      ext.version = smallInteger(v) + 1;
    } else if (el.tag === contextTag(3)) {
      const list = expectElement(der, el.contentStart, TAG.SEQUENCE, el.end);
      for (const e of children(der, list)) {
        if (e.tag !== TAG.SEQUENCE) throw new DerError('an extension is not a SEQUENCE');
        // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }
        const [id, second, third] = [...children(der, e)];
        const value = second?.tag === TAG.BOOLEAN ? third : second;
        if (id?.tag !== TAG.OID || value?.tag !== TAG.OCTET_STRING)
          throw new DerError('malformed extension');
        const oid = decodeOid(der, id);
        if (values.has(oid)) throw new DerError(`extension ${oid} appears twice`);
        values.set(oid, value);
      }
    }
  }
  const inner = (oid: string): DerElement | undefined => {
    const v = values.get(oid);
    return v && readElement(der, v.contentStart, v.end);
  };
  const ku = inner(OID.keyUsage);
  if (ku) ext.keyUsage = keyUsageNames(der, ku);
  const bc = inner(OID.basicConstraints);
  if (bc) ext.basicConstraints = basicConstraints(der, bc);
  const ski = inner(OID.subjectKeyIdentifier);
  if (ski?.tag === TAG.OCTET_STRING) ext.subjectKeyId = contentBytes(der, ski).toString('hex');
  const aki = inner(OID.authorityKeyIdentifier);
  if (aki?.tag === TAG.SEQUENCE) {
    // keyIdentifier [0] IMPLICIT KeyIdentifier (OCTET STRING): primitive context tag 0.
    const id = [...children(der, aki)].find((e) => e.tag === 0x80);
    if (id) ext.authorityKeyId = contentBytes(der, id).toString('hex');
  }
  parsed.set(cert, ext);
  return ext;
}

/** The named bits set in a KeyUsage BIT STRING. */
function keyUsageNames(der: Buffer, el: DerElement): KeyUsageName[] {
  if (el.tag !== TAG.BIT_STRING) throw new DerError('keyUsage is not a BIT STRING');
  const bits = contentBytes(der, el);
  if (bits.length === 0 || (bits[0] as number) > 7) throw new DerError('malformed keyUsage');
  return KEY_USAGE_BITS.filter((_, i) => ((bits[1 + (i >> 3)] ?? 0) & (0x80 >> (i & 7))) !== 0);
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } */
function basicConstraints(der: Buffer, el: DerElement): { ca: boolean; pathLen?: number } {
  if (el.tag !== TAG.SEQUENCE) throw new DerError('basicConstraints is not a SEQUENCE');
  const out: { ca: boolean; pathLen?: number } = { ca: false };
  for (const e of children(der, el)) {
    if (e.tag === TAG.BOOLEAN) out.ca = booleanValue(contentBytes(der, e));
    else if (e.tag === TAG.INTEGER) out.pathLen = smallInteger(contentBytes(der, e));
    else throw new DerError('malformed basicConstraints');
  }
  return out;
}

/** A BOOLEAN's one content byte, any non-zero value TRUE (X.690 section 8.2), as OpenSSL reads it. */
function booleanValue(bytes: Buffer): boolean {
  if (bytes.length !== 1) throw new DerError('a BOOLEAN is not one byte');
  return bytes[0] !== 0;
}

/** A non-negative INTEGER of at most 6 content bytes (a version, a path length). */
function smallInteger(bytes: Buffer): number {
  if (bytes.length === 0 || bytes.length > 6 || (bytes[0] as number) & 0x80)
    throw new DerError('not a small non-negative INTEGER');
  return bytes.readUIntBE(0, bytes.length);
}

/**
 * Reads the extensions this module answers from (keyUsage, basicConstraints, the key
 * identifiers), so that a certificate breaking them is refused where it is read
 * (pem.ts parseCertificates) rather than when first asked. Throws DerError.
 */
export function checkExtensions(cert: X509Certificate): void {
  extensionsOf(cert);
}

/** The keyUsage bits, or undefined when the certificate has no keyUsage extension. */
export function keyUsageOf(cert: X509Certificate): KeyUsageName[] | undefined {
  return extensionsOf(cert).keyUsage;
}

/**
 * The extendedKeyUsage OIDs, or undefined without the extension (any purpose, for OpenSSL).
 * Node calls them `keyUsage` and types them as always present.
 */
export function extendedKeyUsageOf(cert: X509Certificate): string[] | undefined {
  const eku: string[] | undefined = cert.keyUsage;
  return eku;
}

/** The subjectKeyIdentifier as lower-case hex, if present. */
export function subjectKeyIdOf(cert: X509Certificate): string | undefined {
  return extensionsOf(cert).subjectKeyId;
}

/** The keyIdentifier of the authorityKeyIdentifier extension as lower-case hex, if present. */
export function authorityKeyIdOf(cert: X509Certificate): string | undefined {
  return extensionsOf(cert).authorityKeyId;
}

/** `issuer` issued and signed `cert`. */
export function issued(issuer: X509Certificate, cert: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/** Issuer and subject are the same name and the certificate verifies with its own key. */
export function isSelfSigned(cert: X509Certificate): boolean {
  return issued(cert, cert);
}

/**
 * Whether OpenSSL's verifier lets this certificate sign others (X509_check_ca in
 * crypto/x509/v3_purp.c returning non-zero): a keyUsage without keyCertSign says no; then
 * basicConstraints decides when present; without it, a self-signed version 1 certificate or
 * one whose keyUsage includes keyCertSign counts as a CA. Node's `X509Certificate.ca` is only
 * the basicConstraints case.
 */
export function isCaCertificate(cert: X509Certificate): boolean {
  const ext = extensionsOf(cert);
  if (ext.keyUsage && !ext.keyUsage.includes('keyCertSign')) return false;
  if (ext.basicConstraints) return ext.basicConstraints.ca;
  if (ext.version === 1 && isSelfSigned(cert)) return true;
  return ext.keyUsage !== undefined;
}

/** Summarises a certificate: subject, fingerprint, key type and size, usage, validity, SANs. */
export function describeCertificate(cert: X509Certificate): CertInfo {
  const pub = cert.publicKey;
  const details = pub.asymmetricKeyDetails ?? {};
  const { dnsNames, ipAddresses } = altNames(cert);
  const info: CertInfo = {
    subject: subjectOf(cert),
    fingerprint256: fingerprintOf(cert),
    keyKind: pub.asymmetricKeyType ?? 'unknown',
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    dnsNames,
    ipAddresses,
  };
  if (details.namedCurve !== undefined) info.curve = curveName(details.namedCurve);
  if (details.modulusLength !== undefined) info.rsaBits = details.modulusLength;
  const ku = keyUsageOf(cert);
  if (ku) info.keyUsage = ku;
  return info;
}

/** Maps OpenSSL curve names to the NIST names used elsewhere in this program. */
export function curveName(openssl: string): string {
  const names: Record<string, string> = {
    prime256v1: 'P-256',
    secp384r1: 'P-384',
    secp521r1: 'P-521',
  };
  return names[openssl] ?? openssl;
}

/** The subject as one line, `CN=a, O=b`. */
export function subjectOf(cert: X509Certificate): string {
  return cert.subject.split('\n').join(', ');
}

/** The issuer as one line, `CN=a, O=b`. */
export function issuerOf(cert: X509Certificate): string {
  return cert.issuer.split('\n').join(', ');
}

/** SHA-256 of the DER certificate, lower-case hex without colons. */
export function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256.replaceAll(':', '').toLowerCase();
}

/** The serial number as lower-case hex without leading zeros. */
export function serialOf(cert: X509Certificate): string {
  return cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
}

/** Subject, issuer, serial and fingerprint: how logs and errors name one certificate. */
export function identify(cert: X509Certificate): {
  subject: string;
  issuer: string;
  serial: string;
  fingerprint256: string;
} {
  return {
    subject: subjectOf(cert),
    issuer: issuerOf(cert),
    serial: serialOf(cert),
    fingerprint256: fingerprintOf(cert),
  };
}
