/**
 * Every TLS setting of securestream in one place: which protocol versions and suites the
 * server fixes, the options handed to node:tls on both sides, and how handshake failures are
 * put into words. Mutual authentication is not optional here: there is no switch for it.
 */
import { constants as C } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { SecureStreamError, UsageError } from '../errors.js';

/** Highest TLS version the server allows (`--tls-max`); TLS 1.2 is always the lowest. */
export type TlsMax = '1.2' | '1.3';
/** Key kinds a server certificate can have, as far as suite selection cares. */
export type ServerKeyKind = 'ec' | 'rsa' | 'other';

/** What the server enforces; `ciphers` is the resolved, ordered OpenSSL suite list. */
export interface TlsPolicy {
  ciphers: string[];
  tlsMax: TlsMax;
}

type SuiteAuth = 'ecdsa' | 'rsa' | 'any';
/** AEAD suites only: AES128-GCM-SHA256 (the spec's suite) and stronger. */
const TLS12_SUITES: Record<string, SuiteAuth> = {
  'ECDHE-ECDSA-AES128-GCM-SHA256': 'ecdsa',
  'ECDHE-ECDSA-AES256-GCM-SHA384': 'ecdsa',
  'ECDHE-ECDSA-CHACHA20-POLY1305': 'ecdsa',
  'ECDHE-RSA-AES128-GCM-SHA256': 'rsa',
  'ECDHE-RSA-AES256-GCM-SHA384': 'rsa',
  'ECDHE-RSA-CHACHA20-POLY1305': 'rsa',
  'DHE-RSA-AES128-GCM-SHA256': 'rsa',
  'DHE-RSA-AES256-GCM-SHA384': 'rsa',
  'AES128-GCM-SHA256': 'rsa',
  'AES256-GCM-SHA384': 'rsa',
};
const TLS13_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];
/** TLS 1.3 suite used when 1.3 is allowed and the list names none. */
const DEFAULT_TLS13_SUITE = 'TLS_AES_128_GCM_SHA256';

/** The forward-secret form of AES128-GCM-SHA256 that matches the server key. */
export function defaultSuite(keyKind: ServerKeyKind): string {
  return keyKind === 'rsa' ? 'ECDHE-RSA-AES128-GCM-SHA256' : 'ECDHE-ECDSA-AES128-GCM-SHA256';
}

/**
 * Resolves `--ciphers` / `--tls-max` against the server key. Unknown or weak suites are a
 * usage error; suites the key cannot serve are dropped, and if none is left the server must
 * not start (it would fail every handshake).
 */
export function resolveTlsPolicy(opts: {
  ciphers?: string[] | undefined;
  tlsMax?: TlsMax | undefined;
  keyKind: ServerKeyKind;
}): TlsPolicy {
  const tlsMax = opts.tlsMax ?? '1.2';
  const requested = opts.ciphers?.length ? opts.ciphers : [defaultSuite(opts.keyKind)];
  const usable: string[] = [];
  const unusable: string[] = [];
  for (const raw of requested) {
    const name = raw.trim().toUpperCase();
    if (TLS13_SUITES.includes(name)) {
      if (tlsMax === '1.3') usable.push(name);
      else unusable.push(`${name} (a TLS 1.3 suite; add --tls-max 1.3)`);
      continue;
    }
    const auth = TLS12_SUITES[name];
    if (!auth) {
      throw new UsageError(
        `unknown or weak cipher suite "${raw}" in --ciphers`,
        `allowed: ${[...Object.keys(TLS12_SUITES), ...TLS13_SUITES].join(', ')}`,
      );
    }
    if (auth === 'ecdsa' && opts.keyKind !== 'ec') unusable.push(`${name} (needs an EC key)`);
    else if (auth === 'rsa' && opts.keyKind !== 'rsa') unusable.push(`${name} (needs an RSA key)`);
    else if (!usable.includes(name)) usable.push(name);
  }
  const tls12 = usable.filter((s) => !s.startsWith('TLS_'));
  if (tls12.length === 0 && tlsMax === '1.2') {
    throw new SecureStreamError(
      'no-usable-cipher',
      `no cipher suite in --ciphers works with this ${opts.keyKind} server key: ${unusable.join(', ')}`,
      opts.keyKind === 'rsa'
        ? 'use ECDHE-RSA-AES128-GCM-SHA256 or AES128-GCM-SHA256 with an RSA certificate'
        : 'use ECDHE-ECDSA-AES128-GCM-SHA256 with an EC certificate, or an RSA certificate for RSA suites',
    );
  }
  if (tlsMax === '1.3' && !usable.some((s) => s.startsWith('TLS_')))
    usable.push(DEFAULT_TLS13_SUITE);
  return { ciphers: usable, tlsMax };
}

/** Material both sides load: PEM strings. */
export interface TlsPem {
  ca: string;
  cert: string;
  key: string;
  /** One entry per CRL: node reads only the first CRL of each string it is given. */
  crl?: string | string[] | undefined;
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
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    secureOptions: HARDENING,
  };
}
