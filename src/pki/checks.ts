/**
 * Cross-checks run at start on material loaded for TLS: the key belongs to the certificate,
 * every certificate is valid now, the chain in the file links leaf → issuer → …, key usage
 * and extended key usage allow the role, and the key is one TLS can use. Each failure names
 * the file, the certificate and the fix.
 */
import { createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { SecureStreamError } from '../errors.js';
import {
  extendedKeyUsageOf,
  isCaCertificate,
  issued,
  issuerOf,
  keyUsageOf,
  subjectOf,
  type KeyUsageName,
} from './describe.js';

/** Which end of the TLS connection a certificate is loaded for. */
export type Role = 'server' | 'client';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** Server Gated Crypto (Netscape, Microsoft): OpenSSL still accepts them for servers. */
const SGC = ['2.16.840.1.113730.4.1', '1.3.6.1.4.1.311.10.3.3'];
/** OpenSSL's check_purpose_ssl_server: a server key must sign, decrypt or agree. */
const SERVER_KEY_USAGE: KeyUsageName[] = ['digitalSignature', 'keyEncipherment', 'keyAgreement'];
const TLS_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
export const RSA_MIN_BITS = 2048;
/** OpenSSL's OPENSSL_RSA_MAX_MODULUS_BITS. */
export const RSA_MAX_BITS = 16384;

/** pki-key-mismatch unless the private key belongs to the certificate's public key. */
export function assertKeyMatches(
  key: KeyObject,
  cert: X509Certificate,
  keyPath: string,
  certPath: string,
): void {
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const fromCert = cert.publicKey.export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(fromCert)) {
    throw new SecureStreamError(
      'pki-key-mismatch',
      `private key "${keyPath}" does not belong to certificate "${certPath}"`,
      'pass the key that was generated together with this certificate',
    );
  }
}

/**
 * pki-not-yet-valid / pki-expired unless `now` lies within the certificate's validity.
 * `label` names the certificate, e.g. `certificate "server.crt"`.
 */
export function assertValidAt(cert: X509Certificate, now: Date, label: string): void {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (now < notBefore) {
    throw new SecureStreamError(
      'pki-not-yet-valid',
      `${label} is not valid before ${notBefore.toISOString()}`,
      'check the clock of this machine, or wait',
    );
  }
  if (now > notAfter) {
    throw new SecureStreamError(
      'pki-expired',
      `${label} expired on ${notAfter.toISOString()}`,
      'issue a new certificate',
    );
  }
}

/** Whether the extendedKeyUsage (absent: any purpose, as OpenSSL reads it) allows the role. */
export function ekuAllows(cert: X509Certificate, role: Role): boolean {
  const eku = extendedKeyUsageOf(cert);
  if (eku === undefined) return true;
  return role === 'server'
    ? eku.includes(SERVER_AUTH) || SGC.some((o) => eku.includes(o))
    : eku.includes(CLIENT_AUTH);
}

/** The EKU name a role needs, spelled as RFC 5280 spells it, with its OID. */
export function ekuName(role: Role): string {
  return role === 'server' ? `serverAuth (${SERVER_AUTH})` : `clientAuth (${CLIENT_AUTH})`;
}

/**
 * The leaf may serve the role: not a CA, extendedKeyUsage allows it, keyUsage (when present)
 * allows signing in the handshake. A client signs its CertificateVerify, so it needs
 * digitalSignature (RFC 5246 section 7.4.8); what a server needs depends on its suites and
 * is checked with them (transport/tls.ts), here only OpenSSL's own rule for servers.
 */
export function assertLeafUsage(cert: X509Certificate, role: Role, path: string): void {
  if (cert.ca) {
    throw new SecureStreamError(
      'pki-wrong-usage',
      `certificate "${path}" is a CA certificate, not a ${role} certificate`,
      `pass the ${role} certificate issued by this CA`,
    );
  }
  if (!ekuAllows(cert, role)) {
    throw new SecureStreamError(
      'pki-wrong-usage',
      `certificate "${path}" lacks extended key usage ${ekuName(role)} needed by a ${role}`,
      role === 'client'
        ? 'issue a client certificate with "securestream pki issue-client"'
        : 'use the server certificate made by "securestream pki init"',
    );
  }
  const ku = keyUsageOf(cert);
  if (ku === undefined) return;
  const ok =
    role === 'client'
      ? ku.includes('digitalSignature')
      : SERVER_KEY_USAGE.some((u) => ku.includes(u));
  if (!ok) {
    const needs = role === 'client' ? 'digitalSignature' : 'digitalSignature or keyEncipherment';
    throw new SecureStreamError(
      'pki-wrong-usage',
      `certificate "${path}" has key usage ${ku.join(', ') || '(none)'}; a ${role} needs ${needs}`,
      'issue the certificate again with keyUsage = critical, digitalSignature',
    );
  }
}

/**
 * The certificates of a --cert file, leaf first, link by link: each one issued and signed the
 * one before it, may act as a CA, is valid now and does not restrict extended key usage away
 * from the role. Throws pki-chain naming the broken link, or pki-expired / pki-not-yet-valid /
 * pki-wrong-usage naming the intermediate.
 */
export function assertChain(
  certs: readonly X509Certificate[],
  role: Role,
  path: string,
  now: Date,
): void {
  for (let i = 1; i < certs.length; i++) {
    const child = certs[i - 1] as X509Certificate;
    const issuer = certs[i] as X509Certificate;
    const label = `intermediate "${subjectOf(issuer)}" (certificate ${i + 1} in "${path}")`;
    if (!issued(issuer, child)) {
      throw new SecureStreamError(
        'pki-chain',
        `certificate ${i + 1} in "${path}" (${subjectOf(issuer)}) did not issue certificate ${i} ` +
          `(${subjectOf(child)}, issued by ${issuerOf(child)})`,
        "put the leaf first, then the CA certificate that issued it, then that one's issuer; " +
          'leave out certificates of other chains',
      );
    }
    if (!isCaCertificate(issuer)) {
      throw new SecureStreamError(
        'pki-chain',
        `${label} is not a CA certificate (basicConstraints or keyUsage forbid signing certificates)`,
      );
    }
    assertValidAt(issuer, now, label);
    if (!ekuAllows(issuer, role)) {
      throw new SecureStreamError(
        'pki-wrong-usage',
        `${label} limits extended key usage to ${extendedKeyUsageOf(issuer)?.join(', ') ?? ''}; ` +
          `certificates under it cannot be used with ${ekuName(role)}`,
      );
    }
  }
}

/**
 * The key is one TLS can use on both ends with the default policy: RSA or RSA-PSS of
 * 2048-16384 bits, EC on P-256/P-384/P-521 (peers offer no other curve), Ed25519 or Ed448.
 */
export function assertTlsKey(cert: X509Certificate, path: string): void {
  const key = cert.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  const kind = key.asymmetricKeyType ?? 'unknown';
  let problem: string | undefined;
  if (kind === 'rsa' || kind === 'rsa-pss') {
    const bits = d.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
      problem = `its ${bits}-bit RSA key is outside ${RSA_MIN_BITS}-${RSA_MAX_BITS} bits`;
    }
  } else if (kind === 'ec') {
    if (!TLS_CURVES.has(d.namedCurve ?? '')) {
      problem = `its EC key is on curve ${d.namedCurve ?? 'unknown'}, which TLS peers do not offer`;
    }
  } else if (kind !== 'ed25519' && kind !== 'ed448') {
    problem = `its ${kind} key cannot authenticate TLS`;
  }
  if (problem !== undefined) {
    throw new SecureStreamError(
      'pki-unsupported-key',
      `certificate "${path}" cannot be used: ${problem}`,
      'use an EC P-256, P-384 or P-521, Ed25519 or RSA 2048-4096 key',
    );
  }
}
