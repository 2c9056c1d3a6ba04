/**
 * Which certificate revocation lists the server enforces: `--crl FILE`, or `crl.pem` in the
 * PKI folder whenever it exists (looked for again at every reload, so `pki revoke` + SIGHUP
 * works without a restart).
 *
 * OpenSSL enforces the lists during the handshake, and node hands them over with
 * X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL and no way to change the flags: every
 * certificate of a chain, the trust anchor included, is checked against a list from its
 * issuer, and a missing list refuses the client (UNABLE_TO_GET_CRL). OpenSSL picks a list by
 * issuer name and authority key identifier and checks its signature only afterwards. So the
 * lists are checked here, at start and reload, for everything that would otherwise lock
 * clients out at their next handshake: a list for every CA of the CA file, each list signed by
 * one of them, no two same-name CAs whose lists OpenSSL cannot tell apart, no critical
 * extension OpenSSL rejects, and no trust anchor whose issuer's list OpenSSL could not find.
 * An expired list is a warning: OpenSSL refuses that CA's clients (CRL_HAS_EXPIRED) until it
 * is renewed, and the refusal says so.
 */
import type { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { SecureStreamError } from './errors.js';
import { crlPem, readCrlFile, signatureValid, type Crl } from './pki/crl.js';
import { sameName, subjectDer } from './pki/names.js';
import { fingerprintOf, issuerOf, subjectKeyIdOf, subjectOf } from './pki/describe.js';
import { pathExists } from './pki/folder.js';
import { CRL_FILE } from './pki/paths.js';
import type { TrustAnchors } from './pki/trust.js';

/** Where the CRL comes from. */
export type CrlSource =
  { kind: 'explicit'; path: string } | { kind: 'pki'; dir: string } | { kind: 'none' };

/** One list of the file and the CAs of the CA file whose key signed it. */
export interface CrlList {
  crl: Crl;
  signers: X509Certificate[];
}

export interface LoadedCrl {
  path: string;
  /** One PEM "X509 CRL" block per list, for node:tls `crl` (node reads one list per string). */
  pem: string[];
  lists: CrlList[];
  /** Serials listed, over all lists. */
  revokedCount: number;
  /** The earliest nextUpdate over all lists: OpenSSL refuses that CA's clients after it. */
  nextUpdate?: Date | undefined;
  /** Lists past nextUpdate or before thisUpdate: each refuses its CA's clients meanwhile. */
  warnings: string[];
}

/** The file a CRL source reads (it may not exist for a PKI folder), or none. */
export function crlPath(source: CrlSource): string | undefined {
  if (source.kind === 'none') return undefined;
  return source.kind === 'explicit' ? source.path : join(source.dir, CRL_FILE);
}

/**
 * Loads the CRL for the CA file `anchors`. `previous` is the CRL in force: a reload that no
 * longer finds the PKI folder's crl.pem fails rather than quietly readmitting every revoked
 * client. Throws crl-missing, crl-incomplete, crl-ambiguous, crl-partial-chain,
 * pki-crl-foreign, pki-invalid, pki-missing, pki-unreadable.
 */
export async function loadCrl(
  source: CrlSource,
  anchors: TrustAnchors,
  previous?: LoadedCrl,
  now = new Date(),
): Promise<LoadedCrl | undefined> {
  const path = crlPath(source);
  if (path === undefined) return undefined;
  if (source.kind === 'pki' && !(await pathExists(path))) {
    if (previous) {
      throw new SecureStreamError(
        'crl-missing',
        `CRL "${path}" was in force and is gone`,
        'restore it; to run without revocation checks, restart the server',
      );
    }
    return undefined;
  }
  const lists = (await readCrlFile(path)).map((crl) => ({
    crl,
    signers: signersOf(crl, anchors, path),
  }));
  for (const { crl } of lists) {
    if (crl.unhandledCritical !== undefined) {
      throw new SecureStreamError(
        'pki-invalid',
        `CRL "${path}" (issuer ${crl.issuerText}) has the critical extension ${crl.unhandledCritical}, ` +
          'which OpenSSL does not handle: TLS would reject every client of that CA',
        'ask the CA for a list without it',
      );
    }
  }
  const pem = lists.map((l) => crlPem(l.crl));
  pem.forEach((block, i) => {
    assertOpenSslReads(block, path, lists[i]?.crl.issuerText ?? '');
  });
  for (const anchor of anchors.partial) throw partialChain(path, anchor);
  for (const ca of anchors.cas) {
    const own = lists.filter((l) => !l.crl.delta && l.signers.includes(ca));
    if (own.length === 0) throw uncovered(path, ca);
    const rival = lists.find(
      (l) => !l.crl.delta && !l.signers.includes(ca) && openSslMayPick(l.crl, ca),
    );
    if (rival) throw ambiguous(path, ca, rival);
  }
  return {
    path,
    pem,
    lists,
    revokedCount: lists.reduce((n, l) => n + l.crl.revokedCount, 0),
    nextUpdate: earliest(lists.flatMap((l) => l.crl.nextUpdate ?? [])),
    warnings: lists.flatMap((l) => timeWarnings(path, l.crl, now)),
  };
}

/** The CAs of the file that signed `crl`; pki-crl-foreign when there is none. */
function signersOf(crl: Crl, anchors: TrustAnchors, path: string): X509Certificate[] {
  const named = anchors.cas.filter((ca) => sameName(crl.issuer, subjectDer(ca)));
  const signers = named.filter((ca) => signatureValid(crl, ca));
  if (signers.length > 0) return signers;
  throw new SecureStreamError(
    'pki-crl-foreign',
    named.length === 0
      ? `CRL "${path}" is not signed by this CA: its issuer "${crl.issuerText}" is no CA of the CA file`
      : `CRL "${path}" is not signed by this CA: its issuer is named "${crl.issuerText}" but ` +
          'the key of no CA of that name signed it',
    'pass the CRL of the CAs in --ca; for an intermediate that clients send, add it to --ca too',
  );
}

/**
 * Whether OpenSSL could take `crl` as the list of `ca` (get_crl_sk in x509_vfy.c): the issuer
 * names match and the authority key identifier, when both sides have one, is the CA's.
 */
function openSslMayPick(crl: Crl, ca: X509Certificate): boolean {
  if (!sameName(crl.issuer, subjectDer(ca))) return false;
  const ski = subjectKeyIdOf(ca);
  return crl.authorityKeyId === undefined || ski === undefined || crl.authorityKeyId === ski;
}

function earliest(dates: Date[]): Date | undefined {
  return dates.length === 0 ? undefined : new Date(Math.min(...dates.map((d) => d.getTime())));
}

function timeWarnings(path: string, crl: Crl, now: Date): string[] {
  const who = `CRL "${path}": the list of CA "${crl.issuerText}"`;
  if (crl.nextUpdate && now > crl.nextUpdate) {
    return [
      `${who} expired on ${crl.nextUpdate.toISOString()} (nextUpdate); every client of that CA ` +
        'is refused until it is renewed',
    ];
  }
  if (now < crl.thisUpdate) {
    return [
      `${who} is not valid before ${crl.thisUpdate.toISOString()}; every client of that CA is refused until then`,
    ];
  }
  return [];
}

/** What parses here must parse in OpenSSL too, or node:tls would fail to start the server. */
function assertOpenSslReads(pem: string, path: string, issuer: string): void {
  try {
    createSecureContext({ crl: pem });
  } catch (e) {
    throw new SecureStreamError(
      'pki-invalid',
      `CRL "${path}" (issuer ${issuer}) cannot be read by OpenSSL: ${(e as Error).message}`,
      undefined,
      { cause: e },
    );
  }
}

function uncovered(path: string, ca: X509Certificate): SecureStreamError {
  return new SecureStreamError(
    'crl-incomplete',
    `CRL "${path}" has no list signed by CA "${subjectOf(ca)}"; TLS would reject every client of that CA`,
    'add a CRL from each CA of the CA file (one PEM file may hold several), or drop that CA',
  );
}

function ambiguous(path: string, ca: X509Certificate, rival: CrlList): SecureStreamError {
  const other = rival.signers[0] as X509Certificate;
  return new SecureStreamError(
    'crl-ambiguous',
    `CAs "${subjectOf(ca)}" (sha256 ${fingerprintOf(ca).slice(0, 16)}…) and ` +
      `"${subjectOf(other)}" (sha256 ${fingerprintOf(other).slice(0, 16)}…) share a subject ` +
      `name, and a list in CRL "${path}" does not say by its authority key identifier which of ` +
      "them issued it: OpenSSL would check clients of one CA against the other's list and refuse them",
    'issue the CRLs with an authority key identifier (openssl CA -gencrl with ' +
      'crl_extensions = authorityKeyIdentifier=keyid:always), or give the CAs distinct names',
  );
}

function partialChain(path: string, anchor: X509Certificate): SecureStreamError {
  return new SecureStreamError(
    'crl-partial-chain',
    `CA "${subjectOf(anchor)}" is a trust anchor without its issuer "${issuerOf(anchor)}" in the ` +
      `CA file; with CRL "${path}", OpenSSL checks it against its issuer's list too and would ` +
      'reject every client',
    `add the CA "${issuerOf(anchor)}" to the CA file and its CRL to the CRL file, or run without a CRL`,
  );
}
