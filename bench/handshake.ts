/**
 * Full mutual-TLS handshakes in a loop, no resumption: connect with the client certificate,
 * wait for the handshake to finish (server certificate verified), close without sending
 * anything, repeat. A cross-check for `openssl s_time -new`, which does the same in C.
 * Standalone: `node dist/bench/handshake.js PORT CA CERT KEY SECONDS [CONCURRENCY]`; prints JSON.
 */
import { readFileSync } from 'node:fs';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import { constants } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export interface HandshakeResult {
  handshakes: number;
  errors: number;
  seconds: number;
  protocol: string;
  cipher: string;
  firstError?: string;
}

export const HANDSHAKE_SUITE = 'ECDHE-ECDSA-AES128-GCM-SHA256';

function once(
  port: number,
  context: SecureContext,
): Promise<{ ok: boolean; protocol: string; cipher: string; error?: string }> {
  return new Promise((resolve) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      secureContext: context,
      rejectUnauthorized: true,
      // The server certificate names 127.0.0.1 as an IP address; no SNI for IPs.
      checkServerIdentity: () => undefined,
    });
    s.once('secureConnect', () => {
      const r = { ok: true, protocol: s.getProtocol() ?? '?', cipher: s.getCipher().name };
      s.destroy();
      resolve(r);
    });
    s.once('error', (e: Error) => {
      s.destroy();
      resolve({ ok: false, protocol: '?', cipher: '?', error: e.message });
    });
  });
}

export async function handshakeLoop(opts: {
  port: number;
  ca: string;
  cert: string;
  key: string;
  seconds: number;
  concurrency?: number;
}): Promise<HandshakeResult> {
  const context = createSecureContext({
    ca: readFileSync(opts.ca),
    cert: readFileSync(opts.cert),
    key: readFileSync(opts.key),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    ciphers: HANDSHAKE_SUITE,
    secureOptions: constants.SSL_OP_NO_TICKET,
  });
  const result: HandshakeResult = {
    handshakes: 0,
    errors: 0,
    seconds: 0,
    protocol: '?',
    cipher: '?',
  };
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + opts.seconds * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      const r = await once(opts.port, context);
      if (r.ok) {
        result.handshakes++;
        result.protocol = r.protocol;
        result.cipher = r.cipher;
      } else {
        result.errors++;
        result.firstError ??= r.error;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 1 }, worker));
  result.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [port, ca, cert, key, seconds, concurrency] = process.argv.slice(2);
  if (!port || !ca || !cert || !key || !seconds) {
    process.stderr.write('usage: handshake.js PORT CA CERT KEY SECONDS [CONCURRENCY]\n');
    process.exit(2);
  }
  const r = await handshakeLoop({
    port: Number(port),
    ca,
    cert,
    key,
    seconds: Number(seconds),
    concurrency: Number(concurrency ?? 1),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
