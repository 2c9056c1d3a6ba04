import { isIP } from 'node:net';
import type { X509Certificate } from 'node:crypto';

/** The subjectAltName entries securestream uses, by kind. */
export interface AltNames {
  dnsNames: string[];
  ipAddresses: string[];
  emails: string[];
  uris: string[];
}

/**
 * Reads the subjectAltName of a certificate from node's text form (`DNS:a, IP Address:1.2.3.4,
 * email:x@y, URI:spiffe://…`). Node quotes entries that contain a separator as JSON strings,
 * so a name cannot smuggle in a second entry.
 */
export function altNames(cert: X509Certificate): AltNames {
  return parseAltNames(cert.subjectAltName ?? '');
}

/** The same for the text itself, as `tls.PeerCertificate.subjectaltname` also gives it. */
export function parseAltNames(text: string): AltNames {
  const out: AltNames = { dnsNames: [], ipAddresses: [], emails: [], uris: [] };
  const re = /\s*([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)/g;
  for (const m of text.matchAll(re)) {
    const kind = m[1];
    const raw = m[2] ?? '';
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (kind === 'DNS') out.dnsNames.push(value);
    else if (kind === 'IP Address' && isIP(value)) out.ipAddresses.push(canonicalIp(value));
    else if (kind === 'email') out.emails.push(value);
    else if (kind === 'URI') out.uris.push(value);
  }
  return out;
}

/**
 * An IP address in canonical text form: IPv6 compressed (`::1`; node prints SANs as
 * `0:0:0:0:0:0:0:1`), IPv4 as given.
 */
export function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}
