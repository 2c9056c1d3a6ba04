import type { DecryptCommandOptions } from '../config.js';
import { SecureStreamError, UsageError } from '../errors.js';
import { sha256sumLine } from '../digest.js';
import {
  createDecryptStream,
  identityFromPrivateKey,
  passphraseIdentity,
} from '../format/index.js';
import type { Identity } from '../format/index.js';
import { pkiPaths } from '../pki/folder.js';
import { parsePrivateKey, readPemFile } from '../pki/pem.js';
import { assertNotInput, readPassphraseFile, streamToFile } from './encrypt.js';

/** Default output: FILE without `.sst`, else FILE.out; never the input itself. */
export function defaultDecryptOutput(file: string): string {
  return /[^/\\]\.sst$/.test(file) ? file.slice(0, -'.sst'.length) : `${file}.out`;
}

/**
 * Decrypts FILE into an output that appears only after the final chunk verified (and the
 * plaintext digest matched --expect-sha256), then prints its sha256sum line.
 */
export async function runDecrypt(
  opts: DecryptCommandOptions,
  out: (line: string) => void,
): Promise<void> {
  const given = [
    opts.key !== undefined && '--key',
    opts.pki !== undefined && '--pki',
    opts.passphraseFile !== undefined && '--passphrase-file',
  ].filter((f): f is string => f !== false);
  if (given.length !== 1) {
    throw new UsageError(
      given.length === 0
        ? 'no key given: pass one of --key, --pki or --passphrase-file'
        : `${given.join(' and ')} cannot be combined: pass exactly one`,
    );
  }
  const expect = checkExpect(opts.expectSha256);
  const outPath = opts.out ?? defaultDecryptOutput(opts.file);
  assertNotInput(opts.file, outPath);
  const identity = await loadIdentity(opts);
  const hex = await streamToFile(
    opts.file,
    createDecryptStream({ identities: [identity] }),
    outPath,
    {
      signal: opts.signal,
      accept: (got) => {
        if (expect !== undefined && got !== expect) {
          throw new SecureStreamError(
            'digest-mismatch',
            `plaintext sha-256 ${got} does not match the expected ${expect}`,
            'the file is not the one expected; no output was written',
          );
        }
      },
    },
  );
  out(sha256sumLine(hex, outPath));
}

function checkExpect(hex: string | undefined): string | undefined {
  if (hex === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new UsageError(`--expect-sha256 "${hex}" is not 64 hexadecimal digits`);
  }
  return hex.toLowerCase();
}

async function loadIdentity(opts: DecryptCommandOptions): Promise<Identity> {
  if (opts.passphraseFile !== undefined) {
    return passphraseIdentity(await readPassphraseFile(opts.passphraseFile));
  }
  const path = opts.key ?? pkiPaths(opts.pki ?? '', 'client').keyPath;
  return identityFromPrivateKey(parsePrivateKey(await readPemFile(path), path));
}
