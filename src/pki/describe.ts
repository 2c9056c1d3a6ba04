/**
 * What a certificate says about itself, read the way OpenSSL's verifier reads it: key usage,
 * basic constraints, key identifiers, whether it may act as a CA, and a summary for logs.
 */
import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  KeyUsage,
  KeyUsageFlags,
  SubjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  type Extension,
} from '@peculiar/asn1-x509';
import { altNames } from './altnames.js';

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

const KEY_USAGE_BITS: [KeyUsageName, number][] = [
  ['digitalSignature', KeyUsageFlags.digitalSignature],
  ['nonRepudiation', KeyUsageFlags.nonRepudiation],
  ['keyEncipherment', KeyUsageFlags.keyEncipherment],
  ['dataEncipherment', KeyUsageFlags.dataEncipherment],
  ['keyAgreement', KeyUsageFlags.keyAgreement],
  ['keyCertSign', KeyUsageFlags.keyCertSign],
  ['cRLSign', KeyUsageFlags.cRLSign],
  ['encipherOnly', KeyUsageFlags.encipherOnly],
  ['decipherOnly', KeyUsageFlags.decipherOnly],
];

/** The extensions of a certificate, parsed once per X509Certificate object. */
interface Extensions {
  version: number;
  keyUsage?: KeyUsageName[];
  basicConstraints?: { ca: boolean; pathLen?: number };
  subjectKeyId?: string;
  authorityKeyId?: string;
}

const parsed = new WeakMap<X509Certificate, Extensions>();

function extensionsOf(cert: X509Certificate): Extensions {
  let ext = parsed.get(cert);
  if (ext) return ext;
  const tbs = AsnConvert.parse(cert.raw, Certificate).tbsCertificate;
  const find = (oid: string): Extension | undefined =>
    tbs.extensions?.find((e) => e.extnID === oid);
  ext = { version: tbs.version + 1 };
  const ku = find(id_ce_keyUsage);
  if (ku) {
    const bits = AsnConvert.parse(ku.extnValue, KeyUsage).toNumber();
    ext.keyUsage = KEY_USAGE_BITS.filter(([, bit]) => bits & bit).map(([name]) => name);
  }
  const bc = find(id_ce_basicConstraints);
  if (bc) {
    const v = AsnConvert.parse(bc.extnValue, BasicConstraints);
    ext.basicConstraints = {
      ca: v.cA,
      ...(v.pathLenConstraint === undefined ? {} : { pathLen: v.pathLenConstraint }),
    };
  }
  const ski = find(id_ce_subjectKeyIdentifier);
  if (ski) {
    const id = AsnConvert.parse(ski.extnValue, SubjectKeyIdentifier);
    ext.subjectKeyId = Buffer.from(id.buffer).toString('hex');
  }
  const aki = find(id_ce_authorityKeyIdentifier);
  if (aki) {
    const id = AsnConvert.parse(aki.extnValue, AuthorityKeyIdentifier).keyIdentifier;
    if (id) ext.authorityKeyId = Buffer.from(id.buffer).toString('hex');
  }
  parsed.set(cert, ext);
  return ext;
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
