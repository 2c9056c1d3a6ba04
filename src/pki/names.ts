/**
 * Distinguished names (RFC 5280 section 4.1.2.4): extracting them from certificates, comparing
 * them the way OpenSSL does, and writing them as one line for messages.
 */
import type { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import { certificateReader, contextTag, elementBytes } from './der.js';

/** Lengths as OpenSSL reads them: it parsed the certificate already. */
const { readElement } = certificateReader;

/** The subject Name of a certificate, DER. */
export function subjectDer(cert: X509Certificate): Buffer {
  return tbsField(cert, 4);
}

/** The issuer Name of a certificate, DER. */
export function issuerDer(cert: X509Certificate): Buffer {
  return tbsField(cert, 2);
}

/**
 * Field `index` of TBSCertificate after the optional version (RFC 5280 section 4.1):
 * 0 serialNumber, 1 signature, 2 issuer, 3 validity, 4 subject.
 */
function tbsField(cert: X509Certificate, index: number): Buffer {
  const raw = Buffer.from(cert.raw);
  const certSeq = readElement(raw, 0);
  const tbs = readElement(raw, certSeq.contentStart, certSeq.end);
  let el = readElement(raw, tbs.contentStart, tbs.end);
  if (el.tag === contextTag(0)) el = readElement(raw, el.end, tbs.end);
  for (let i = 0; i < index; i++) el = readElement(raw, el.end, tbs.end);
  return elementBytes(raw, el);
}

/**
 * Two Names compared as OpenSSL's X509_NAME_cmp compares them: RDN by RDN on canonical
 * values (string types to UTF-8, trimmed, inner spaces collapsed, ASCII lower-cased).
 */
export function sameName(a: Buffer, b: Buffer): boolean {
  return a.equals(b) || canonicalName(a) === canonicalName(b);
}

function canonicalName(der: Buffer): string {
  const name = AsnConvert.parse(der, Name);
  return JSON.stringify(
    name.map((rdn) =>
      rdn
        .map((atv) => {
          const v = atv.value;
          const text =
            v.utf8String ??
            v.printableString ??
            v.ia5String ??
            v.bmpString ??
            v.teletexString ??
            v.universalString;
          const value =
            text === undefined
              ? `#${Buffer.from(v.anyValue ?? new ArrayBuffer(0)).toString('hex')}`
              : text
                  .trim()
                  .replace(/\s+/g, ' ')
                  .replace(/[A-Z]/g, (c) => c.toLowerCase());
          return `${atv.type}=${value}`;
        })
        .sort(),
    ),
  );
}

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** A Name as `CN=a, O=b`, in encoded order, as node prints certificate subjects. */
export function nameText(der: Buffer): string {
  try {
    const name = AsnConvert.parse(der, Name);
    return name
      .flatMap((rdn) =>
        rdn.map((atv) => `${SHORT_NAMES[atv.type] ?? atv.type}=${atv.value.toString()}`),
      )
      .join(', ');
  } catch {
    return '(unparseable name)';
  }
}
