import type { TLSSocket } from 'node:tls';

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
  const dnsNames: string[] = [];
  const emails: string[] = [];
  const uris: string[] = [];
  for (const entry of splitAltNames(cert.subjectAltName ?? '')) {
    const i = entry.indexOf(':');
    const kind = entry.slice(0, i);
    const value = entry.slice(i + 1);
    if (kind === 'DNS') dnsNames.push(value);
    else if (kind === 'email') emails.push(value);
    else if (kind === 'URI') uris.push(value);
  }
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

/** Node quotes SAN entries that contain separators as JSON strings; split respecting that. */
function splitAltNames(text: string): string[] {
  const out: string[] = [];
  const re = /\s*([A-Za-z ]+:(?:"(?:[^"\\]|\\.)*"|[^,]*))\s*(?:,|$)/g;
  for (const m of text.matchAll(re)) {
    const raw = m[1];
    if (!raw) continue;
    const i = raw.indexOf(':');
    const value = raw.slice(i + 1);
    out.push(raw.slice(0, i + 1) + (value.startsWith('"') ? (JSON.parse(value) as string) : value));
  }
  return out;
}
