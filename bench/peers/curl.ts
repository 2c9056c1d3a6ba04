/** curl as the client of the HTTPS peers, with the same suite and client certificate. */
import { TOOLS } from '../env.js';
import type { Pki } from '../pki.js';
import type { Command } from './types.js';

export const SUITE = 'ECDHE-ECDSA-AES128-GCM-SHA256';

/** curl's arguments for HTTP/1.1 over TLS 1.2 with SUITE and the client certificate. */
export function curlTlsArgs(pki: Pki): string[] {
  return [
    '-sS',
    '--fail',
    '--http1.1',
    '--tlsv1.2',
    '--tls-max',
    '1.2',
    '--ciphers',
    SUITE,
    '--cert',
    pki.clientCert,
    '--key',
    pki.clientKey,
    '--cacert',
    pki.ca,
  ];
}

export function curlGet(pki: Pki, port: number, name: string, out: string): Command {
  return {
    cmd: TOOLS.curl.path,
    args: [...curlTlsArgs(pki), '-o', out, `https://127.0.0.1:${port}/${encodeURIComponent(name)}`],
  };
}
