/**
 * Trust anchors: the CA file (`--ca`) names who may sign the peer. Every CA certificate in it
 * is an anchor, whether a self-signed root or an intermediate whose issuer is absent.
 *
 * OpenSSL accepts an anchor that is not self-signed only with X509_V_FLAG_PARTIAL_CHAIN
 * (node's `allowPartialTrustChain`, which node 20's tls.Server drops) or when the certificate
 * carries trust settings for the purpose (X509_CERT_AUX, `openssl x509 -addtrust`): the
 * verifier's check_trust() ends the chain at a certificate explicitly trusted for the purpose.
 * node:tls reads `ca` with PEM_read_bio_X509_AUX, so such intermediates are handed over as
 * TRUSTED CERTIFICATE blocks trusted for the peer's role. Unlike the partial-chain flag this
 * leaves a chain that can reach a root in the file going up to that root, so the root's CRL
 * still applies to the intermediate.
 */
import type { X509Certificate } from 'node:crypto';
import { SecureStreamError } from '../errors.js';
import { TAG, encodeElement } from './der.js';
import { isCaCertificate, isSelfSigned, issued, subjectOf } from './describe.js';
import { parseCertificates, toPem } from './pem.js';
import type { Role } from './checks.js';

/** id-kp-serverAuth and id-kp-clientAuth, DER content octets (RFC 5280 section 4.2.1.12). */
const PURPOSE_OID: Record<Role, Buffer> = {
  server: Buffer.from('2b06010505070301', 'hex'),
  client: Buffer.from('2b06010505070302', 'hex'),
};

/** The CA file, read for verifying a peer of one role. */
export interface TrustAnchors {
  /** Every CA certificate of the file, in file order (leaf certificates in it are dropped). */
  cas: X509Certificate[];
  /** For node:tls `ca`: roots as CERTIFICATE, partial-chain anchors as TRUSTED CERTIFICATE. */
  pem: string;
  /** The anchors that are not self-signed and whose issuer is not in the file. */
  partial: X509Certificate[];
  /** CAs not valid at load time, while others are: logged, since their clients will fail. */
  warnings: string[];
}

/**
 * Reads a CA file for verifying a peer that plays `peerRole`. Throws pki-invalid when the
 * file holds no CA certificate, and pki-expired / pki-not-yet-valid when none is valid now.
 * A CA is what OpenSSL's verifier lets sign (describe.ts isCaCertificate): v1 roots and roots
 * with keyCertSign but no basicConstraints count.
 */
export function readTrustAnchors(
  text: string,
  path: string,
  peerRole: Role,
  now: Date,
): TrustAnchors {
  const cas = parseCertificates(text, path).filter(isCaCertificate);
  if (cas.length === 0) {
    throw new SecureStreamError(
      'pki-invalid',
      `CA file "${path}" contains no CA certificate`,
      'pass the ca.crt of the PKI, not a server or client certificate',
    );
  }
  const partial = cas.filter((c) => !isSelfSigned(c) && !cas.some((p) => p !== c && issued(p, c)));
  const invalid = cas.map((c) => validityProblem(c, now));
  const problems = invalid.filter((p): p is InvalidCa => p !== undefined);
  if (problems.length === cas.length) {
    const first = problems[0] as InvalidCa;
    throw new SecureStreamError(
      first.code,
      `CA file "${path}": ${problems.map((p) => p.text).join('; ')}`,
      'replace the CA file with the current CA certificate',
    );
  }
  const pem = cas
    .map((c) => (partial.includes(c) ? trustedCertificate(c, peerRole) : c.toString()))
    .join('');
  return {
    cas,
    pem,
    partial,
    warnings: problems.map((p) => `CA file "${path}": ${p.text}; its certificates will be refused`),
  };
}

interface InvalidCa {
  code: 'pki-expired' | 'pki-not-yet-valid';
  text: string;
}

function validityProblem(ca: X509Certificate, now: Date): InvalidCa | undefined {
  const from = new Date(ca.validFrom);
  const to = new Date(ca.validTo);
  if (now < from) {
    return {
      code: 'pki-not-yet-valid',
      text: `CA "${subjectOf(ca)}" is not valid before ${from.toISOString()}`,
    };
  }
  if (now > to) {
    return { code: 'pki-expired', text: `CA "${subjectOf(ca)}" expired on ${to.toISOString()}` };
  }
  return undefined;
}

/** The certificate followed by X509_CERT_AUX { trust SEQUENCE OF OID }, as PEM. */
function trustedCertificate(cert: X509Certificate, peerRole: Role): string {
  const aux = encodeElement(
    TAG.SEQUENCE,
    encodeElement(TAG.SEQUENCE, encodeElement(TAG.OID, PURPOSE_OID[peerRole])),
  );
  return toPem('TRUSTED CERTIFICATE', Buffer.concat([cert.raw, aux]));
}
