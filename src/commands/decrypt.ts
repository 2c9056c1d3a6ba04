import type { Transform } from 'node:stream';
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
  hashedCopy,
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
  const decrypt = createDecryptStream({ identities: [identity] });
  if (outPath === '-') {
    const hex = await streamToStdout(opts.file, decrypt, opts.signal);
    checkPlaintext(hex, expect, ': discard what was written to standard output');
    out(sha256sumLine(hex, '-'));
    return;
  }
  assertNotInput(opts.file, outPath);
  const hex = await streamToFile(opts.file, decrypt, outPath, {
    signal: opts.signal,
    accept: (got, file) => {
      // A device or FIFO is written in place: its reader has the bytes by the time they fail.
      checkPlaintext(
        got,
        expect,
        file.direct ? `: discard what the ${file.kind} received` : '; no output was written',
      );
    },
  });
  out(sha256sumLine(hex, outPath));
}

/**
 * `digest-mismatch` unless the plaintext's SHA-256 `got` is `expect` (or nothing was
 * expected); `output` ends the hint with what became of the bytes written.
 */
function checkPlaintext(got: string, expect: string | undefined, output: string): void {
  if (expect !== undefined && got !== expect) {
    throw new SecureStreamError(
      'digest-mismatch',
      `plaintext SHA-256 ${got} does not match the expected ${expect}`,
      `the file is not the one expected${output}`,
    );
  }
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
  return hashedCopy(source, transform, process.stdout, signal).catch((e: unknown) => {
    throw errnoCode(e) === 'EPIPE' ? stdoutClosed(e) : e;
  });
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
