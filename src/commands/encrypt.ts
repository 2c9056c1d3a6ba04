import {
  createHash,
  createPublicKey,
  type Hash,
  type KeyObject,
  type X509Certificate,
} from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EncryptCommandOptions } from '../config.js';
import { sha256sumLine } from '../digest.js';
import { openOutput, type OutputFile } from '../specialfile.js';
import { SecureStreamError, UsageError, errnoCode } from '../errors.js';
import {
  createEncryptStream,
  passphraseRecipient,
  recipientFromCertificate,
  recipientFromPublicKey,
  type Recipient,
} from '../format/index.js';
import { parseCertificates, pemBlocks, readPemFile } from '../pki/pem.js';

/** Longest passphrase file read; a passphrase is a line, not a document. */
const MAX_PASSPHRASE_FILE = 64 * 1024;
/** Input is read in pieces of this size (the output sink batches its writes by itself). */
const INPUT_CHUNK = 1 << 20;

/**
 * Encrypts FILE to the recipients into an output that appears only when complete, then prints
 * the sha256sum line of the encrypted file.
 */
export async function runEncrypt(
  opts: EncryptCommandOptions,
  out: (line: string) => void,
): Promise<void> {
  if (opts.to.length > 0 && opts.passphraseFile !== undefined) {
    throw new UsageError('--to and --passphrase-file cannot be combined');
  }
  if (opts.to.length === 0 && opts.passphraseFile === undefined) {
    throw new UsageError('no recipient given', 'pass --to CERT.pem or --passphrase-file FILE');
  }
  const outPath = opts.out ?? `${opts.file}.sst`;
  assertNotInput(opts.file, outPath);
  const recipients: Recipient[] =
    opts.passphraseFile !== undefined
      ? [passphraseRecipient(await readPassphraseFile(opts.passphraseFile), { log2N: opts.log2N })]
      : await Promise.all(opts.to.map(loadRecipient));
  const hex = await streamToFile(opts.file, createEncryptStream({ recipients }), outPath, {
    signal: opts.signal,
  });
  out(sha256sumLine(hex, outPath));
}

/** A recipient from a PEM file holding a certificate or a public (or private) key. */
async function loadRecipient(path: string): Promise<Recipient> {
  const text = await readPemFile(path);
  if (pemBlocks(text).some((b) => b.label === 'CERTIFICATE')) {
    return recipientFromCertificate(parseCertificates(text, path)[0] as X509Certificate);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (e) {
    throw new SecureStreamError(
      'pki-invalid',
      `"${path}" holds no PEM certificate or public key`,
      'pass a certificate (client.crt) or a public key in PEM',
      { cause: e },
    );
  }
  return recipientFromPublicKey(key);
}

/** UsageError when the output would replace the input. */
export function assertNotInput(input: string, output: string): void {
  if (resolve(input) === resolve(output)) {
    throw new UsageError(`output "${output}" is the input file`, 'choose another --out');
  }
}

/**
 * Reads a passphrase file: its first line, line ending stripped, NFC-normalised.
 * @throws SecureStreamError `passphrase-empty`, `input-not-found`, `input-unreadable`
 */
export async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(MAX_PASSPHRASE_FILE);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw inputError(e, path);
  }
  const line = (text.split('\n', 1)[0] ?? '').replace(/\r$/, '').normalize('NFC');
  if (line.length === 0) {
    throw new SecureStreamError(
      'passphrase-empty',
      `passphrase file "${path}" has an empty first line`,
      'put the passphrase on the first line',
    );
  }
  return line;
}

/** Maps errors opening or reading an input file to codes a user can act on. */
export function inputError(e: unknown, path: string): SecureStreamError {
  if (e instanceof SecureStreamError) return e;
  const code = errnoCode(e);
  if (code === 'ENOENT') {
    return new SecureStreamError('input-not-found', `input "${path}" does not exist`, undefined, {
      cause: e,
    });
  }
  const why = code === 'EISDIR' ? 'it is a directory' : e instanceof Error ? e.message : String(e);
  return new SecureStreamError('input-unreadable', `cannot read "${path}": ${why}`, undefined, {
    cause: e,
  });
}

/**
 * Streams `input` through `transform` into an AtomicFile at `outPath` and returns the SHA-256
 * (hex) of the bytes written. `accept`, given that digest and the output as opened, may throw
 * to refuse the result.
 * On any failure, and when `signal` aborts, the temporary file is removed and nothing appears
 * at `outPath`; an existing device or FIFO at `outPath` is written in place (openOutput) and
 * has had the bytes that came before the failure.
 */
export async function streamToFile(
  input: string,
  transform: Transform,
  outPath: string,
  opts: {
    accept?: (hex: string, file: OutputFile) => void;
    signal?: AbortSignal | undefined;
  } = {},
): Promise<string> {
  const { accept = () => undefined, signal } = opts;
  const source = await openInput(input);
  const file = await openOutput(outPath, { signal }).catch((e: unknown) => {
    source.destroy();
    throw e;
  });
  try {
    const hex = await hashedCopy(source, transform, file.sink(), signal);
    accept(hex, file);
    await file.commit();
    return hex;
  } catch (e) {
    await file.abort();
    throw e;
  }
}

/**
 * Pipes `source` through `transform` into `sink` and returns the SHA-256 (hex) of the bytes
 * `sink` took; rejects with the first stage's error, or the signal's reason.
 */
export async function hashedCopy(
  source: Readable,
  transform: Transform,
  sink: Writable,
  signal: AbortSignal | undefined,
): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(source, transform, hashThrough(hash), sink, ...(signal ? [{ signal }] : []));
  return hash.digest('hex');
}

/** A pipeline stage that passes chunks on unchanged and feeds each to `hash` on the way. */
function hashThrough(hash: Hash): (chunks: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (chunks) {
    for await (const b of chunks) {
      hash.update(b);
      yield b;
    }
  };
}

/** Opens FILE for reading in INPUT_CHUNK pieces. @throws `input-not-found`, `input-unreadable` */
export async function openInput(path: string): Promise<Readable> {
  try {
    const fh = await open(path, 'r');
    if ((await fh.stat()).isDirectory()) {
      await fh.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    return createReadStream('', { fd: fh, highWaterMark: INPUT_CHUNK });
  } catch (e) {
    throw inputError(e, path);
  }
}
