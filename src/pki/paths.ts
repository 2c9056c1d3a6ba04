/**
 * Where things are in a PKI folder made by `pki init`. Apart from folder.ts (which makes and
 * checks those files) so that every command can name the paths without loading the
 * certificate generator.
 */
import { join } from 'node:path';
import type { Role } from './checks.js';

/** Name of the revocation list inside a PKI folder. */
export const CRL_FILE = 'crl.pem';

/**
 * The default CA, certificate and key paths inside a PKI folder made by `pki init`:
 * the server uses server.crt/server.key, a client NAME.crt/NAME.key (default "client").
 */
export function pkiPaths(
  dir: string,
  role: Role,
  clientName = 'client',
): { caPath: string; certPath: string; keyPath: string } {
  const base = role === 'server' ? 'server' : clientName;
  return {
    caPath: join(dir, 'ca.crt'),
    certPath: join(dir, `${base}.crt`),
    keyPath: join(dir, `${base}.key`),
  };
}
