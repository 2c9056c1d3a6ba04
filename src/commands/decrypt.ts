import { createHash } from 'node:crypto';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DecryptCommandOptions } from '../config.js';
import { SecureStreamError, UsageError, errnoCode } from '../errors.js';
import { stdoutClosed } from '../fetch/store.js';
import { sha256sumLine } from '../digest.js';
import {
  createDecryptStream,
  identityFromPrivateKey,
  passphraseIdentity,
} from '../format/index.js';
import type { Identity } from '../format/index.js';
import { pkiPaths } from '../pki/paths.js';
import { parsePrivateKey, readPemFile } from '../pki/pem.js';
import {
  assertNotInput,
  hashThrough,
  openInput,
  readPassphraseFile,
  streamToFile,
} from './encrypt.js';

/** Default output: FILE without `.sst`, else FILE.out; never the input itself. */
export function defaultDecryptOutput(file: string): string {
  return /[^/\\]\.sst$/.test(file) ? file.slice(0, -'.sst'.length) : `${file}.out`;
}

/**
 * Decrypts FILE into an output that appears only after the final chunk verified (and the
 * plaintext digest matched --expect-sha256), then prints its sha256sum line. `--out -`
 * streams the plaintext to standard output instead, and prints the line for `-`.
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
  const identity = await loadIdentity(opts);
  if (outPath === '-') {
    const hex = await streamToStdout(
      opts.file,
      createDecryptStream({ identities: [identity] }),
      opts.signal,
    );
    if (expect !== undefined && hex !== expect) {
      throw new SecureStreamError(
        'digest-mismatch',
        `plaintext SHA-256 ${hex} does not match the expected ${expect}`,
        'the file is not the one expected: discard what was written to standard output',
      );
    }
    out(sha256sumLine(hex, '-'));
    return;
  }
  assertNotInput(opts.file, outPath);
  const hex = await streamToFile(
    opts.file,
    createDecryptStream({ identities: [identity] }),
    outPath,
    {
      signal: opts.signal,
      accept: (got, file) => {
        if (expect !== undefined && got !== expect) {
          // A device or FIFO is written in place: its reader has the bytes by the time they fail.
          throw new SecureStreamError(
            'digest-mismatch',
            `plaintext SHA-256 ${got} does not match the expected ${expect}`,
            file.direct
              ? `the file is not the one expected: discard what the ${file.kind} received`
              : 'the file is not the one expected; no output was written',
          );
        }
      },
    },
  );
  out(sha256sumLine(hex, outPath));
}

/**
 * `--out -`, as `get --out -`: the plaintext goes to standard output chunk by chunk, each
 * chunk only once it has verified; returns the SHA-256 (hex) of what was written. A failure
 * after some chunks went out rejects all the same (the caller exits non-zero); a reader that
 * closes early gives `output-failed`.
 */
async function streamToStdout(
  input: string,
  transform: Transform,
  signal: AbortSignal | undefined,
): Promise<string> {
  const source = await openInput(input);
  const hash = createHash('sha256');
  await pipeline(
    source,
    transform,
    hashThrough(hash),
    process.stdout,
    ...(signal ? [{ signal }] : []),
  ).catch((e: unknown) => {
    throw errnoCode(e) === 'EPIPE' ? stdoutClosed(e) : e;
  });
  return hash.digest('hex');
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
