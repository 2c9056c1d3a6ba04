import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { altNames } from './altnames.js';
import { SecureStreamError, errnoCode } from '../errors.js';

/** PEM files larger than this are refused: real CA bundles are far smaller. */
export const MAX_PEM_BYTES = 1024 * 1024;

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);
const ENCRYPTED_HINT = 'decrypt it once with: openssl pkey -in KEY -out KEY.plain';

/** Which end of the TLS connection a certificate is loaded for. */
export type Role = 'server' | 'client';

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
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
}

/** Validated PEM material, ready for `tls.createSecureContext`. */
export interface TlsMaterial {
  /** The CA certificates of the CA file, as PEM (one or more blocks). */
  ca: string;
  /** The leaf certificate followed by any further certificates of the cert file, as PEM. */
  cert: string;
  /** The private key, normalised to PKCS#8 PEM. */
  key: string;
  /** The same key, parsed (for the sstream-v1 decoder). */
  privateKey: KeyObject;
  certInfo: CertInfo;
}

/** Options of {@link loadTlsMaterial}. */
export interface LoadTlsOptions {
  caPath: string;
  certPath: string;
  keyPath: string;
  role: Role;
  /**
   * Require the certificate to be issued by a CA in caPath. Default: true for the server,
   * whose CA file is the one clients are checked against; false for a client, whose CA file
   * names who signs the server, not necessarily who signed the client.
   */
  requireIssuedByCa?: boolean;
  /** Reference time for validity checks; defaults to the current time. */
  now?: Date;
}

/** One `-----BEGIN X-----` … `-----END X-----` block of a PEM file. */
export interface PemBlock {
  label: string;
  text: string;
}

/**
 * The default CA, certificate and key paths inside a PKI folder made by `pki init`:
 * the server uses server.crt/server.key, a client NAME.crt/NAME.key (default "client").
 */
export function pkiPaths(
  dir: string,
  role: Role,
  clientName = 'client',
): { caPath: string; certPath: string; keyPath: string } {
  const base = role === 'server' ? 'server' : clientName;
  return {
    caPath: join(dir, 'ca.crt'),
    certPath: join(dir, `${base}.crt`),
    keyPath: join(dir, `${base}.key`),
  };
}

/**
 * Loads and cross-checks a CA file, a certificate and its private key. Throws a
 * SecureStreamError whose code names the first problem found: pki-missing, pki-unreadable,
 * pki-invalid, pki-encrypted-key, pki-key-mismatch, pki-untrusted, pki-wrong-usage,
 * pki-expired or pki-not-yet-valid.
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
  const cas = parseCertificates(caText, opts.caPath).filter((c) => c.ca);
  if (cas.length === 0) {
    throw new SecureStreamError(
      'pki-invalid',
      `ca file "${opts.caPath}" contains no ca certificate`,
      'pass the ca.crt of the PKI, not a server or client certificate',
    );
  }
  const certs = parseCertificates(certText, opts.certPath);
  const leaf = certs[0] as X509Certificate;
  const key = parsePrivateKey(keyText, opts.keyPath);
  assertKeyMatches(key, leaf, opts.keyPath, opts.certPath);
  const issuer = findIssuer(leaf, cas);
  if (!issuer && (opts.requireIssuedByCa ?? opts.role === 'server')) {
    throw new SecureStreamError(
      'pki-untrusted',
      `certificate "${opts.certPath}" (${subjectOf(leaf)}) is not signed by a ca in ` +
        `"${opts.caPath}"`,
      'use the ca.crt of the PKI that issued it, or issue a new certificate from this CA',
    );
  }
  assertUsage(leaf, opts.role, opts.certPath);
  assertValidAt(leaf, now, opts.certPath);
  if (issuer) assertValidAt(issuer, now, opts.caPath);
  return {
    ca: cas.map((c) => c.toString()).join(''),
    cert: certs.map((c) => c.toString()).join(''),
    key: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    privateKey: key,
    certInfo: describeCertificate(leaf),
  };
}

/** Reads a PEM file as text; pki-missing, pki-unreadable, or pki-invalid when too large. */
export async function readPemFile(path: string): Promise<string> {
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      if (st.size > MAX_PEM_BYTES) {
        throw new SecureStreamError(
          'pki-invalid',
          `"${path}" is ${st.size} bytes, more than the ${MAX_PEM_BYTES} allowed for a pem file`,
        );
      }
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw readError(e, path);
  }
  return text;
}

function readError(e: unknown, path: string): SecureStreamError {
  if (e instanceof SecureStreamError) return e;
  const code = errnoCode(e);
  if (code === 'ENOENT') {
    return new SecureStreamError(
      'pki-missing',
      `file "${path}" does not exist`,
      'run "securestream pki init" or pass --ca/--cert/--key',
      { cause: e },
    );
  }
  const why =
    code === 'EISDIR'
      ? 'it is a directory'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : e instanceof Error
          ? e.message
          : String(e);
  return new SecureStreamError('pki-unreadable', `cannot read "${path}": ${why}`, undefined, {
    cause: e,
  });
}

/** Splits PEM text into its blocks; text outside blocks (comments, `openssl` dumps) is skipped. */
export function pemBlocks(text: string): PemBlock[] {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
  return [...text.matchAll(re)].map((m) => ({ label: m[1] ?? '', text: `${m[0]}\n` }));
}

/** Parses every CERTIFICATE block of a file; at least one is required (else pki-invalid). */
export function parseCertificates(text: string, path: string): X509Certificate[] {
  const blocks = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) {
    throw new SecureStreamError(
      'pki-invalid',
      `"${path}" contains no pem certificate`,
      'certificates must be PEM ("-----BEGIN CERTIFICATE-----"); convert DER with ' +
        'openssl x509 -inform der -in FILE -out FILE.pem',
    );
  }
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b.text);
    } catch (e) {
      throw new SecureStreamError(
        'pki-invalid',
        `certificate ${i + 1} in "${path}" cannot be parsed`,
        undefined,
        { cause: e },
      );
    }
  });
}

/**
 * Parses the one private key of a file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM. Encrypted keys
 * are refused with pki-encrypted-key, anything else unusable with pki-invalid.
 */
export function parsePrivateKey(text: string, path: string): KeyObject {
  const blocks = pemBlocks(text);
  if (
    blocks.some(
      (b) => b.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(b.text),
    )
  ) {
    throw encryptedKey(path);
  }
  const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
  if (keys.length !== 1) {
    throw new SecureStreamError(
      'pki-invalid',
      keys.length === 0
        ? `"${path}" contains no pem private key`
        : `"${path}" contains ${keys.length} private keys, expected one`,
    );
  }
  try {
    return createPrivateKey((keys[0] as PemBlock).text);
  } catch (e) {
    const code = errnoCode(e);
    // OpenSSL 3 reports a missing passphrase as an interrupted password callback
    if (code === 'ERR_MISSING_PASSPHRASE' || code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED') {
      throw encryptedKey(path);
    }
    throw new SecureStreamError(
      'pki-invalid',
      `private key "${path}" cannot be parsed`,
      undefined,
      {
        cause: e,
      },
    );
  }
}

function encryptedKey(path: string): SecureStreamError {
  return new SecureStreamError(
    'pki-encrypted-key',
    `private key "${path}" is passphrase-protected; encrypted keys are not supported`,
    ENCRYPTED_HINT.replaceAll('KEY', path),
  );
}

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

/** The CA among `cas` that issued and signed `cert`, if any. */
export function findIssuer(
  cert: X509Certificate,
  cas: readonly X509Certificate[],
): X509Certificate | undefined {
  return cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
}

function assertUsage(cert: X509Certificate, role: Role, path: string): void {
  if (cert.ca) {
    throw new SecureStreamError(
      'pki-wrong-usage',
      `certificate "${path}" is a ca certificate, not a ${role} certificate`,
      `pass the ${role} certificate issued by this CA`,
    );
  }
  // Node exposes the extendedKeyUsage OIDs as `keyUsage`; undefined when the extension is absent,
  // in which case OpenSSL allows every purpose and so do we.
  const eku = cert.keyUsage as string[] | undefined;
  const needed = role === 'server' ? SERVER_AUTH : CLIENT_AUTH;
  if (eku !== undefined && !eku.includes(needed)) {
    const name = role === 'server' ? 'serverAuth' : 'clientAuth';
    throw new SecureStreamError(
      'pki-wrong-usage',
      `certificate "${path}" lacks extended key usage ${name} (${needed}) needed by a ${role}`,
      role === 'client'
        ? 'issue a client certificate with "securestream pki issue-client"'
        : 'use the server certificate made by "securestream pki init"',
    );
  }
}

/** pki-not-yet-valid / pki-expired unless `now` lies within the certificate's validity. */
export function assertValidAt(cert: X509Certificate, now: Date, path: string): void {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (now < notBefore) {
    throw new SecureStreamError(
      'pki-not-yet-valid',
      `certificate "${path}" is not valid before ${notBefore.toISOString()}`,
      'check the clock of this machine, or wait',
    );
  }
  if (now > notAfter) {
    throw new SecureStreamError(
      'pki-expired',
      `certificate "${path}" expired on ${notAfter.toISOString()}`,
      'issue a new certificate',
    );
  }
}

/** Summarises a certificate: subject, fingerprint, key type and size, validity, SANs. */
export function describeCertificate(cert: X509Certificate): CertInfo {
  const pub = cert.publicKey;
  const details = pub.asymmetricKeyDetails ?? {};
  const info: CertInfo = {
    subject: subjectOf(cert),
    fingerprint256: cert.fingerprint256.replaceAll(':', '').toLowerCase(),
    keyKind: pub.asymmetricKeyType ?? 'unknown',
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    ...subjectAltNames(cert),
  };
  if (details.namedCurve !== undefined) info.curve = curveName(details.namedCurve);
  if (details.modulusLength !== undefined) info.rsaBits = details.modulusLength;
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

function subjectOf(cert: X509Certificate): string {
  return cert.subject.split('\n').join(', ');
}

/** DNS names and IP addresses of the subjectAltName extension. */
export function subjectAltNames(cert: X509Certificate): {
  dnsNames: string[];
  ipAddresses: string[];
} {
  const { dnsNames, ipAddresses } = altNames(cert);
  return { dnsNames, ipAddresses };
}

/**
 * Whether something exists at `path` (a dangling symlink counts). Any error other than
 * ENOENT is `pki-unreadable`: a PKI file that cannot be checked must not be taken as absent.
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw new SecureStreamError('pki-unreadable', `cannot read "${path}"`, undefined, { cause: e });
  }
}
