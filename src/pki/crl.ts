/**
 * Certificate revocation lists (RFC 5280 section 5): reading them from PEM or DER files,
 * checking who signed them, and writing new ones. Lists with hundreds of thousands of entries
 * are walked with the DER reader in der.ts, in one pass and without an object per entry; the
 * ASN.1 library handles the small parts (names).
 */
import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SecureStreamError } from '../errors.js';
import { readInputFile, type InputFileKind } from '../inputfile.js';
import {
  DerError,
  TAG,
  children,
  contentBytes,
  contextTag,
  decodeOid,
  decodeTime,
  elementBytes,
  encodeElement,
  encodeTime,
  encodeUnsigned,
  expectElement,
  readElement,
  type DerElement,
} from './der.js';
import { nameText, sameName, subjectDer } from './names.js';
import { pemBlocks, pemBody, toPem } from './pem.js';
import { signTbs, verifySigned, type Signer } from './sign.js';

/**
 * CRL files larger than this are refused. A list of 1,000,000 entries with reason codes is
 * about 40 MiB of DER; OpenSSL then holds every entry in memory, in every worker.
 */
export const MAX_CRL_BYTES = 64 * 1024 * 1024;

const CRL_FILE: InputFileKind = {
  maxBytes: MAX_CRL_BYTES,
  noun: 'crl',
  missing: 'pki-missing',
  unreadable: 'pki-unreadable',
  tooLarge: 'pki-invalid',
  missingHint: 'pass an existing CRL with --crl, or revoke once with "securestream pki revoke"',
};

const OID = {
  authorityKeyIdentifier: '2.5.29.35',
  cRLNumber: '2.5.29.20',
  deltaCRLIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  certificateIssuer: '2.5.29.29',
} as const;
/** DER content of the certificateIssuer OID: the one critical entry extension OpenSSL handles. */
const CERTIFICATE_ISSUER = Buffer.from('551d1d', 'hex');
/** Critical CRL extensions OpenSSL handles (crl_set_issuers/crl_cb in crypto/x509/x_crl.c). */
const HANDLED_CRITICAL: readonly string[] = [
  OID.issuingDistributionPoint,
  OID.authorityKeyIdentifier,
  OID.deltaCRLIndicator,
];

/** One parsed CRL; byte fields are views of `der`. */
export interface Crl {
  /** The whole CertificateList. */
  der: Buffer;
  /** The PEM block it was read from, if it came as PEM. */
  pem?: string;
  /** The signed part, TBSCertList. */
  tbs: Buffer;
  /** The signatureAlgorithm AlgorithmIdentifier. */
  signatureAlgorithm: Buffer;
  /** The signature bits. */
  signature: Buffer;
  /** The issuer Name, DER. */
  issuer: Buffer;
  /** The issuer as `CN=a, O=b`, for messages. */
  issuerText: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  /** keyIdentifier of the authorityKeyIdentifier extension, lower-case hex. */
  authorityKeyId?: string;
  /** A delta CRL (deltaCRLIndicator): OpenSSL uses it only on request, node never asks. */
  delta: boolean;
  /** OID of a critical extension OpenSSL does not handle; it would reject every certificate. */
  unhandledCritical?: string;
  revokedCount: number;
  /** Where the revokedCertificates entries lie in `der` (contiguous), when there are any. */
  entries?: { start: number; end: number };
}

/**
 * Reads a CRL file: one or more PEM "X509 CRL" blocks, or one DER list. Throws pki-missing,
 * pki-unreadable, or pki-invalid (too large, no CRL, not parseable).
 */
export async function readCrlFile(path: string): Promise<Crl[]> {
  const bytes = await readInputFile(path, CRL_FILE);
  if (bytes[0] === TAG.SEQUENCE) return [parseCrl(bytes, `CRL "${path}"`)];
  const blocks = pemBlocks(bytes.toString('latin1')).filter((b) => b.label === 'X509 CRL');
  if (blocks.length === 0) {
    throw new SecureStreamError(
      'pki-invalid',
      `"${path}" contains no PEM CRL`,
      'a CRL file holds "-----BEGIN X509 CRL-----" blocks, or one DER list',
    );
  }
  return blocks.map((b, i) => ({
    ...parseCrl(pemBody(b), blocks.length > 1 ? `CRL ${i + 1} in "${path}"` : `CRL "${path}"`),
    pem: b.text,
  }));
}

/** The list as one PEM block, the form node:tls takes. */
export function crlPem(crl: Crl): string {
  return crl.pem ?? toPem('X509 CRL', crl.der);
}

/** Parses a DER CertificateList; `what` names it in the pki-invalid error. */
export function parseCrl(der: Buffer, what: string): Crl {
  try {
    return parseCertificateList(der);
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    throw new SecureStreamError(
      'pki-invalid',
      `${what} cannot be parsed: ${e.message}`,
      undefined,
      {
        cause: e,
      },
    );
  }
}

function parseCertificateList(der: Buffer): Crl {
  const outer = expectElement(der, 0, TAG.SEQUENCE);
  if (outer.end !== der.length) throw new DerError('trailing bytes after the CRL');
  const [tbsEl, algEl, sigEl, extra] = [...children(der, outer)];
  if (!tbsEl || !algEl || !sigEl || extra) throw new DerError('not a CertificateList');
  if (tbsEl.tag !== TAG.SEQUENCE || algEl.tag !== TAG.SEQUENCE || sigEl.tag !== TAG.BIT_STRING) {
    throw new DerError('not a CertificateList');
  }
  const sigBits = contentBytes(der, sigEl);
  if (sigBits[0] !== 0) throw new DerError('signature with unused bits');

  let pos = tbsEl.contentStart;
  const next = (): DerElement | undefined =>
    pos < tbsEl.end ? readElement(der, pos, tbsEl.end) : undefined;
  let el = next();
  if (el?.tag === TAG.INTEGER) {
    const v = contentBytes(der, el);
    if (v.length !== 1 || v[0] !== 1) throw new DerError('CRL version other than v2');
    pos = el.end;
    el = next();
  }
  if (el?.tag !== TAG.SEQUENCE) throw new DerError('missing signature algorithm');
  if (!elementBytes(der, el).equals(elementBytes(der, algEl))) {
    throw new DerError('the two signature algorithms differ');
  }
  pos = el.end;
  const issuerEl = expectElement(der, pos, TAG.SEQUENCE, tbsEl.end);
  pos = issuerEl.end;
  const thisEl = readElement(der, pos, tbsEl.end);
  const crl: Crl = {
    der,
    tbs: elementBytes(der, tbsEl),
    signatureAlgorithm: elementBytes(der, algEl),
    signature: sigBits.subarray(1),
    issuer: elementBytes(der, issuerEl),
    issuerText: nameText(elementBytes(der, issuerEl)),
    thisUpdate: decodeTime(der, thisEl),
    delta: false,
    revokedCount: 0,
  };
  pos = thisEl.end;
  el = next();
  if (el && (el.tag === TAG.UTC_TIME || el.tag === TAG.GENERALIZED_TIME)) {
    crl.nextUpdate = decodeTime(der, el);
    pos = el.end;
    el = next();
  }
  if (el?.tag === TAG.SEQUENCE) {
    readEntries(der, el, crl);
    pos = el.end;
    el = next();
  }
  if (el?.tag === contextTag(0)) {
    readCrlExtensions(der, expectElement(der, el.contentStart, TAG.SEQUENCE, el.end), crl);
    pos = el.end;
    el = next();
  }
  if (el) throw new DerError(`unexpected element in TBSCertList at byte ${el.start}`);
  return crl;
}

/** Counts the entries and looks for critical entry extensions, without keeping any entry. */
function readEntries(der: Buffer, list: DerElement, crl: Crl): void {
  let count = 0;
  for (let pos = list.contentStart; pos < list.end;) {
    const entry = expectElement(der, pos, TAG.SEQUENCE, list.end);
    const serial = expectElement(der, entry.contentStart, TAG.INTEGER, entry.end);
    if (!minimalInteger(der, serial)) {
      throw new DerError(`entry ${count + 1} has a serial that is not a DER INTEGER`);
    }
    const date = readElement(der, serial.end, entry.end);
    if (date.tag !== TAG.UTC_TIME && date.tag !== TAG.GENERALIZED_TIME) {
      throw new DerError(`entry ${count + 1} has no revocation date`);
    }
    if (date.end < entry.end) {
      const exts = expectElement(der, date.end, TAG.SEQUENCE, entry.end);
      if (exts.end !== entry.end) throw new DerError(`entry ${count + 1} has trailing bytes`);
      for (const ext of children(der, exts)) {
        const { oid, critical } = extensionHead(der, ext);
        if (
          critical &&
          crl.unhandledCritical === undefined &&
          !contentBytes(der, oid).equals(CERTIFICATE_ISSUER)
        ) {
          crl.unhandledCritical = decodeOid(der, oid);
        }
      }
    }
    count++;
    pos = entry.end;
  }
  crl.revokedCount = count;
  if (count > 0) crl.entries = { start: list.contentStart, end: list.end };
}

/** X.690 8.3.2: no leading 0x00 before a byte < 0x80, no leading 0xff before one ≥ 0x80. */
function minimalInteger(der: Buffer, el: DerElement): boolean {
  const n = el.end - el.contentStart;
  if (n === 0) return false;
  if (n === 1) return true;
  const [a, b] = [der[el.contentStart] as number, der[el.contentStart + 1] as number];
  return !((a === 0 && b < 0x80) || (a === 0xff && b >= 0x80));
}

function readCrlExtensions(der: Buffer, exts: DerElement, crl: Crl): void {
  for (const ext of children(der, exts)) {
    const { oid, critical, value } = extensionHead(der, ext);
    const id = decodeOid(der, oid);
    if (critical && !HANDLED_CRITICAL.includes(id)) crl.unhandledCritical ??= id;
    if (id === OID.cRLNumber) {
      const n = expectElement(der, value.contentStart, TAG.INTEGER, value.end);
      crl.crlNumber = BigInt(`0x${contentBytes(der, n).toString('hex') || '0'}`);
    } else if (id === OID.deltaCRLIndicator) {
      crl.delta = true;
    } else if (id === OID.authorityKeyIdentifier) {
      const aki = expectElement(der, value.contentStart, TAG.SEQUENCE, value.end);
      for (const part of children(der, aki)) {
        if (part.tag === 0x80) crl.authorityKeyId = contentBytes(der, part).toString('hex');
      }
    }
  }
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function extensionHead(
  der: Buffer,
  ext: DerElement,
): { oid: DerElement; critical: boolean; value: DerElement } {
  if (ext.tag !== TAG.SEQUENCE) throw new DerError(`extension expected at byte ${ext.start}`);
  const oid = expectElement(der, ext.contentStart, TAG.OID, ext.end);
  let el = readElement(der, oid.end, ext.end);
  let critical = false;
  if (el.tag === TAG.BOOLEAN) {
    critical = der[el.contentStart] !== 0;
    el = readElement(der, el.end, ext.end);
  }
  if (el.tag !== TAG.OCTET_STRING || el.end !== ext.end) {
    throw new DerError(`malformed extension at byte ${ext.start}`);
  }
  return { oid, critical, value: el };
}

/** Lower-case hex without leading zeros; undefined if not a serial (RFC 5280: ≤ 20 octets). */
export function normalizeSerial(text: string): string | undefined {
  const hex = text.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(hex)) return undefined;
  return hex.replace(/^0+(?=.)/, '');
}

/** Calls `each` with every revoked serial as normalised hex; stops when it returns true. */
export function someRevokedSerial(crl: Crl, each: (serialHex: string) => boolean): boolean {
  if (!crl.entries) return false;
  const { der } = crl;
  for (let pos = crl.entries.start; pos < crl.entries.end;) {
    const entry = readElement(der, pos, crl.entries.end);
    const serial = readElement(der, entry.contentStart, entry.end);
    const hex = contentBytes(der, serial)
      .toString('hex')
      .replace(/^0+(?=.)/, '');
    if (each(hex)) return true;
    pos = entry.end;
  }
  return false;
}

/** Whether `serialHex` (normalised) is on the list. */
export function isRevoked(crl: Crl, serialHex: string): boolean {
  return someRevokedSerial(crl, (s) => s === serialHex);
}

/**
 * True when `crl` names `ca`'s subject as issuer (compared as OpenSSL compares names) and its
 * signature verifies with `ca`'s key.
 */
export function crlSignedBy(crl: Crl, ca: X509Certificate): boolean {
  return sameName(crl.issuer, subjectDer(ca)) && signatureValid(crl, ca);
}

/** The signature check alone (sign.ts verifySigned). */
export function signatureValid(crl: Crl, ca: X509Certificate): boolean {
  return verifySigned(crl.tbs, crl.signatureAlgorithm, crl.signature, ca.publicKey);
}

/** Everything {@link buildCrl} writes. */
export interface CrlContents {
  signer: Signer;
  /** The issuer Name, DER: the CA certificate's subject. */
  issuer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: bigint;
  /** The CA's subjectKeyIdentifier, for the authorityKeyIdentifier extension. */
  authorityKeyId?: Buffer;
  /** revokedCertificates entries, DER, concatenated (existing entries are copied as they are). */
  entries: Buffer[];
}

/** One revokedCertificates entry without extensions. */
export function crlEntry(serialHex: string, revoked: Date): Buffer {
  const hex = serialHex.length % 2 ? `0${serialHex}` : serialHex;
  return encodeElement(TAG.SEQUENCE, encodeUnsigned(Buffer.from(hex, 'hex')), encodeTime(revoked));
}

/** A v2 CRL with CRL number and authority key identifier, signed: DER. */
export function buildCrl(c: CrlContents): Buffer {
  const extension = (oid: string, value: Buffer): Buffer =>
    encodeElement(
      TAG.SEQUENCE,
      encodeElement(TAG.OID, oidBytes(oid)),
      encodeElement(TAG.OCTET_STRING, value),
    );
  const extensions = [extension(OID.cRLNumber, encodeUnsigned(bigintBytes(c.crlNumber)))];
  if (c.authorityKeyId) {
    const aki = encodeElement(TAG.SEQUENCE, encodeElement(0x80, c.authorityKeyId));
    extensions.unshift(extension(OID.authorityKeyIdentifier, aki));
  }
  const entries = c.entries.reduce((n, e) => n + e.length, 0);
  const tbs = encodeElement(
    TAG.SEQUENCE,
    encodeElement(TAG.INTEGER, Buffer.from([1])),
    Buffer.from(AsnConvert.serialize(c.signer.algorithm)),
    c.issuer,
    encodeTime(c.thisUpdate),
    encodeTime(c.nextUpdate),
    ...(entries > 0 ? [encodeElement(TAG.SEQUENCE, ...c.entries)] : []),
    encodeElement(contextTag(0), encodeElement(TAG.SEQUENCE, ...extensions)),
  );
  return signTbs(tbs, c.signer);
}

function bigintBytes(n: bigint): Buffer {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

/** The content octets of an OBJECT IDENTIFIER. */
function oidBytes(oid: string): Buffer {
  const [a = 0, b = 0, ...rest] = oid.split('.').map(Number);
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const bytes = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128))
      bytes.unshift(0x80 | (v & 0x7f));
    out.push(...bytes);
  }
  return Buffer.from(out);
}
