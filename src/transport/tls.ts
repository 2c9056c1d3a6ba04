/**
 * Every TLS setting of securestream in one place: which protocol versions and suites the
 * server fixes, the options handed to node:tls on both sides, and how handshake failures are
 * put into words. Mutual authentication is not optional here: there is no switch for it.
 */
import { constants as C } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { SecureStreamError, UsageError } from '../errors.js';
import type { KeyUsageName } from '../pki/describe.js';
import type { TrustContext } from '../pki/diagnose.js';
import { ALPN_LINE } from './protocolchoice.js';

/** Highest TLS version the server allows (`--tls-max`); TLS 1.2 is always the lowest. */
export type TlsMax = '1.2' | '1.3';

/** What the server enforces; `ciphers` is the resolved, ordered OpenSSL suite list. */
export interface TlsPolicy {
  ciphers: string[];
  tlsMax: TlsMax;
}

/**
 * How a TLS 1.2 suite authenticates the server: an ECDSA signature (also made by Ed25519 and
 * Ed448 keys, RFC 8422 section 5.10), an RSA signature (RSA and RSA-PSS keys), or RSA key
 * transport (the client encrypts the premaster secret to an RSA key).
 */
type SuiteAuth = 'ecdsa' | 'rsa-sign' | 'rsa-kx';
/** AEAD suites only: AES128-GCM-SHA256 (the spec's suite) and stronger. */
const TLS12_SUITES: Record<string, SuiteAuth> = {
  'ECDHE-ECDSA-AES128-GCM-SHA256': 'ecdsa',
  'ECDHE-ECDSA-AES256-GCM-SHA384': 'ecdsa',
  'ECDHE-ECDSA-CHACHA20-POLY1305': 'ecdsa',
  'ECDHE-RSA-AES128-GCM-SHA256': 'rsa-sign',
  'ECDHE-RSA-AES256-GCM-SHA384': 'rsa-sign',
  'ECDHE-RSA-CHACHA20-POLY1305': 'rsa-sign',
  'DHE-RSA-AES128-GCM-SHA256': 'rsa-sign',
  'DHE-RSA-AES256-GCM-SHA384': 'rsa-sign',
  'AES128-GCM-SHA256': 'rsa-kx',
  'AES256-GCM-SHA384': 'rsa-kx',
};
const TLS13_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];
/** TLS 1.3 suite used when 1.3 is allowed and the list names none. */
const DEFAULT_TLS13_SUITE = 'TLS_AES_128_GCM_SHA256';
/** Which server keys (node's asymmetricKeyType) can serve a suite. */
const KEYS_FOR: Record<SuiteAuth, readonly string[]> = {
  ecdsa: ['ec', 'ed25519', 'ed448'],
  'rsa-sign': ['rsa', 'rsa-pss'],
  'rsa-kx': ['rsa'],
};
/** The keyUsage bit a suite needs when the certificate has the extension (RFC 5246 7.4.2). */
const USAGE_FOR: Record<SuiteAuth | 'tls13', KeyUsageName> = {
  ecdsa: 'digitalSignature',
  'rsa-sign': 'digitalSignature',
  'rsa-kx': 'keyEncipherment',
  tls13: 'digitalSignature',
};

/** The forward-secret form of AES128-GCM-SHA256 that matches the server key. */
export function defaultSuite(keyKind: string): string {
  return KEYS_FOR['rsa-sign'].includes(keyKind)
    ? 'ECDHE-RSA-AES128-GCM-SHA256'
    : 'ECDHE-ECDSA-AES128-GCM-SHA256';
}

/**
 * Resolves `--ciphers` / `--tls-max` against the server key (node's asymmetricKeyType) and
 * its certificate's keyUsage (undefined: no extension, any use). Unknown or weak suites are a
 * usage error; suites the key or its usage cannot serve are dropped, and if none is left the
 * server must not start (it would fail every handshake): no-usable-cipher.
 */
export function resolveTlsPolicy(opts: {
  ciphers?: string[] | undefined;
  tlsMax?: TlsMax | undefined;
  keyKind: string;
  keyUsage?: readonly KeyUsageName[] | undefined;
}): TlsPolicy {
  const tlsMax = opts.tlsMax ?? '1.2';
  const explicit = opts.ciphers !== undefined && opts.ciphers.length > 0;
  const requested = explicit ? (opts.ciphers as string[]) : [defaultSuite(opts.keyKind)];
  const allows = (u: KeyUsageName): boolean => opts.keyUsage?.includes(u) ?? true;
  const usable: string[] = [];
  const unusable: string[] = [];
  for (const raw of requested) {
    const name = raw.trim().toUpperCase();
    if (TLS13_SUITES.includes(name)) {
      if (tlsMax !== '1.3') unusable.push(`${name} (a TLS 1.3 suite; add --tls-max 1.3)`);
      else if (!allows(USAGE_FOR.tls13)) unusable.push(`${name} (needs keyUsage digitalSignature)`);
      else usable.push(name);
      continue;
    }
    const auth = TLS12_SUITES[name];
    if (!auth) {
      throw new UsageError(
        `unknown or weak cipher suite "${raw}" in --ciphers`,
        `allowed: ${[...Object.keys(TLS12_SUITES), ...TLS13_SUITES].join(', ')}`,
      );
    }
    if (!KEYS_FOR[auth].includes(opts.keyKind)) {
      unusable.push(`${name} (${needsKey(auth, opts.keyKind)})`);
    } else if (!allows(USAGE_FOR[auth]))
      unusable.push(`${name} (needs keyUsage ${USAGE_FOR[auth]})`);
    else if (!usable.includes(name)) usable.push(name);
  }
  const tls13 = usable.some((s) => s.startsWith('TLS_'));
  if (tlsMax === '1.3' && !tls13 && allows(USAGE_FOR.tls13)) usable.push(DEFAULT_TLS13_SUITE);
  const tls12 = usable.filter((s) => !s.startsWith('TLS_'));
  if (usable.length === 0 || (tls12.length === 0 && tlsMax === '1.2')) {
    throw new SecureStreamError(
      'no-usable-cipher',
      explicit
        ? `no cipher suite in --ciphers works with this ${opts.keyKind} server key: ${unusable.join(', ')}`
        : `the server certificate cannot be used for TLS: ${unusable.join(', ')}; its keyUsage is ${opts.keyUsage?.join(', ') ?? 'absent'}`,
      explicit
        ? KEYS_FOR['rsa-sign'].includes(opts.keyKind)
          ? 'use ECDHE-RSA-AES128-GCM-SHA256 or AES128-GCM-SHA256 with an RSA certificate'
          : 'use ECDHE-ECDSA-AES128-GCM-SHA256 with an EC or Ed25519 certificate, or an RSA certificate for RSA suites'
        : 'issue the server certificate with keyUsage = critical, digitalSignature',
    );
  }
  return { ciphers: usable, tlsMax };
}

function needsKey(auth: SuiteAuth, keyKind: string): string {
  if (auth === 'ecdsa') return 'needs an EC or EdDSA key';
  return keyKind === 'rsa-pss' ? 'needs an RSA key; RSA-PSS keys only sign' : 'needs an RSA key';
}

/** Material both sides load: PEM strings. */
export interface TlsPem {
  ca: string;
  cert: string;
  key: string;
  /** One entry per CRL: node reads only the first CRL of each string it is given. */
  crl?: string | string[] | undefined;
  /** What the server trusts, parsed, to name the certificate and cause of a refusal. */
  trust?: TrustContext | undefined;
}

// No session tickets and no session cache: every connection is a full handshake with a full
// certificate check, so a revoked or rotated certificate takes effect on the next connection.
// No renegotiation: nothing may change the authenticated peer mid-transfer.
const HARDENING = C.SSL_OP_NO_TICKET | C.SSL_OP_NO_RENEGOTIATION;

/** Options for tls.createServer / SecureContext: client certificates are always required. */
export function serverTlsOptions(pem: TlsPem, policy: TlsPolicy): TlsOptions {
  return {
    ca: pem.ca,
    cert: pem.cert,
    key: pem.key,
    ...(pem.crl?.length ? { crl: pem.crl } : {}),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    maxVersion: policy.tlsMax === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ciphers: policy.ciphers.join(':'),
    honorCipherOrder: true,
    secureOptions: HARDENING,
  };
}

/** Options for tls.connect: the server's chain and host name are always verified. */
export function clientTlsOptions(pem: TlsPem, host: string, port: number): ConnectionOptions {
  return {
    host,
    port,
    ca: pem.ca,
    cert: pem.cert,
    key: pem.key,
    ...(isIP(host) ? {} : { servername: host }),
    // Names the line protocol, so a server that also speaks HTTP on the port need not guess;
    // a server without ALPN ignores it.
    ALPNProtocols: [ALPN_LINE],
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    secureOptions: HARDENING,
  };
}
