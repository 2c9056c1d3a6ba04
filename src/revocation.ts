/**
 * Which certificate revocation list the server enforces: `--crl FILE`, or `crl.pem` in the
 * PKI folder whenever it exists (looked for again at every reload, so `pki revoke` + SIGHUP
 * works without a restart).
 *
 * Node hands a CRL to OpenSSL with X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL and no
 * way to change the flags: once any CRL is configured, every CA in the chain needs one, and a
 * client of a CA without a CRL fails with UNABLE_TO_GET_CRL. So a CRL file must cover every CA
 * of the CA file; otherwise the server refuses it here, at start or reload, instead of locking
 * those clients out at their next handshake.
 */
import type { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { SecureStreamError } from './errors.js';
import { CRL_FILE, readCrlBlocks } from './pki/crl.js';
import { parseCertificates, pathExists } from './pki/load.js';

/** Where the CRL comes from. */
export type CrlSource =
  { kind: 'explicit'; path: string } | { kind: 'pki'; dir: string } | { kind: 'none' };

export interface LoadedCrl {
  path: string;
  /** One PEM "X509 CRL" block per entry, for node:tls `crl`. */
  pem: string[];
  /** Serials listed, over all blocks. */
  revokedCount: number;
  /** The earliest nextUpdate over all blocks: OpenSSL rejects every client after it. */
  nextUpdate?: Date | undefined;
}

/** The file a CRL source reads (it may not exist for a PKI folder), or none. */
export function crlPath(source: CrlSource): string | undefined {
  if (source.kind === 'none') return undefined;
  return source.kind === 'explicit' ? source.path : join(source.dir, CRL_FILE);
}

/**
 * Loads the CRL for `caPem`. `previous` is the CRL in force: a reload that no longer finds the
 * PKI folder's crl.pem fails rather than quietly readmitting every revoked client.
 */
export async function loadCrl(
  source: CrlSource,
  caPem: string,
  previous?: LoadedCrl,
): Promise<LoadedCrl | undefined> {
  const path = crlPath(source);
  if (path === undefined) return undefined;
  if (source.kind === 'pki' && !(await pathExists(path))) {
    if (previous) {
      throw new SecureStreamError(
        'crl-missing',
        `crl "${path}" was in force and is gone`,
        'restore it; to run without revocation checks, restart the server',
      );
    }
    return undefined;
  }
  const blocks = await readCrlBlocks(path, { ca: caPem });
  for (const ca of parseCertificates(caPem, 'ca')) {
    if (!blocks.some((b) => b.signers.some((s) => s.fingerprint256 === ca.fingerprint256))) {
      throw uncovered(path, ca);
    }
  }
  const revokedCount = blocks.reduce(
    (n, b) => n + (b.list.tbsCertList.revokedCertificates?.length ?? 0),
    0,
  );
  const next = blocks.flatMap((b) => b.list.tbsCertList.nextUpdate?.getTime().getTime() ?? []);
  const nextUpdate = next.length > 0 ? new Date(Math.min(...next)) : undefined;
  return { path, pem: blocks.map((b) => b.text), revokedCount, nextUpdate };
}

function uncovered(path: string, ca: X509Certificate): SecureStreamError {
  return new SecureStreamError(
    'crl-incomplete',
    `crl "${path}" has no list signed by ca "${ca.subject.replace(/\n/g, ', ')}"; ` +
      'tls would reject every client of that ca',
    'add a crl from each ca of the ca file (one pem file may hold several), or drop that ca',
  );
}
