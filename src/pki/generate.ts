import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
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
import { SecureStreamError, UsageError, errnoCode } from '../errors.js';
import {
  assertKeyMatches,
  assertValidAt,
  parseCertificates,
  parsePrivateKey,
  pathExists,
  readPemFile,
} from './load.js';

// Certificates are built with @peculiar/asn1-x509 (the ASN.1 layer of @peculiar/x509) and
// signed with node:crypto: @peculiar/x509 v2 itself cannot be imported without a global
// reflect-metadata polyfill (its tsyringe dependency throws at load time).

/** Key algorithm offered by `pki init` and `pki issue-client`. */
export type KeyType = 'ec' | 'rsa';

/**
 * Exact key to generate. CA keys must be 'ec' or 'rsa'; 'ed25519' and 'rsa-pss' exist for
 * leaf certificates in tests of keys the TLS layer refuses.
 */
export type KeySpec =
  | { kind: 'ec'; curve: 'P-256' | 'P-384' }
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

/** How a CA key signs: the key, the hash and the AlgorithmIdentifier written into the DER. */
export interface Signer {
  key: KeyObject;
  hash: string;
  algorithm: AlgorithmIdentifier;
}

const RSA_MIN_BITS = 1024;
const RSA_MAX_BITS = 16384;
const CN_MAX = 64; // ub-common-name, RFC 5280 appendix A

/** Generates a private key as described by `spec` (async, off the main thread). */
export function generateKey(spec: KeySpec): Promise<KeyObject> {
  if ((spec.kind === 'rsa' || spec.kind === 'rsa-pss') && !validRsaBits(spec.bits)) {
    const msg = `invalid rsa key size ${spec.bits}: expected ${RSA_MIN_BITS}-${RSA_MAX_BITS}`;
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
      return { kind: 'ec', curve: 'P-256' };
    case 'rsa':
      return { kind: 'rsa', bits: d.modulusLength ?? 2048 };
    default:
      throw unsupportedCaKey(key);
  }
}

/** How `key` signs certificates and CRLs: ECDSA with the curve's hash, or RSA PKCS#1 SHA-256. */
export function signerFor(key: KeyObject): Signer {
  if (key.asymmetricKeyType === 'rsa') {
    // sha256WithRSAEncryption; RFC 4055 requires the NULL parameters
    const algorithm = new AlgorithmIdentifier({
      algorithm: '1.2.840.113549.1.1.11',
      parameters: null,
    });
    return { key, hash: 'sha256', algorithm };
  }
  if (key.asymmetricKeyType === 'ec') {
    // ecdsa-with-SHA256/384/512, matched to the curve size (RFC 5758 section 3.2)
    const byCurve: Record<string, [string, string]> = {
      prime256v1: ['sha256', '1.2.840.10045.4.3.2'],
      secp384r1: ['sha384', '1.2.840.10045.4.3.3'],
      secp521r1: ['sha512', '1.2.840.10045.4.3.4'],
    };
    const entry = byCurve[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (entry)
      return { key, hash: entry[0], algorithm: new AlgorithmIdentifier({ algorithm: entry[1] }) };
  }
  throw unsupportedCaKey(key);
}

function unsupportedCaKey(key: KeyObject): SecureStreamError {
  const what = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType ?? 'unknown';
  return new SecureStreamError(
    'pki-unsupported-key',
    `cannot sign with a ${what} ca key`,
    'use a CA with an EC P-256/P-384 or RSA key',
  );
}

/** Signs DER bytes; ECDSA signatures come out DER-encoded as X.509 wants them. */
export function signDer(signer: Signer, der: ArrayBuffer): ArrayBuffer {
  return toArrayBuffer(sign(signer.hash, new Uint8Array(der), signer.key));
}

/** Wraps DER in PEM armour with 64-character lines. */
export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Copies bytes into a fresh ArrayBuffer, the type the ASN.1 classes want. */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
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
  assertKeyMatches(caKey, caCert, 'ca key', 'ca certificate');
  if (!caCert.ca) throw new SecureStreamError('pki-invalid', 'the ca certificate is not a ca');
  const caNotAfter = new Date(caCert.validTo);
  // certificates store whole seconds; compare what will be encoded
  if (Math.floor(opts.notAfter.getTime() / 1000) * 1000 > caNotAfter.getTime()) {
    throw new SecureStreamError(
      'pki-outlives-ca',
      `a certificate valid until ${opts.notAfter.toISOString()} would outlive its ca ` +
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
  const cert = new Certificate({
    tbsCertificate,
    signatureAlgorithm: signer.algorithm,
    signatureValue: signDer(signer, AsnConvert.serialize(tbsCertificate)),
  });
  return toPem('CERTIFICATE', AsnConvert.serialize(cert));
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

function pkcs8(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

// ---- PKI folders: `pki init` and `pki issue-client` ----

/** Leaf lifetime when none is asked for: 825 days, the old CA/Browser Forum maximum. */
export const DEFAULT_LEAF_DAYS = 825;
/** CA lifetime: ten years, or the leaf lifetime when that is longer, so leaves never outlive it. */
export const DEFAULT_CA_DAYS = 3650;
/** Upper bound on --days: a hundred years. */
export const MAX_DAYS = 36500;
/** notBefore is set this far in the past so peers with slightly slow clocks accept new certs. */
export const BACKDATE_MS = 5 * 60 * 1000;
/** Names the server certificate always carries, so local tests work out of the box. */
export const DEFAULT_SERVER_NAMES = ['localhost', '127.0.0.1', '::1'];

const DAY_MS = 24 * 60 * 60 * 1000;
const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RESERVED_NAMES = new Set(['ca', 'server']);
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Options of {@link initPki}. */
export interface InitPkiOptions {
  dir: string;
  /** Default 'ec' (P-256). */
  keyType?: KeyType;
  /** RSA modulus for every key when keyType is 'rsa'; default 2048, 2048-16384 allowed. */
  rsaBits?: number;
  /** Leaf validity in days; default {@link DEFAULT_LEAF_DAYS}. */
  days?: number;
  /** Extra server names: IPv4/IPv6 addresses or DNS names (a leading "*." is allowed). */
  sans?: string[];
  /** Client certificates to issue; default ['client']. */
  clients?: string[];
  /** Replace existing files (and remove a crl.pem of the replaced CA). */
  force?: boolean;
  now?: Date;
}

/** What {@link initPki} wrote. */
export interface InitPkiResult {
  dir: string;
  keySpec: KeySpec;
  /** Every file written, in order: ca, server, then clients (.crt before .key). */
  files: string[];
  /** DNS names and IP addresses of the server certificate. */
  serverNames: string[];
  clients: string[];
  caNotAfter: Date;
  leafNotAfter: Date;
  /** Files of the replaced PKI that were deleted (only crl.pem, only with force). */
  removed: string[];
}

/** Options of {@link issueClient}. */
export interface IssueClientOptions {
  dir: string;
  name: string;
  /** Default {@link DEFAULT_LEAF_DAYS}. */
  days?: number;
  /** Default: the CA's own algorithm (same curve, or same RSA size unless rsaBits is given). */
  keyType?: KeyType;
  rsaBits?: number;
  now?: Date;
}

/** What {@link issueClient} wrote. */
export interface IssueClientResult {
  certPath: string;
  keyPath: string;
  serialHex: string;
  keySpec: KeySpec;
  notAfter: Date;
}

/** A CA read from a PKI folder, checked to be a CA whose key matches. */
export interface LoadedCa extends PemPair {
  cert: X509Certificate;
  key: KeyObject;
  certPath: string;
  keyPath: string;
}

/**
 * Creates a complete PKI in `dir`: ca.crt/ca.key, server.crt/server.key (serverAuth for
 * localhost, 127.0.0.1, ::1 and `sans`) and NAME.crt/NAME.key per client (clientAuth).
 * Everything is generated in memory first and then written via temporary files, so a failure
 * leaves the folder as it was. Keys are PKCS#8 PEM, mode 0600; certificates 0644.
 * Throws UsageError for bad options and pki-exists when a file is there and `force` is unset.
 */
export async function initPki(opts: InitPkiOptions): Promise<InitPkiResult> {
  const days = checkDays(opts.days ?? DEFAULT_LEAF_DAYS);
  const keySpec = keySpecFor(opts.keyType ?? 'ec', opts.rsaBits);
  const serverNames = serverNamesFor(opts.sans ?? []);
  const clients = checkClientNames(opts.clients ?? ['client']);
  const names = ['ca', 'server', ...clients];
  const targets = names.flatMap((n) => [join(opts.dir, `${n}.crt`), join(opts.dir, `${n}.key`)]);
  const crlPath = join(opts.dir, 'crl.pem');
  if (!opts.force) await assertAbsent([...targets, crlPath], 'use --force to replace it');
  else await assertReplaceable(targets);

  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const leafNotAfter = new Date(now.getTime() + days * DAY_MS);
  const caNotAfter = new Date(now.getTime() + Math.max(DEFAULT_CA_DAYS, days) * DAY_MS);
  const ca = await createCa({
    commonName: `securestream CA ${randomBytes(4).toString('hex')}`,
    keySpec,
    notBefore,
    notAfter: caNotAfter,
  });
  const leaf = { keySpec, notBefore, notAfter: leafNotAfter };
  const dnsNames = serverNames.filter((n) => isIP(n) === 0);
  const ipAddresses = serverNames.filter((n) => isIP(n) !== 0);
  const issued = await Promise.all([
    issueCertificate(ca, {
      ...leaf,
      kind: 'server',
      commonName: 'securestream server',
      dnsNames,
      ipAddresses,
    }),
    ...clients.map((name) => issueCertificate(ca, { ...leaf, kind: 'client', commonName: name })),
  ]);
  const pairs = [ca, ...issued];
  const files = pairs.flatMap((p, i) => pemFiles(opts.dir, names[i] as string, p));

  await makePkiDir(opts.dir);
  await writeFilesAtomically(files);
  const removed: string[] = [];
  if (opts.force && (await pathExists(crlPath))) {
    // a CRL signed by the replaced CA would make servers reject every client
    await unlink(crlPath).catch((e: unknown) => {
      throw writeError(e, crlPath);
    });
    removed.push(crlPath);
  }
  return {
    dir: opts.dir,
    keySpec,
    files: files.map((f) => f.path),
    serverNames,
    clients,
    caNotAfter,
    leafNotAfter,
    removed,
  };
}

/**
 * Issues one more client certificate from the CA in `dir` and writes NAME.crt/NAME.key.
 * Refuses (pki-exists) when either file exists; the CA must be valid and match its key.
 */
export async function issueClient(opts: IssueClientOptions): Promise<IssueClientResult> {
  const [name] = checkClientNames([opts.name]) as [string];
  const days = checkDays(opts.days ?? DEFAULT_LEAF_DAYS);
  const certPath = join(opts.dir, `${name}.crt`);
  const keyPath = join(opts.dir, `${name}.key`);
  await assertAbsent(
    [certPath, keyPath],
    'choose another name, or revoke the old certificate and delete its files first',
  );
  const ca = await loadCaFromDir(opts.dir);
  const now = opts.now ?? new Date();
  assertValidAt(ca.cert, now, ca.certPath);
  let keySpec = keySpecOf(ca.key);
  if (opts.keyType !== undefined || opts.rsaBits !== undefined) {
    const rsaBits = opts.rsaBits ?? (keySpec.kind === 'rsa' ? keySpec.bits : undefined);
    keySpec = keySpecFor(opts.keyType ?? keySpec.kind, rsaBits);
  }
  const notAfter = new Date(now.getTime() + days * DAY_MS);
  const issued = await issueCertificate(ca, {
    kind: 'client',
    commonName: name,
    keySpec,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
  });
  await writeFilesAtomically(pemFiles(opts.dir, name, issued));
  return { certPath, keyPath, serialHex: issued.serialHex, keySpec, notAfter };
}

/** Reads ca.crt and ca.key of a PKI folder; pki-invalid if ca.crt is no CA certificate. */
export async function loadCaFromDir(dir: string): Promise<LoadedCa> {
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  const [certPem, keyText] = await Promise.all([readPemFile(certPath), readPemFile(keyPath)]);
  const cert = parseCertificates(certPem, certPath)[0] as X509Certificate;
  if (!cert.ca) {
    throw new SecureStreamError('pki-invalid', `"${certPath}" is not a ca certificate`);
  }
  const key = parsePrivateKey(keyText, keyPath);
  assertKeyMatches(key, cert, keyPath, certPath);
  return { cert, key, certPath, keyPath, certPem: cert.toString(), keyPem: pkcs8(key) };
}

/** The KeySpec for a CLI key type; RSA sizes below 2048 are refused here (UsageError). */
export function keySpecFor(keyType: string, rsaBits?: number): KeySpec {
  if (keyType === 'ec') return { kind: 'ec', curve: 'P-256' };
  if (keyType === 'rsa') {
    const bits = rsaBits ?? 2048;
    if (!Number.isInteger(bits) || bits < 2048 || bits > RSA_MAX_BITS) {
      throw new UsageError(`invalid rsa key size ${bits}: expected 2048-${RSA_MAX_BITS}`);
    }
    return { kind: 'rsa', bits };
  }
  throw new UsageError(`invalid key type "${keyType}": expected "ec" or "rsa"`);
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new UsageError(`invalid validity of ${days} days: expected a whole number 1-${MAX_DAYS}`);
  }
  return days;
}

/**
 * Validates client names, which become file names: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`, not
 * "ca" or "server", no duplicates (both compared case-insensitively, for case-insensitive
 * file systems).
 */
export function checkClientNames(names: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const name of names) {
    if (!CLIENT_NAME.test(name)) {
      throw new UsageError(
        `invalid client name "${name}"`,
        'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      );
    }
    const folded = name.toLowerCase();
    if (RESERVED_NAMES.has(folded)) {
      throw new UsageError(`client name "${name}" is reserved for the ${folded} files`);
    }
    if (seen.has(folded)) throw new UsageError(`client name "${name}" is given twice`);
    seen.add(folded);
  }
  if (names.length === 0) throw new UsageError('at least one client name is needed');
  return [...names];
}

/** The server certificate's names: the defaults plus `sans`, validated, deduplicated. */
export function serverNamesFor(sans: readonly string[]): string[] {
  const out = [...DEFAULT_SERVER_NAMES];
  for (const san of sans) {
    const name = normalizeSan(san);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * Normalises one server name: an IPv4/IPv6 address (canonical form, no zone) or a DNS name
 * (lower case, labels of letters, digits and inner hyphens, optional leading "*."). UsageError
 * for anything else.
 */
export function normalizeSan(san: string): string {
  if (isIP(san) !== 0 && !san.includes('%')) return canonicalIp(san);
  const name = san.toLowerCase();
  const labels = name.split('.');
  const first = labels[0] === '*' && labels.length > 2 ? 1 : 0;
  const last = labels[labels.length - 1] ?? '';
  const ok =
    name.length <= 253 &&
    labels.slice(first).every((l) => DNS_LABEL.test(l)) &&
    !/^[0-9]+$/.test(last); // an all-digit last label is a mistyped address, never a TLD
  if (!ok) {
    throw new UsageError(
      `invalid server name "${san}": not an ip address or dns name`,
      'e.g. --san files.example.com --san 10.0.0.5',
    );
  }
  return name;
}

function ipSan(ip: string): string {
  if (isIP(ip) === 0 || ip.includes('%')) throw new UsageError(`invalid ip address "${ip}"`);
  return canonicalIp(ip);
}

function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return new URL(`http://[${ip}]`).hostname.slice(1, -1);
}

/** One file of a PKI folder: content and creation mode. */
export interface PkiFile {
  path: string;
  data: string;
  mode: number;
}

function pemFiles(dir: string, name: string, pair: PemPair): PkiFile[] {
  return [
    { path: join(dir, `${name}.crt`), data: pair.certPem, mode: 0o644 },
    { path: join(dir, `${name}.key`), data: pair.keyPem, mode: 0o600 },
  ];
}

async function assertAbsent(paths: readonly string[], hint: string): Promise<void> {
  for (const path of paths) {
    if (await pathExists(path)) {
      throw new SecureStreamError('pki-exists', `"${path}" already exists`, hint);
    }
  }
}

/** With --force, refuse up front what a rename could not replace, so no half-replaced PKI. */
async function assertReplaceable(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const st = await lstat(path).catch((e: unknown) => {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw writeError(e, path);
    });
    if (st?.isDirectory()) {
      throw new SecureStreamError(
        'pki-write-failed',
        `cannot replace "${path}": it is a directory`,
      );
    }
  }
}

async function makePkiDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw writeError(e, dir);
  }
}

/**
 * Writes files so that they appear only complete: each goes to a temporary file beside its
 * target, created with its final mode (never chmod-ed later), fsynced; only when all are
 * written are they renamed into place. On failure the temporary files are removed.
 */
export async function writeFilesAtomically(files: readonly PkiFile[]): Promise<void> {
  const staged: { temp: string; path: string; renamed: boolean }[] = [];
  let current = '';
  try {
    for (const f of files) {
      current = f.path;
      const temp = join(
        dirname(f.path),
        `.${basename(f.path)}.${randomBytes(6).toString('hex')}.tmp`,
      );
      const fh = await open(temp, 'wx', f.mode);
      staged.push({ temp, path: f.path, renamed: false });
      try {
        await fh.writeFile(f.data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    for (const s of staged) {
      current = s.path;
      await rename(s.temp, s.path);
      s.renamed = true;
    }
  } catch (e) {
    const left = staged.filter((s) => !s.renamed);
    await Promise.all(left.map((s) => unlink(s.temp).catch(() => undefined)));
    throw writeError(e, current);
  }
}

function writeError(e: unknown, path: string): SecureStreamError {
  const code = errnoCode(e);
  const why =
    code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? 'permission denied or read-only file system'
      : code === 'ENOSPC'
        ? 'no space left on the device'
        : e instanceof Error
          ? e.message
          : String(e);
  return new SecureStreamError('pki-write-failed', `cannot write "${path}": ${why}`, undefined, {
    cause: e,
  });
}
