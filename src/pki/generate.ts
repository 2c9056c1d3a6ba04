/**
 * Certificate creation for `pki init` and `pki issue-client` (and for test fixtures): keys,
 * a self-signed CA, and leaf certificates whose usages follow from what they are for.
 */
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
} from '@peculiar/asn1-x509';
import { SecureStreamError, UsageError } from '../errors.js';
import { canonicalIp } from './altnames.js';
import { assertKeyMatches } from './checks.js';
import { isCaCertificate } from './describe.js';
import { pkcs8, toPem } from './pem.js';
import { signTbs, signerFor, unsupportedCaKey, type Signer } from './sign.js';

// Certificates are built with @peculiar/asn1-x509 (the ASN.1 layer of @peculiar/x509) and
// signed with node:crypto (sign.ts): @peculiar/x509 v2 itself cannot be imported without a global
// reflect-metadata polyfill (its tsyringe dependency throws at load time).

/** Key algorithm offered by `pki init` and `pki issue-client`. */
export type KeyType = 'ec' | 'rsa';

/**
 * Exact key to generate. CA keys must be 'ec' or 'rsa'; 'ed25519', 'rsa-pss' and P-521 exist
 * for leaf certificates in tests (`pki init` offers EC P-256 and RSA).
 */
export type KeySpec =
  | { kind: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' }
  | { kind: 'rsa'; bits: number }
  | { kind: 'ed25519' }
  | { kind: 'rsa-pss'; bits: number };

/** A certificate and its private key (PKCS#8), both PEM. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** Options of {@link createCa}. */
export interface CaOptions {
  commonName: string;
  keySpec: KeySpec;
  notBefore: Date;
  notAfter: Date;
}

/** What a leaf certificate is for: its extendedKeyUsage. 'none' (no EKU) exists for tests. */
export type LeafKind = 'server' | 'client' | 'none';

/** Options of {@link issueCertificate}. */
export interface LeafOptions {
  kind: LeafKind;
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  emails?: string[];
  uris?: string[];
  keySpec: KeySpec;
  notBefore: Date;
  notAfter: Date;
}

/** A certificate issued by {@link issueCertificate}, with its serial as lower-case hex. */
export interface IssuedCertificate extends PemPair {
  serialHex: string;
}

const RSA_MIN_BITS = 1024;
const RSA_MAX_BITS = 16384;
const CN_MAX = 64; // ub-common-name, RFC 5280 appendix A

/** Generates a private key as described by `spec` (async, off the main thread). */
export function generateKey(spec: KeySpec): Promise<KeyObject> {
  if ((spec.kind === 'rsa' || spec.kind === 'rsa-pss') && !validRsaBits(spec.bits)) {
    const msg = `invalid RSA key size ${spec.bits}: expected ${RSA_MIN_BITS}-${RSA_MAX_BITS}`;
    return Promise.reject(new UsageError(msg));
  }
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, key: KeyObject): void => {
      if (err) reject(err);
      else resolve(key);
    };
    switch (spec.kind) {
      case 'ec':
        generateKeyPair('ec', { namedCurve: spec.curve }, done);
        break;
      case 'rsa':
        generateKeyPair('rsa', { modulusLength: spec.bits }, done);
        break;
      case 'rsa-pss':
        generateKeyPair('rsa-pss', { modulusLength: spec.bits }, done);
        break;
      case 'ed25519':
        generateKeyPair('ed25519', {}, done);
        break;
    }
  });
}

function validRsaBits(bits: number): boolean {
  return Number.isInteger(bits) && bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS;
}

/** The key spec matching an existing key, so new leaves follow their CA's algorithm. */
export function keySpecOf(key: KeyObject): KeySpec {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (d.namedCurve === 'secp384r1') return { kind: 'ec', curve: 'P-384' };
      if (d.namedCurve === 'secp521r1') return { kind: 'ec', curve: 'P-521' };
      return { kind: 'ec', curve: 'P-256' };
    case 'rsa':
      return { kind: 'rsa', bits: d.modulusLength ?? 2048 };
    default:
      throw unsupportedCaKey(key);
  }
}

/** The KeySpec for a CLI key type; RSA sizes below 2048 are refused here (UsageError). */
export function keySpecFor(keyType: string, rsaBits?: number): KeySpec {
  if (keyType === 'ec') return { kind: 'ec', curve: 'P-256' };
  if (keyType === 'rsa') {
    const bits = rsaBits ?? 2048;
    if (!Number.isInteger(bits) || bits < 2048 || bits > RSA_MAX_BITS) {
      throw new UsageError(`invalid RSA key size ${bits}: expected 2048-${RSA_MAX_BITS}`);
    }
    return { kind: 'rsa', bits };
  }
  throw new UsageError(`invalid key type "${keyType}": expected "ec" or "rsa"`);
}

/** Copies bytes into a fresh ArrayBuffer, the type the ASN.1 classes want. */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

/** A Name holding only a common name. */
export function commonNameOnly(cn: string): Name {
  if (cn.length === 0 || cn.length > CN_MAX) {
    throw new UsageError(`invalid common name "${cn}": expected 1-${CN_MAX} characters`);
  }
  const atv = new AttributeTypeAndValue({
    type: '2.5.4.3',
    value: new AttributeValue({ utf8String: cn }),
  });
  return new Name([new RelativeDistinguishedName([atv])]);
}

/**
 * Creates a self-signed CA: basicConstraints CA:true with pathLen 0 (it signs only leaves),
 * keyUsage keyCertSign|cRLSign, both critical, and a subject key identifier.
 */
export async function createCa(opts: CaOptions): Promise<PemPair> {
  const key = await generateKey(opts.keySpec);
  const signer = signerFor(key);
  const name = commonNameOnly(opts.commonName);
  const spki = spkiOf(key);
  const certPem = buildCertificate(
    {
      serial: randomSerial(),
      issuer: name,
      subject: name,
      notBefore: opts.notBefore,
      notAfter: opts.notAfter,
      spki,
      extensions: [
        extension(
          id_ce_basicConstraints,
          true,
          new BasicConstraints({ cA: true, pathLenConstraint: 0 }),
        ),
        extension(
          id_ce_keyUsage,
          true,
          new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign),
        ),
        extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdOf(spki))),
      ],
    },
    signer,
  );
  return { certPem, keyPem: pkcs8(key) };
}

/**
 * Issues a leaf certificate from `ca`. server → EKU serverAuth, client → EKU clientAuth,
 * none → no EKU. keyUsage digitalSignature (+ keyEncipherment for RSA keys, used by RSA key
 * transport), basicConstraints CA:false, a random 16-byte positive serial, SKI and AKI.
 * Throws pki-outlives-ca when `notAfter` is past the CA's own expiry.
 */
export async function issueCertificate(ca: PemPair, opts: LeafOptions): Promise<IssuedCertificate> {
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  assertKeyMatches(caKey, caCert, 'CA key', 'CA certificate');
  if (!isCaCertificate(caCert)) {
    throw new SecureStreamError('pki-invalid', 'the CA certificate is not a CA');
  }
  const caNotAfter = new Date(caCert.validTo);
  // certificates store whole seconds; compare what will be encoded
  if (Math.floor(opts.notAfter.getTime() / 1000) * 1000 > caNotAfter.getTime()) {
    throw new SecureStreamError(
      'pki-outlives-ca',
      `a certificate valid until ${opts.notAfter.toISOString()} would outlive its CA ` +
        `(valid until ${caNotAfter.toISOString()})`,
      'ask for fewer --days',
    );
  }
  const parsedCa = AsnConvert.parse(caCert.raw, Certificate).tbsCertificate;
  const key = await generateKey(opts.keySpec);
  const spki = spkiOf(key);
  const serial = randomSerial();
  let usage = KeyUsageFlags.digitalSignature;
  if (opts.keySpec.kind === 'rsa') usage |= KeyUsageFlags.keyEncipherment;
  const extensions = [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    extension(id_ce_keyUsage, true, new KeyUsage(usage)),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdOf(spki))),
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(caKeyId(parsedCa)) }),
    ),
  ];
  if (opts.kind !== 'none') {
    const eku = opts.kind === 'server' ? id_kp_serverAuth : id_kp_clientAuth;
    extensions.push(extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([eku])));
  }
  const names = generalNames(opts);
  if (names.length > 0) {
    extensions.push(extension(id_ce_subjectAltName, false, new SubjectAlternativeName(names)));
  }
  const certPem = buildCertificate(
    {
      serial,
      issuer: parsedCa.subject,
      subject: commonNameOnly(opts.commonName),
      notBefore: opts.notBefore,
      notAfter: opts.notAfter,
      spki,
      extensions,
    },
    signerFor(caKey),
  );
  return { certPem, keyPem: pkcs8(key), serialHex: serial.toString('hex') };
}

function generalNames(opts: LeafOptions): GeneralName[] {
  return [
    ...(opts.dnsNames ?? []).map((dNSName) => new GeneralName({ dNSName })),
    ...(opts.ipAddresses ?? []).map((ip) => new GeneralName({ iPAddress: ipSan(ip) })),
    ...(opts.emails ?? []).map((rfc822Name) => new GeneralName({ rfc822Name })),
    ...(opts.uris ?? []).map((uri) => new GeneralName({ uniformResourceIdentifier: uri })),
  ];
}

interface Template {
  serial: Buffer;
  issuer: Name;
  subject: Name;
  notBefore: Date;
  notAfter: Date;
  spki: SubjectPublicKeyInfo;
  extensions: Extension[];
}

function buildCertificate(t: Template, signer: Signer): string {
  if (!(t.notAfter > t.notBefore)) {
    throw new UsageError(
      `invalid validity: ${t.notAfter.toISOString()} is not after ${t.notBefore.toISOString()}`,
    );
  }
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(t.serial),
    signature: signer.algorithm,
    issuer: t.issuer,
    validity: new Validity({ notBefore: t.notBefore, notAfter: t.notAfter }),
    subject: t.subject,
    subjectPublicKeyInfo: t.spki,
    extensions: new Extensions(t.extensions),
  });
  const tbs = new Uint8Array(AsnConvert.serialize(tbsCertificate));
  return toPem('CERTIFICATE', signTbs(tbs, signer));
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({
    extnID,
    critical,
    extnValue: new OctetString(AsnConvert.serialize(value)),
  });
}

/** 16 random bytes; top bits 01 keep the DER INTEGER positive and exactly 16 bytes long. */
function randomSerial(): Buffer {
  const b = randomBytes(16);
  b.writeUInt8((b.readUInt8(0) & 0x3f) | 0x40, 0);
  return b;
}

function spkiOf(key: KeyObject): SubjectPublicKeyInfo {
  const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return AsnConvert.parse(der, SubjectPublicKeyInfo);
}

/** Key identifier method 1 of RFC 5280 section 4.2.1.2: SHA-1 of the subjectPublicKey bits. */
function keyIdOf(spki: SubjectPublicKeyInfo): ArrayBuffer {
  return toArrayBuffer(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest());
}

function caKeyId(ca: TBSCertificate): ArrayBuffer {
  const ski = ca.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  if (ski)
    return toArrayBuffer(
      new Uint8Array(AsnConvert.parse(ski.extnValue, SubjectKeyIdentifier).buffer),
    );
  return keyIdOf(ca.subjectPublicKeyInfo);
}

function ipSan(ip: string): string {
  if (isIP(ip) === 0 || ip.includes('%')) throw new UsageError(`invalid ip address "${ip}"`);
  return canonicalIp(ip);
}
