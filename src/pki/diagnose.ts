/**
 * Why OpenSSL refused a peer's certificate, in words that name the certificate at fault. The
 * verifier reports one code (X509_V_ERR_*, as node spells it) and not the certificate it is
 * about; this looks at the presented chain, the trust anchors and the CRLs to say which one
 * expired, is revoked or lacks a usage.
 */
import type { X509Certificate } from 'node:crypto';
import { ekuAllows } from './checks.js';
import { isRevoked, type Crl } from './crl.js';
import {
  extendedKeyUsageOf,
  issued,
  issuerOf,
  keyUsageOf,
  serialOf,
  subjectOf,
} from './describe.js';
import { issuerDer, sameName, subjectDer } from './names.js';

/** What the server trusts, to explain refusals with. */
export interface TrustContext {
  /** The CAs of `--ca`. */
  anchors: readonly X509Certificate[];
  /** The CRLs in force, each with the CAs whose key signed it. */
  crls: readonly { crl: Crl; signers: readonly X509Certificate[] }[];
}

/** Stable names of refusal causes, for logs and scripts. */
export type RefusalCause =
  | 'unknown-ca'
  | 'self-signed'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'intermediate-expired'
  | 'intermediate-not-yet-valid'
  | 'ca-expired'
  | 'ca-not-yet-valid'
  | 'revoked'
  | 'intermediate-revoked'
  | 'key-usage'
  | 'extended-key-usage'
  | 'intermediate-extended-key-usage'
  | 'invalid-ca'
  | 'crl-missing'
  | 'crl-expired'
  | 'crl-not-yet-valid'
  | 'crl-signature'
  | 'other';

/** One refusal: the cause, the words, and the certificate of the chain it is about. */
export interface Refusal {
  cause: RefusalCause;
  reason: string;
  /** Subject of the certificate at fault when it is not the presented leaf. */
  culprit?: string;
}

/**
 * Explains verification code `code` for the chain a client presented (leaf first; issuers as
 * node linked them, which may include CAs of the trust store). `now` is the handshake time.
 */
export function diagnoseClientRefusal(
  code: string,
  presented: readonly X509Certificate[],
  trust: TrustContext | undefined,
  now: Date,
): Refusal {
  const anchors = trust?.anchors ?? [];
  const isAnchor = (c: X509Certificate): boolean =>
    anchors.some((a) => a.fingerprint256 === c.fingerprint256);
  const chain = presented.filter((c, i) => i === 0 || !isAnchor(c));
  const leaf = chain[0];
  if (!leaf) return { cause: 'other', reason: `client certificate rejected: ${code}` };
  const full = [...chain, ...anchors.filter((a) => chain.some((c) => issued(a, c)))];
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return {
        cause: 'self-signed',
        reason: 'client certificate is self-signed, not issued by a CA of --ca',
      };
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN': {
      const top = chain[chain.length - 1] as X509Certificate;
      const named = anchors.filter((a) => sameName(subjectDer(a), issuerDer(top)));
      return {
        cause: 'unknown-ca',
        reason:
          named.length > 0
            ? `client certificate from an unknown CA: issued by "${issuerOf(top)}", a name the CA of --ca has, but not by that CA's key`
            : `client certificate from an unknown CA: "${issuerOf(top)}" is not a CA of --ca`,
      };
    }
    case 'CERT_SIGNATURE_FAILURE':
      return {
        cause: 'bad-signature',
        reason: `client certificate signature does not verify with the key of its issuer "${issuerOf(leaf)}"`,
      };
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return timeRefusal(code === 'CERT_HAS_EXPIRED', full, chain.length, now);
    case 'CERT_REVOKED':
      return revokedRefusal(full, trust);
    case 'INVALID_PURPOSE':
      return purposeRefusal(full);
    case 'INVALID_CA':
    case 'KEYUSAGE_NO_CERTSIGN':
    case 'PATH_LENGTH_EXCEEDED': {
      const bad = full.slice(1).find((c) => !ekuAllows(c, 'client')) ?? full[1];
      return {
        cause: 'invalid-ca',
        reason: `a certificate in the client's chain may not sign certificates (${code})`,
        ...(bad ? { culprit: subjectOf(bad) } : {}),
      };
    }
    case 'UNABLE_TO_GET_CRL':
      return {
        cause: 'crl-missing',
        reason:
          "no CRL for a CA of the client's chain: with a CRL, OpenSSL needs one from every CA " +
          `of the chain (issuers: ${full.map((c) => `"${issuerOf(c)}"`).join(', ')})`,
      };
    case 'CRL_HAS_EXPIRED':
    case 'CRL_NOT_YET_VALID':
      return crlTimeRefusal(code === 'CRL_HAS_EXPIRED', full, trust, now);
    case 'CRL_SIGNATURE_FAILURE':
      return {
        cause: 'crl-signature',
        reason: "a CRL for the client's chain is not signed by the CA it names (a same-name CA?)",
      };
  }
  return { cause: 'other', reason: `client certificate rejected: ${code}` };
}

function timeRefusal(
  expired: boolean,
  full: readonly X509Certificate[],
  sent: number,
  now: Date,
): Refusal {
  const out = (c: X509Certificate): boolean =>
    expired ? now > new Date(c.validTo) : now < new Date(c.validFrom);
  const when = (c: X509Certificate): string =>
    expired
      ? `expired on ${new Date(c.validTo).toISOString()}`
      : `is not valid before ${new Date(c.validFrom).toISOString()}`;
  const leaf = full[0] as X509Certificate;
  if (out(leaf)) {
    return {
      cause: expired ? 'expired' : 'not-yet-valid',
      reason: expired
        ? `client certificate expired on ${new Date(leaf.validTo).toISOString()}`
        : `client certificate not yet valid: not before ${new Date(leaf.validFrom).toISOString()}`,
    };
  }
  const i = full.findIndex(out);
  const bad = full[i];
  if (!bad)
    return {
      cause: expired ? 'expired' : 'not-yet-valid',
      reason: expired
        ? "a certificate of the client's chain expired"
        : "a certificate of the client's chain is not yet valid",
    };
  const intermediate = i < sent;
  return {
    cause: intermediate
      ? expired
        ? 'intermediate-expired'
        : 'intermediate-not-yet-valid'
      : expired
        ? 'ca-expired'
        : 'ca-not-yet-valid',
    reason: intermediate
      ? `intermediate CA "${subjectOf(bad)}" in the client's chain ${when(bad)}; the client certificate itself is valid`
      : `CA "${subjectOf(bad)}" of --ca ${when(bad)}`,
    culprit: subjectOf(bad),
  };
}

function revokedRefusal(
  full: readonly X509Certificate[],
  trust: TrustContext | undefined,
): Refusal {
  for (let i = 0; i < full.length; i++) {
    const cert = full[i] as X509Certificate;
    const list = trust?.crls.find(
      (l) => l.signers.some((s) => issued(s, cert)) && isRevoked(l.crl, serialOf(cert)),
    );
    if (!list) continue;
    const by = `by the CRL of "${list.crl.issuerText}"`;
    if (i === 0) {
      return {
        cause: 'revoked',
        reason: `client certificate revoked (serial ${serialOf(cert)}, ${by})`,
      };
    }
    return {
      cause: 'intermediate-revoked',
      reason: `intermediate CA "${subjectOf(cert)}" of the client's chain is revoked (serial ${serialOf(cert)}, ${by})`,
      culprit: subjectOf(cert),
    };
  }
  return { cause: 'revoked', reason: 'client certificate revoked' };
}

function purposeRefusal(full: readonly X509Certificate[]): Refusal {
  const leaf = full[0] as X509Certificate;
  if (!ekuAllows(leaf, 'client')) {
    const eku = extendedKeyUsageOf(leaf)?.join(', ') ?? '';
    return {
      cause: 'extended-key-usage',
      reason: `client certificate not valid for client authentication: its extended key usage (${eku}) lacks clientAuth`,
    };
  }
  const ku = keyUsageOf(leaf);
  if (ku && !ku.includes('digitalSignature') && !ku.includes('keyAgreement')) {
    return {
      cause: 'key-usage',
      reason: `client certificate key usage (${ku.join(', ') || 'none'}) lacks digitalSignature`,
    };
  }
  const bad = full.slice(1).find((c) => !ekuAllows(c, 'client'));
  if (bad) {
    return {
      cause: 'intermediate-extended-key-usage',
      reason: `CA "${subjectOf(bad)}" of the client's chain limits extended key usage to ${extendedKeyUsageOf(bad)?.join(', ') ?? ''}, without clientAuth`,
      culprit: subjectOf(bad),
    };
  }
  return {
    cause: 'extended-key-usage',
    reason: 'client certificate not valid for client authentication',
  };
}

function crlTimeRefusal(
  expired: boolean,
  full: readonly X509Certificate[],
  trust: TrustContext | undefined,
  now: Date,
): Refusal {
  const lists = (trust?.crls ?? []).filter((l) =>
    l.signers.some((s) => full.some((c) => issued(s, c))),
  );
  const bad = lists.find((l) =>
    expired ? l.crl.nextUpdate !== undefined && now > l.crl.nextUpdate : now < l.crl.thisUpdate,
  );
  const whose = bad ? `the CRL of CA "${bad.crl.issuerText}"` : "a CRL for the client's chain";
  return {
    cause: expired ? 'crl-expired' : 'crl-not-yet-valid',
    reason: expired
      ? `${whose} has expired${bad?.crl.nextUpdate ? ` (nextUpdate ${bad.crl.nextUpdate.toISOString()})` : ''}: renew it (pki revoke signs a fresh one) and reload`
      : `${whose} is not valid yet (thisUpdate ${bad?.crl.thisUpdate.toISOString() ?? '?'})`,
  };
}
