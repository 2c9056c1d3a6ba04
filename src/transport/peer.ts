import type { TLSSocket } from 'node:tls';
import { altNames } from '../pki/altnames.js';

/** Who is on the other end of an authorized connection, as access rules and logs see it. */
export interface PeerIdentity {
  subject: string;
  commonName: string | undefined;
  /** SHA-256 of the certificate DER, lower-case hex without colons. */
  fingerprint256: string;
  dnsNames: string[];
  emails: string[];
  uris: string[];
}

export function peerIdentity(socket: TLSSocket): PeerIdentity | undefined {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return undefined;
  const { dnsNames, emails, uris } = altNames(cert);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    commonName: cn,
    fingerprint256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    dnsNames,
    emails,
    uris,
  };
}
