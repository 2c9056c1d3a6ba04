/**
 * `pki revoke`: adds a certificate of a PKI folder to its `crl.pem`. The existing entries are
 * copied byte for byte (reason codes and other entry extensions of lists made by other tools
 * stay), so a list of any length is rewritten in one pass.
 */
import type { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { SecureStreamError, UsageError } from '../errors.js';
import {
  buildCrl,
  crlEntry,
  crlSignedBy,
  isRevoked,
  normalizeSerial,
  readCrlFile,
  type Crl,
} from './crl.js';
import { subjectDer } from './names.js';
import { issued, serialOf, subjectKeyIdOf } from './describe.js';
import { loadCaFromDir, pathExists, writeFilesAtomically, type LoadedCa } from './folder.js';
import { CRL_FILE } from './paths.js';
import { parseCertificates, readPemFile, toPem } from './pem.js';
import { signerFor } from './sign.js';

/** Options of {@link revoke}. */
export interface RevokeOptions {
  dir: string;
  /** A client name (NAME.crt in `dir`) or a serial number in hex (case and colons ignored). */
  target: string;
  now?: Date;
  /**
   * Days until the CRL's nextUpdate. Default: until the CA expires. OpenSSL (and so Node's TLS
   * server) rejects every client once nextUpdate has passed, and nothing here re-signs the CRL
   * on a schedule, so a short lifetime would lock everyone out after it.
   */
  nextUpdateDays?: number;
}

/** What {@link revoke} did. */
export interface RevokeResult {
  /** Lower-case hex without leading zeros. */
  serialHex: string;
  /** The client name when the target was one. */
  name?: string;
  /** True when the serial was already on the list; crl.pem was then left untouched. */
  alreadyRevoked: boolean;
  crlPath: string;
  revokedCount: number;
  crlNumber: bigint;
  nextUpdate: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Adds a certificate to the CA's revocation list `dir/crl.pem`, creating it if needed: the
 * CRL number goes up by one, thisUpdate is now, and the new list is signed with the CA key and
 * renamed into place (mode 0644). An existing crl.pem must hold one list signed by this CA
 * (pki-crl-foreign). Revoking an already revoked serial succeeds without rewriting the file.
 */
export async function revoke(opts: RevokeOptions): Promise<RevokeResult> {
  const now = opts.now ?? new Date();
  const ca = await loadCaFromDir(opts.dir);
  const { serialHex, name } = await resolveTarget(opts.dir, opts.target, ca);
  const crlPath = join(opts.dir, CRL_FILE);
  const old = (await pathExists(crlPath)) ? await readOwnCrl(crlPath, ca) : undefined;
  const oldNumber = old?.crlNumber ?? 0n;
  const base = { serialHex, crlPath, ...(name === undefined ? {} : { name }) };
  if (old && isRevoked(old, serialHex)) {
    return {
      ...base,
      alreadyRevoked: true,
      revokedCount: old.revokedCount,
      crlNumber: oldNumber,
      nextUpdate: old.nextUpdate ?? new Date(0),
    };
  }
  const nextUpdate = nextUpdateFor(opts.nextUpdateDays, now, ca);
  const ski = subjectKeyIdOf(ca.cert);
  const entries = old?.entries ? [old.der.subarray(old.entries.start, old.entries.end)] : [];
  const crlNumber = oldNumber + 1n;
  const der = buildCrl({
    signer: signerFor(ca.key),
    issuer: subjectDer(ca.cert),
    thisUpdate: now,
    nextUpdate,
    crlNumber,
    ...(ski === undefined ? {} : { authorityKeyId: Buffer.from(ski, 'hex') }),
    entries: [...entries, crlEntry(serialHex, now)],
  });
  await writeFilesAtomically([{ path: crlPath, data: toPem('X509 CRL', der), mode: 0o644 }]);
  const revokedCount = (old?.revokedCount ?? 0) + 1;
  return { ...base, alreadyRevoked: false, revokedCount, crlNumber, nextUpdate };
}

async function resolveTarget(
  dir: string,
  target: string,
  ca: LoadedCa,
): Promise<{ serialHex: string; name?: string }> {
  if (target.toLowerCase() === 'ca') throw new UsageError('the CA cannot revoke itself');
  if (target.toLowerCase() === 'server') throw serverNotRevocable();
  const isName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(target);
  const certPath = join(dir, `${target}.crt`);
  if (isName && (await pathExists(certPath))) {
    const cert = parseCertificates(await readPemFile(certPath), certPath)[0] as X509Certificate;
    if (!issued(ca.cert, cert)) {
      throw new SecureStreamError(
        'pki-untrusted',
        `certificate "${certPath}" was not issued by the CA in "${ca.certPath}"`,
      );
    }
    return { serialHex: serialOf(cert), name: target };
  }
  const serialHex = normalizeSerial(target);
  if (serialHex === undefined) {
    throw new SecureStreamError(
      'pki-unknown-target',
      `no certificate "${certPath}" and "${target}" is not a hex serial number`,
      'pass a client name of the PKI folder or a serial such as 4f:1a:…',
    );
  }
  const server = join(dir, 'server.crt');
  if (await pathExists(server)) {
    const cert = parseCertificates(await readPemFile(server), server)[0] as X509Certificate;
    if (serialOf(cert) === serialHex) throw serverNotRevocable();
  }
  return { serialHex };
}

/**
 * Clients do not check revocation of the server certificate (docs/SECURITY.md §7), so a CRL
 * entry for it would change nothing: refused, as `issue-client server` is.
 */
function serverNotRevocable(): UsageError {
  return new UsageError(
    'the server certificate cannot be revoked: clients do not check revocation of the server certificate, so a CRL entry would change nothing',
    'replace it: issue a new server certificate and key from the CA, rename them over server.crt and server.key, then reload the server (docs/SECURITY.md §4)',
  );
}

function nextUpdateFor(days: number | undefined, now: Date, ca: LoadedCa): Date {
  if (days === undefined) {
    const caEnd = new Date(ca.cert.validTo);
    return caEnd > now ? caEnd : new Date(now.getTime() + DAY_MS);
  }
  if (!Number.isInteger(days) || days < 1) {
    throw new UsageError(`invalid CRL lifetime of ${days} days: expected a whole number ≥ 1`);
  }
  return new Date(now.getTime() + days * DAY_MS);
}

async function readOwnCrl(path: string, ca: LoadedCa): Promise<Crl> {
  const lists = await readCrlFile(path);
  if (lists.length !== 1) {
    throw new SecureStreamError('pki-invalid', `"${path}" must hold exactly one CRL`);
  }
  const crl = lists[0] as Crl;
  if (!crlSignedBy(crl, ca.cert)) {
    throw new SecureStreamError(
      'pki-crl-foreign',
      `CRL "${path}" is not signed by this CA`,
      'it belongs to another CA: move it away, then revoke again',
    );
  }
  return crl;
}
