/**
 * Large CRLs, fast: the structure comes from @peculiar/asn1-x509, one revoked entry is
 * serialized by it and copied with new serials (serializing 100,000 entry objects takes
 * seconds), and node:crypto signs. Independent of src/pki/crl.ts, which is under test;
 * `openssl crl -verify` checks the result.
 */
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  Certificate,
  CRLReason,
  CRLReasons,
  Extension,
  Extensions,
  RevokedCertificate,
  TBSCertList,
  Time,
  Version,
  id_ce_cRLReasons,
} from '@peculiar/asn1-x509';

export interface BigCrlOptions {
  /** CA certificate and PKCS#8 key (EC P-256), PEM. */
  caPem: string;
  caKeyPem: string;
  /** Random entries (every second one with reason keyCompromise). */
  count: number;
  /** Serials (hex) listed as well, e.g. of certificates a test expects refused. */
  serials?: string[];
  thisUpdate?: Date;
  nextUpdate?: Date;
}

/** A signed CRL as PEM. */
export function bigCrl(o: BigCrlOptions): string {
  const ca = new X509Certificate(o.caPem);
  const issuer = AsnConvert.parse(ca.raw, Certificate).tbsCertificate.subject;
  const ecdsaSha256 = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
  const now = o.thisUpdate ?? new Date();
  const entry = (serial: Buffer, reason: boolean): Buffer => {
    const ext = new Extension({
      extnID: id_ce_cRLReasons,
      extnValue: new OctetString(AsnConvert.serialize(new CRLReason(CRLReasons.keyCompromise))),
    });
    return Buffer.from(
      AsnConvert.serialize(
        new RevokedCertificate({
          userCertificate: new Uint8Array(serial).buffer,
          revocationDate: new Time(now),
          ...(reason ? { crlEntryExtensions: new Extensions([ext]) } : {}),
        }),
      ),
    );
  };
  const chunks: Buffer[] = [];
  // Templates with a 16-byte serial, copied with new serials whose first byte is 0x40-0x7f.
  const templates = [entry(Buffer.alloc(16, 0x11), false), entry(Buffer.alloc(16, 0x11), true)];
  const at = (templates[0] as Buffer).indexOf(Buffer.alloc(16, 0x11));
  const serials = randomBytes(16 * o.count);
  for (let i = 0; i < o.count; i++) {
    const e = Buffer.from(templates[i % 2] as Buffer);
    serials.copy(e, at, 16 * i, 16 * i + 16);
    e[at] = ((e[at] as number) & 0x3f) | 0x40; // positive, minimal: exactly 16 bytes
    chunks.push(e);
  }
  for (const hex of o.serials ?? []) {
    const even = hex.length % 2 ? `0${hex}` : hex;
    const bytes = Buffer.from(even, 'hex');
    chunks.push(
      entry((bytes[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes, true),
    );
  }
  const head = Buffer.from(
    AsnConvert.serialize(
      new TBSCertList({
        version: Version.v2,
        signature: ecdsaSha256,
        issuer,
        thisUpdate: new Time(now),
        nextUpdate: new Time(o.nextUpdate ?? new Date(now.getTime() + 30 * 86_400_000)),
      }),
    ),
  );
  // head is SEQUENCE { version, signature, issuer, thisUpdate, nextUpdate }: append the list.
  const body = Buffer.concat([contentOf(head), tlv(0x30, Buffer.concat(chunks))]);
  const tbs = tlv(0x30, body);
  const key = createPrivateKey(o.caKeyPem);
  const signature = sign('sha256', tbs, key);
  const der = tlv(
    0x30,
    Buffer.concat([
      tbs,
      Buffer.from(AsnConvert.serialize(ecdsaSha256)),
      tlv(0x03, Buffer.concat([Buffer.from([0]), signature])),
    ]),
  );
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN X509 CRL-----\n${b64.endsWith('\n') ? b64 : `${b64}\n`}-----END X509 CRL-----\n`;
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

/** The content of a DER element whose header is at the start of `el`. */
function contentOf(el: Buffer): Buffer {
  const first = el[1] as number;
  return el.subarray(first < 0x80 ? 2 : 2 + (first & 0x7f));
}
