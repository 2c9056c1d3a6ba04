/** `openssl s_time -new`: full mutual-TLS handshakes, one connection at a time, no request. */
import { TOOLS } from '../env.js';
import type { Pki } from '../pki.js';
import { SUITE } from './curl.js';
import type { Command } from './types.js';

export function sTimeCmd(pki: Pki, port: number, seconds: number): Command {
  return {
    cmd: TOOLS.openssl.path,
    args: [
      's_time',
      '-connect',
      `127.0.0.1:${port}`,
      '-new',
      '-tls1_2',
      '-cipher',
      SUITE,
      '-cert',
      pki.clientCert,
      '-key',
      pki.clientKey,
      '-CAfile',
      pki.ca,
      '-time',
      String(seconds),
    ],
  };
}
