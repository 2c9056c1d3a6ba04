/**
 * Server side: what the log says about a refused handshake. Apart from explain.ts (the words
 * for both sides) because it diagnoses the presented chain (pki/diagnose.ts), which the
 * fetching side never needs to load.
 */
import type { TLSSocket } from 'node:tls';
import { identify } from '../pki/describe.js';
import { diagnoseClientRefusal, type Refusal, type TrustContext } from '../pki/diagnose.js';
import { explainServerTlsError } from './explain.js';
import { presentedChain } from './peer.js';

/**
 * Server side: the log fields of a refused handshake, from the socket node hands to
 * 'tlsClientError' and its error. A certificate refusal names the presented certificate
 * (`subject`, `issuer`, `serial`, `fingerprint256`), the `cause` (diagnose.ts RefusalCause),
 * the certificate at fault when it is not the leaf (`culprit`) and OpenSSL's `verifyError`;
 * other failures give `reason` and the socket error's `error` code. When the chain cannot be
 * diagnosed (bytes OpenSSL accepts that pki/der.ts refuses), `reason`, `cause` other, the
 * certificate, `verifyError` and `diagnosisError` (why). Never throws: it runs in the server's
 * 'tlsClientError' handler. Needs recordRefusedPeers(server) to see the certificate.
 */
export function handshakeRefusal(
  socket: TLSSocket,
  err: Error,
  trust?: TrustContext,
): Record<string, unknown> {
  const verify = socket.authorizationError as unknown;
  if (typeof verify !== 'string') {
    const code = (err as { code?: string }).code;
    const noCert = code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE';
    return {
      reason: explainServerTlsError(err),
      ...(noCert ? { cause: 'no-certificate' } : {}),
      error: code ?? err.message,
    };
  }
  const chain = presentedChain(socket);
  const leaf = chain[0];
  if (!leaf) return { reason: explainServerTlsError(verify), verifyError: verify };
  let refusal: Refusal;
  try {
    refusal = diagnoseClientRefusal(verify, chain, trust, new Date());
  } catch (e) {
    // The chain is the client's: bytes that OpenSSL took but our DER reading does not (a
    // length in long form, a malformed extension) only lose the diagnosis, never the server.
    return {
      reason: explainServerTlsError(verify),
      cause: 'other',
      ...identify(leaf),
      verifyError: verify,
      diagnosisError: e instanceof Error ? e.message : String(e),
    };
  }
  return {
    reason: refusal.reason,
    cause: refusal.cause,
    ...identify(leaf),
    ...(refusal.culprit === undefined ? {} : { culprit: refusal.culprit }),
    verifyError: verify,
  };
}
