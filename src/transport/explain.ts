/**
 * Handshake failures in words a user can act on. OpenSSL reports them as codes on the side
 * that noticed (verification errors) and as alerts on the other side; both are mapped here.
 */
import type { PeerCertificate } from 'node:tls';
import { SecureStreamError, type ErrorCode } from '../errors.js';
import { formatHostPort } from './address.js';
import { formatName } from './peer.js';

/** Alert names as Node spells them in `ERR_SSL_…_ALERT_…` codes, and what they mean for us. */
const ALERT_REASONS: Record<string, string> = {
  UNKNOWN_CA: 'our certificate is not signed by a CA it trusts',
  BAD_CERTIFICATE: 'it did not accept our certificate',
  CERTIFICATE_EXPIRED: 'our certificate has expired',
  CERTIFICATE_REVOKED: 'our certificate has been revoked',
  CERTIFICATE_REQUIRED: 'we sent no client certificate',
  UNSUPPORTED_CERTIFICATE: 'our certificate is not valid for client authentication',
  CERTIFICATE_UNKNOWN: 'it did not accept our certificate',
  HANDSHAKE_FAILURE: 'no common cipher suite or a certificate problem',
  PROTOCOL_VERSION: 'no common TLS version',
  INSUFFICIENT_SECURITY: 'no cipher suite it allows',
  ACCESS_DENIED: 'access denied',
  DECRYPT_ERROR: 'a signature or key check failed',
};

/**
 * Server side: one short reason for the log line of a failed handshake, from the socket error
 * or from the certificate verification code (e.g. CERT_HAS_EXPIRED).
 */
export function explainServerTlsError(err: Error | string): string {
  const code = typeof err === 'string' ? err : ((err as { code?: string }).code ?? '');
  const reasons: Record<string, string> = {
    ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'client sent no certificate',
    ERR_SSL_NO_SHARED_CIPHER: 'no shared cipher suite',
    ERR_SSL_UNSUPPORTED_PROTOCOL: 'client offered no allowed TLS version',
    ERR_SSL_WRONG_VERSION_NUMBER: 'not TLS (plain text or another protocol?)',
    ERR_SSL_HTTP_REQUEST: 'plain HTTP request on the TLS port',
    ERR_SSL_NO_APPLICATION_PROTOCOL: 'no ALPN protocol in common (the client offered only others)',
    ERR_TLS_HANDSHAKE_TIMEOUT: 'handshake timed out',
    ECONNRESET: 'client reset the connection during the handshake',
    UNABLE_TO_GET_ISSUER_CERT: 'client certificate from an unknown CA',
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'client certificate from an unknown CA',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'client certificate from an unknown CA',
    SELF_SIGNED_CERT_IN_CHAIN: 'client certificate from an unknown CA',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'client certificate is self-signed',
    CERT_HAS_EXPIRED: 'client certificate expired',
    CERT_NOT_YET_VALID: 'client certificate not yet valid',
    CERT_REVOKED: 'client certificate revoked',
    INVALID_PURPOSE: 'client certificate not valid for client authentication (no clientAuth)',
    UNABLE_TO_GET_CRL: 'no CRL for the client certificate issuer',
    CRL_HAS_EXPIRED: 'the CRL has expired (renew it with "securestream pki revoke")',
  };
  const alert = /ALERT_([A-Z_]+)$/.exec(code)?.[1];
  if (reasons[code]) return reasons[code];
  if (alert) return `client sent alert ${alert.toLowerCase().replace(/_/g, ' ')}`;
  return typeof err === 'string' ? `client certificate rejected: ${err}` : err.message;
}

/** What the client knows about a dial when it fails, for the words of the error. */
export interface DialContext {
  host: string;
  port: number;
  /** The server's certificate, when the handshake got far enough to see one. */
  peer?: PeerCertificate | undefined;
  /** True once our side saw the handshake complete. */
  handshakeDone: boolean;
  /**
   * True once session keys were derived: the server accepted our hello, sent its certificate
   * and asked for ours. A close after this point and before the server answers is the server
   * refusing our certificate (node servers close without an alert).
   */
  keysDerived?: boolean;
}

/** Client side: a handshake or connect failure as a SecureStreamError with a hint. */
export function explainClientError(err: Error, ctx: DialContext): SecureStreamError {
  const code = (err as { code?: string }).code ?? '';
  const where = formatHostPort(ctx.host, ctx.port);
  const mk = (c: ErrorCode, m: string, h?: string): SecureStreamError =>
    new SecureStreamError(c, m, h, { cause: err });
  switch (code) {
    case 'ECONNREFUSED':
      return mk(
        'connect-failed',
        `connection to ${where} refused`,
        'is "securestream serve" running there?',
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return mk('connect-failed', `cannot resolve host "${ctx.host}"`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return mk('connect-failed', `cannot reach ${where} (${code})`);
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      // node attaches the offending certificate to this error (tls.checkServerIdentity)
      const cert = (err as { cert?: PeerCertificate }).cert ?? ctx.peer;
      const names = cert?.subjectaltname ?? `only CN=${String(cert?.subject.CN ?? '?')}`;
      return mk(
        'tls-server-name',
        `the server's certificate is not valid for "${ctx.host}" (it names ${names})`,
        'dial one of the names it lists, or reissue the server certificate with --san',
      );
    }
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return mk(
        'tls-unknown-ca',
        `the server's certificate is signed by an unknown CA (issuer: ${formatName(ctx.peer?.issuer)})`,
        'pass the CA that issued the server certificate with --ca or --pki',
      );
    case 'CERT_HAS_EXPIRED': {
      const until = ctx.peer?.valid_to;
      // OpenSSL does not say which certificate of the chain expired; the leaf is at hand.
      if (until !== undefined && new Date(until) > new Date()) {
        return mk(
          'tls-server-expired',
          `a CA certificate in the server's chain has expired (the server's certificate itself is valid until ${until})`,
          'the server must send a current intermediate, or --ca must hold a current CA',
        );
      }
      return mk(
        'tls-server-expired',
        `the server's certificate expired on ${until ?? 'an earlier date'}`,
      );
    }
    case 'CERT_NOT_YET_VALID':
      return mk(
        'tls-server-not-yet-valid',
        `the server's certificate is not valid before ${ctx.peer?.valid_from ?? 'a later date'}`,
      );
    case 'INVALID_PURPOSE':
      return mk(
        'tls-server-usage',
        "the server's certificate is not valid for server authentication (no serverAuth)",
      );
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
      return mk('tls-version', `the server at ${where} and this client share no TLS version`);
  }
  const alert = /ALERT_([A-Z_]+)$/.exec(code)?.[1];
  if (alert) {
    const reason = ALERT_REASONS[alert] ?? alert.toLowerCase().replace(/_/g, ' ');
    const certProblem = /CERTIFICATE|UNKNOWN_CA|ACCESS_DENIED|DECRYPT/.test(alert);
    return mk(
      certProblem ? 'tls-client-rejected' : 'tls-handshake',
      certProblem
        ? `the server rejected our certificate: ${reason}`
        : `the handshake with ${where} failed: ${reason}`,
      certProblem
        ? "check --cert/--key: issued by the server's CA, unexpired, not revoked, with clientAuth"
        : undefined,
    );
  }
  if (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    /socket hang up|disconnected/i.test(err.message)
  ) {
    return ctx.handshakeDone || ctx.keysDerived
      ? rejectedOurCertificate(ctx)
      : mk(
          'tls-handshake',
          `the server at ${where} closed the connection during the handshake`,
          'is this a securestream server? check its log',
        );
  }
  return mk('tls-handshake', `TLS with ${where} failed: ${err.message}`);
}

/** The server hung up after seeing our certificate, without saying why. */
export function rejectedOurCertificate(ctx: DialContext): SecureStreamError {
  return new SecureStreamError(
    'tls-client-rejected',
    `the server at ${formatHostPort(ctx.host, ctx.port)} closed the connection after receiving our certificate: it did not accept it`,
    "check --cert/--key: issued by the server's CA, unexpired, not revoked, with clientAuth; the server's log names the reason",
  );
}
