/**
 * What `serve` must never hand out: private keys. The server refuses to start (and a reload
 * keeps the previous material) when a key it loads, or the PKI folder holding the CA key and
 * every client key, lies inside the served root. Paths are compared as real paths, symlinks
 * resolved, so `--root .`, `--root pki` and a symlinked root are all caught.
 */
import { realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SecureStreamError } from './errors.js';
import { inside } from './files.js';

export interface KeyPlaces {
  /** The server's private key (`--key`, or server.key of the PKI folder). */
  keyPath: string;
  /** The CA certificate (`--ca`): a ca.key beside it is checked too. */
  caPath: string;
  /** The `--pki` folder (or ./pki by default) when the material comes from one. */
  pkiDir?: string | undefined;
}

const HINT =
  'serve a folder that holds only the files to share, and keep the PKI folder and every key outside it';

/**
 * Throws `root-exposes-key` when a private key, or the PKI folder, lies inside `root.real`
 * (the real path of --root `root.given`). A path that does not exist is not checked.
 */
export async function refuseKeysUnderRoot(
  root: { given: string; real: string },
  at: KeyPlaces,
): Promise<void> {
  const rootReal = root.real;
  for (const key of [at.keyPath, join(dirname(at.caPath), 'ca.key')]) {
    const real = await realOrUndefined(key);
    if (real !== undefined && inside(rootReal, real)) {
      throw new SecureStreamError(
        'root-exposes-key',
        `the private key "${key}" lies inside --root "${root.given}": clients could download it`,
        HINT,
      );
    }
  }
  const pki = at.pkiDir === undefined ? undefined : await realOrUndefined(at.pkiDir);
  if (pki !== undefined && inside(rootReal, pki)) {
    throw new SecureStreamError(
      'root-exposes-key',
      `the PKI folder "${at.pkiDir}" lies inside --root "${root.given}": clients could download its keys`,
      HINT,
    );
  }
}

async function realOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch {
    return undefined;
  }
}

/**
 * The access rules file is not a secret, but it tells every client the names of the others
 * and what is kept from them: a warning (logged at start and reload) when it lies inside the
 * root. Deny it in the rules themselves, or move it out, to keep it private.
 */
export async function rulesUnderRoot(
  rootReal: string,
  accessPath: string | undefined,
): Promise<string[]> {
  const real = accessPath === undefined ? undefined : await realOrUndefined(accessPath);
  return real !== undefined && inside(rootReal, real)
    ? [
        `the access rules file "${accessPath}" lies inside --root: clients the rules allow to read it can download it`,
      ]
    : [];
}
