/**
 * Loading TLS material for `serve` and `get`: read the CA file, the certificate chain and the
 * key (pem.ts), cross-check them (checks.ts), and hand back PEM for node:tls.
 *
 * `--ca` names who may sign the peer, on each side: on `serve` the CAs of client
 * certificates, on `get` the CAs of the server's certificate. A side's own certificate need
 * not chain to its `--ca`; when its issuer is there anyway, it must be valid.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import {
  assertChain,
  assertKeyMatches,
  assertLeafUsage,
  assertTlsKey,
  assertValidAt,
  type Role,
} from './checks.js';
import { describeCertificate, issued, subjectOf, type CertInfo } from './describe.js';
import { parseCertificates, parsePrivateKey, pkcs8, readPemFile } from './pem.js';
import { readTrustAnchors, type TrustAnchors } from './trust.js';

/** Validated material, ready for `tls.createSecureContext`. */
export interface TlsMaterial {
  /** The CA file's trust anchors as node:tls `ca` (see trust.ts for the TRUSTED form). */
  ca: string;
  /** The CA file, parsed. */
  anchors: TrustAnchors;
  /** The leaf certificate followed by the rest of the chain of the cert file, as PEM. */
  cert: string;
  /** The private key, normalised to PKCS#8 PEM. */
  key: string;
  /** The same key, parsed (for the sstream-v1 decoder). */
  privateKey: KeyObject;
  certInfo: CertInfo;
  /** Problems that do not stop the start but will refuse some peers: the log shows them. */
  warnings: string[];
}

/** Options of {@link loadTlsMaterial}. */
export interface LoadTlsOptions {
  caPath: string;
  certPath: string;
  keyPath: string;
  role: Role;
  /** Reference time for validity checks; defaults to the current time. */
  now?: Date;
}

/**
 * Loads and cross-checks a CA file, a certificate chain and its private key. Throws a
 * SecureStreamError whose code names the first problem found: pki-missing, pki-unreadable,
 * pki-invalid, pki-encrypted-key, pki-key-mismatch, pki-chain, pki-wrong-usage,
 * pki-unsupported-key, pki-expired or pki-not-yet-valid.
 */
export async function loadTlsMaterial(opts: LoadTlsOptions): Promise<TlsMaterial> {
  const now = opts.now ?? new Date();
  // Read together, but report in a fixed order (CA, certificate, key): with several files
  // missing, the same one is named every time.
  const read = await Promise.allSettled([
    readPemFile(opts.caPath),
    readPemFile(opts.certPath),
    readPemFile(opts.keyPath),
  ]);
  const texts: string[] = [];
  for (const r of read) {
    if (r.status === 'rejected') throw r.reason;
    texts.push(r.value);
  }
  const [caText = '', certText = '', keyText = ''] = texts;
  const peerRole: Role = opts.role === 'server' ? 'client' : 'server';
  const anchors = readTrustAnchors(caText, opts.caPath, peerRole, now);
  const certs = parseCertificates(certText, opts.certPath);
  const leaf = certs[0] as X509Certificate;
  const key = parsePrivateKey(keyText, opts.keyPath);
  assertKeyMatches(key, leaf, opts.keyPath, opts.certPath);
  assertLeafUsage(leaf, opts.role, opts.certPath);
  assertTlsKey(leaf, opts.certPath);
  assertValidAt(leaf, now, `certificate "${opts.certPath}"`);
  assertChain(certs, opts.role, opts.certPath, now);
  const top = certs[certs.length - 1] as X509Certificate;
  const issuer = anchors.cas.find((ca) => issued(ca, top));
  if (issuer) assertValidAt(issuer, now, `CA "${subjectOf(issuer)}" in "${opts.caPath}"`);
  return {
    ca: anchors.pem,
    anchors,
    cert: certs.map((c) => c.toString()).join(''),
    key: pkcs8(key),
    privateKey: key,
    certInfo: describeCertificate(leaf),
    warnings: anchors.warnings,
  };
}
