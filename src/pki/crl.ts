import { X509Certificate, verify } from 'node:crypto';
import { join } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  Certificate,
  CertificateList,
  CRLNumber,
  Extension,
  KeyIdentifier,
  Name,
  RevokedCertificate,
  SubjectKeyIdentifier,
  TBSCertList,
  Time,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLNumber,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { SecureStreamError, UsageError } from '../errors.js';
import { loadCaFromDir, writeFilesAtomically, type LoadedCa } from './folder.js';
import { signDer, signerFor, toArrayBuffer, toPem } from './x509.js';
import { findIssuer, parseCertificates, pathExists, pemBlocks, readPemFile } from './load.js';

/** Name of the revocation list inside a PKI folder. */
export const CRL_FILE = 'crl.pem';

/** Options of {@link revoke}. */
export interface RevokeOptions {
  dir: string;
  /** A client name (NAME.crt in `dir`) or a serial number in hex (case and colons ignored). */
  target: string;
  now?: Date;
  /**
   * Days until the CRL's nextUpdate. Default: until the CA expires. OpenSSL (and so Node's TLS
   * server) rejects every client once nextUpdate has passed, and nothing here re-signs the CRL
   * on a schedule, so a short lifetime would lock everyone out after it.
   */
  nextUpdateDays?: number;
  /** Aborting it removes the staged crl.pem and stops the write (src/interrupt.ts). */
  signal?: AbortSignal | undefined;
}

/** What {@link revoke} did. */
export interface RevokeResult {
  /** Lower-case hex without leading zeros. */
  serialHex: string;
  /** The client name when the target was one. */
  name?: string;
  /** True when the serial was already on the list; crl.pem was then left untouched. */
  alreadyRevoked: boolean;
  crlPath: string;
  revokedCount: number;
  crlNumber: number;
  nextUpdate: Date;
}

/** Options of {@link readCrl}. */
export interface ReadCrlOptions {
  /** CA certificates (PEM): every CRL must be signed by one of them. */
  ca?: string;
  /** Reference time for the nextUpdate check; default now. */
  now?: Date;
}

const SERIAL = /^[0-9a-f]{1,40}$/; // RFC 5280 4.1.2.2: at most 20 octets
const DAY_MS = 24 * 60 * 60 * 1000;
const HASH_OF_SIGNATURE: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

/**
 * Adds a certificate to the CA's revocation list `dir/crl.pem`, creating it if needed: the
 * CRL number goes up by one, thisUpdate is now, and the new list is signed with the CA key and
 * renamed into place (mode 0644). An existing crl.pem must be signed by this CA
 * (pki-crl-foreign). Revoking an already revoked serial succeeds without rewriting the file.
 */
export async function revoke(opts: RevokeOptions): Promise<RevokeResult> {
  const now = opts.now ?? new Date();
  const ca = await loadCaFromDir(opts.dir);
  const { serialHex, name } = await resolveTarget(opts.dir, opts.target, ca);
  const crlPath = join(opts.dir, CRL_FILE);
  const old = (await pathExists(crlPath)) ? await readOwnCrl(crlPath, ca) : undefined;
  const revoked = old?.tbsCertList.revokedCertificates ?? [];
  const oldNumber = crlNumberOf(old);
  const base = { serialHex, crlPath, ...(name === undefined ? {} : { name }) };
  if (revoked.some((r) => serialOf(r.userCertificate) === serialHex)) {
    const nextUpdate = old?.tbsCertList.nextUpdate?.getTime() ?? new Date(0);
    return {
      ...base,
      alreadyRevoked: true,
      revokedCount: revoked.length,
      crlNumber: oldNumber,
      nextUpdate,
    };
  }
  const nextUpdate = nextUpdateFor(opts.nextUpdateDays, now, ca);
  const entries = [
    ...revoked,
    new RevokedCertificate({
      userCertificate: serialBytes(serialHex),
      revocationDate: new Time(now),
    }),
  ];
  const crlNumber = oldNumber + 1;
  const pem = signCrl(ca, entries, crlNumber, now, nextUpdate);
  await writeFilesAtomically([{ path: crlPath, data: pem, mode: 0o644 }], opts.signal);
  return { ...base, alreadyRevoked: false, revokedCount: entries.length, crlNumber, nextUpdate };
}

/** One "X509 CRL" block of a CRL file, parsed. */
export interface CrlBlock {
  /** The block as PEM. */
  text: string;
  list: CertificateList;
  /** The certificates of `opts.ca` that it verifies against (one, unless CAs share a key). */
  signers: X509Certificate[];
}

/**
 * Reads a CRL file for a TLS server: PEM "X509 CRL" blocks, each parseable (pki-invalid),
 * signed by one of `opts.ca` when given (pki-crl-foreign) and not past nextUpdate
 * (pki-crl-expired).
 */
export async function readCrlBlocks(path: string, opts: ReadCrlOptions = {}): Promise<CrlBlock[]> {
  const text = await readPemFile(path);
  const blocks = pemBlocks(text).filter((b) => b.label === 'X509 CRL');
  if (blocks.length === 0) {
    throw new SecureStreamError('pki-invalid', `"${path}" contains no pem crl`);
  }
  const cas = opts.ca === undefined ? [] : parseCertificates(opts.ca, 'ca');
  const now = opts.now ?? new Date();
  return blocks.map((block) => {
    const list = parseCrl(block.text, path);
    const signers = cas.filter((ca) => crlSignedBy(list, ca));
    if (opts.ca !== undefined && signers.length === 0) throw foreignCrl(path);
    const next = list.tbsCertList.nextUpdate?.getTime();
    if (next !== undefined && now > next) {
      throw new SecureStreamError(
        'pki-crl-expired',
        `crl "${path}" expired on ${next.toISOString()}; tls would reject every client`,
        'sign a fresh one by revoking again with "securestream pki revoke"',
      );
    }
    return { text: block.text, list, signers };
  });
}

/** {@link readCrlBlocks}, as one PEM string ready for `tls` `crl`. */
export async function readCrl(path: string, opts: ReadCrlOptions = {}): Promise<string> {
  return (await readCrlBlocks(path, opts)).map((b) => b.text).join('');
}

async function resolveTarget(
  dir: string,
  target: string,
  ca: LoadedCa,
): Promise<{ serialHex: string; name?: string }> {
  if (target.toLowerCase() === 'ca') throw new UsageError('the ca cannot revoke itself');
  const isName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(target);
  const certPath = join(dir, `${target}.crt`);
  if (isName && (await pathExists(certPath))) {
    const cert = parseCertificates(await readPemFile(certPath), certPath)[0] as X509Certificate;
    if (!findIssuer(cert, [ca.cert])) {
      throw new SecureStreamError(
        'pki-untrusted',
        `certificate "${certPath}" was not issued by the ca in "${ca.certPath}"`,
      );
    }
    return { serialHex: normalizeSerial(cert.serialNumber) as string, name: target };
  }
  const serialHex = normalizeSerial(target);
  if (serialHex === undefined) {
    throw new SecureStreamError(
      'pki-unknown-target',
      `no certificate "${certPath}" and "${target}" is not a hex serial number`,
      'pass a client name of the PKI folder or a serial such as 4f:1a:…',
    );
  }
  return { serialHex };
}

/** Lower-case hex without colons, spaces or leading zeros; undefined if not a serial. */
export function normalizeSerial(text: string): string | undefined {
  const hex = text.replace(/[:\s]/g, '').toLowerCase();
  if (!SERIAL.test(hex)) return undefined;
  return hex.replace(/^0+(?=.)/, '');
}

function serialBytes(hex: string): ArrayBuffer {
  let even = hex.length % 2 === 1 ? `0${hex}` : hex;
  if (parseInt(even.slice(0, 2), 16) >= 0x80) even = `00${even}`; // keep the INTEGER positive
  return toArrayBuffer(Buffer.from(even, 'hex'));
}

function serialOf(der: ArrayBuffer): string {
  return normalizeSerial(Buffer.from(der).toString('hex')) ?? '';
}

function nextUpdateFor(days: number | undefined, now: Date, ca: LoadedCa): Date {
  if (days === undefined) {
    const caEnd = new Date(ca.cert.validTo);
    return caEnd > now ? caEnd : new Date(now.getTime() + DAY_MS);
  }
  if (!Number.isInteger(days) || days < 1) {
    throw new UsageError(`invalid crl lifetime of ${days} days: expected a whole number ≥ 1`);
  }
  return new Date(now.getTime() + days * DAY_MS);
}

function signCrl(
  ca: LoadedCa,
  entries: RevokedCertificate[],
  crlNumber: number,
  now: Date,
  nextUpdate: Date,
): string {
  const signer = signerFor(ca.key);
  const caTbs = AsnConvert.parse(ca.cert.raw, Certificate).tbsCertificate;
  const ski = caTbs.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  const crlExtensions = [
    new Extension({
      extnID: id_ce_cRLNumber,
      extnValue: new OctetString(AsnConvert.serialize(new CRLNumber(crlNumber))),
    }),
  ];
  if (ski) {
    const keyIdentifier = new KeyIdentifier(AsnConvert.parse(ski.extnValue, SubjectKeyIdentifier));
    const aki = new AuthorityKeyIdentifier({ keyIdentifier });
    crlExtensions.unshift(
      new Extension({
        extnID: id_ce_authorityKeyIdentifier,
        extnValue: new OctetString(AsnConvert.serialize(aki)),
      }),
    );
  }
  const tbsCertList = new TBSCertList({
    version: Version.v2,
    signature: signer.algorithm,
    issuer: caTbs.subject,
    thisUpdate: new Time(now),
    nextUpdate: new Time(nextUpdate),
    crlExtensions,
    ...(entries.length > 0 ? { revokedCertificates: entries } : {}),
  });
  const list = new CertificateList({
    tbsCertList,
    signatureAlgorithm: signer.algorithm,
    signature: signDer(signer, AsnConvert.serialize(tbsCertList)),
  });
  return toPem('X509 CRL', AsnConvert.serialize(list));
}

function parseCrl(pem: string, path: string): CertificateList {
  const body = pem.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, '');
  try {
    return AsnConvert.parse(Buffer.from(body, 'base64'), CertificateList);
  } catch (e) {
    throw new SecureStreamError('pki-invalid', `crl "${path}" cannot be parsed`, undefined, {
      cause: e,
    });
  }
}

async function readOwnCrl(path: string, ca: LoadedCa): Promise<CertificateList> {
  const blocks = pemBlocks(await readPemFile(path)).filter((b) => b.label === 'X509 CRL');
  if (blocks.length !== 1) {
    throw new SecureStreamError('pki-invalid', `"${path}" must hold exactly one pem crl`);
  }
  const crl = parseCrl((blocks[0] as { text: string }).text, path);
  if (!crlSignedBy(crl, ca.cert)) throw foreignCrl(path);
  return crl;
}

/** True when `crl` names `ca` as issuer and carries a valid signature of its key. */
export function crlSignedBy(crl: CertificateList, ca: X509Certificate): boolean {
  const caSubject = AsnConvert.parse(ca.raw, Certificate).tbsCertificate.subject;
  const hash = HASH_OF_SIGNATURE[crl.signatureAlgorithm.algorithm];
  if (hash === undefined || crl.tbsCertListRaw === undefined) return false;
  if (!sameName(crl.tbsCertList.issuer, caSubject)) return false;
  const tbs = new Uint8Array(crl.tbsCertListRaw);
  return verify(hash, tbs, ca.publicKey, new Uint8Array(crl.signature));
}

function sameName(a: Name, b: Name): boolean {
  return Buffer.from(AsnConvert.serialize(a)).equals(Buffer.from(AsnConvert.serialize(b)));
}

function crlNumberOf(crl: CertificateList | undefined): number {
  const ext = crl?.tbsCertList.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  return ext ? AsnConvert.parse(ext.extnValue, CRLNumber).value : 0;
}

function foreignCrl(path: string): SecureStreamError {
  return new SecureStreamError(
    'pki-crl-foreign',
    `crl "${path}" is not signed by this ca`,
    'it belongs to another CA: move it away, then revoke again',
  );
}
