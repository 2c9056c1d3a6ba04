/**
 * `securestream get`: one verified download. The transport hands over the response head and a
 * body stream; this command picks where the bytes go (a file that appears only when complete,
 * or standard output), chooses the decoder for an sstream-v1 body, and checks the plaintext
 * digest when it decrypts.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AtomicFile } from '../atomic.js';
import type { GetOptions } from '../config.js';
import { sha256sumLine } from '../digest.js';
import { SecureStreamError, errnoCode } from '../errors.js';
import { FileSink } from '../filesink.js';
import { loadTlsMaterial } from '../pki/load.js';
import type { Mode } from '../protocol.js';
import { formatHostPort } from '../transport/address.js';
import { request } from '../transport/client.js';
import { sstreamDecoder } from '../transport/sstream.js';

/** What the command reports while it runs; the CLI maps it to stderr lines and a progress bar. */
export interface GetReporter {
  info(line: string): void;
  start(total: number): void;
  progress(received: number): void;
  stop(): void;
}

/** One verified download. */
export interface GetResult {
  /** Where the bytes were stored, or `-` for standard output. */
  path: string;
  mode: Mode;
  /** Body bytes received (ciphertext in sstream-v1). */
  bytes: number;
  /** SHA-256 of the bytes stored (the plaintext when decrypted). */
  sha256: string;
  decrypted: boolean;
  protocol: string;
  cipher: string;
}

/** Where a download goes: a file (an undecrypted sstream-v1 body may get its own name), or stdout. */
export type Output = { kind: 'stdout' } | { kind: 'file'; path: string; encryptedPath: string };

/**
 * `--out` as curl and wget read it: absent, the basename of NAME here (NAME.sst for an
 * encrypted body stored as is); `-`, standard output; an existing folder (or a path ending in
 * `/`, which must then exist), the basename of NAME in it; anything else, that file, whatever
 * the mode.
 */
export async function resolveOutput(name: string, out: string | undefined): Promise<Output> {
  if (out === '-') return { kind: 'stdout' };
  const inFolder = (dir: string): Output => {
    const path = join(dir, posix.basename(name));
    return { kind: 'file', path, encryptedPath: `${path}.sst` };
  };
  if (out === undefined) return inFolder('.');
  const folder = await stat(out).then(
    (s) => s.isDirectory(),
    (e: unknown) => {
      if (out.endsWith('/')) {
        throw new SecureStreamError(
          'output-dir-missing',
          errnoCode(e) === 'ENOTDIR'
            ? `output folder "${out}" is not a folder`
            : `output folder "${out}" does not exist`,
          'create the folder or choose another --out',
          { cause: e },
        );
      }
      return false;
    },
  );
  return folder ? inFolder(out) : { kind: 'file', path: out, encryptedPath: out };
}

export async function runGet(opts: GetOptions, report: GetReporter): Promise<GetResult> {
  const material = await loadTlsMaterial({ ...opts.material, role: 'client' });
  const output = await resolveOutput(opts.name, opts.out);
  // Created before dialling: an output folder that is missing or read-only fails at once.
  const file =
    output.kind === 'file'
      ? await AtomicFile.create(output.path, { signal: opts.signal })
      : undefined;
  try {
    const res = await request({
      host: opts.host,
      port: opts.port,
      pem: material,
      name: opts.name,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onSecure: ({ protocol, cipher }) => {
        if (opts.verbose) {
          report.info(
            `connected to ${formatHostPort(opts.host, opts.port)} with ${protocol} ${cipher} as ${material.certInfo.subject}`,
          );
        }
      },
    });
    if (opts.verbose) report.info(`receiving ${res.length} bytes, mode ${res.mode}`);
    report.start(res.length);
    let received = 0;
    res.body.on('data', (b: Buffer) => {
      report.progress((received += b.length));
    });
    const decoder =
      res.mode === 'sstream-v1' ? sstreamDecoder(material.privateKey, opts.decrypt) : undefined;
    const plaintextHash = decoder?.decrypts ? createHash('sha256') : undefined;
    if (plaintextHash) decoder?.stream.on('data', (b: Buffer) => plaintextHash.update(b));
    // Standard output is ended with the body; nothing else writes to it in that mode.
    const sink: Writable = file ? new FileSink(file.handle, file.path) : process.stdout;
    await (decoder ? pipeline(res.body, decoder.stream, sink) : pipeline(res.body, sink)).catch(
      (e: unknown) => {
        throw file || !(errnoCode(e) === 'EPIPE') ? e : stdoutClosed(e);
      },
    );
    const trailer = res.body.trailer;
    if (!trailer) throw new SecureStreamError('protocol', 'the response ended without a trailer');
    let sha256 = trailer.bodySha256;
    if (plaintextHash) {
      sha256 = plaintextHash.digest('hex');
      if (sha256 !== trailer.plaintextSha256) {
        throw new SecureStreamError(
          'digest-mismatch',
          `the decrypted file has SHA-256 ${sha256}, the server's trailer says ${trailer.plaintextSha256 ?? '(none)'}`,
        );
      }
    }
    let path = '-';
    if (file && output.kind === 'file') {
      path = res.mode === 'sstream-v1' && !decoder?.decrypts ? output.encryptedPath : output.path;
      await file.commit(path);
    }
    return {
      path,
      mode: res.mode,
      bytes: res.length,
      sha256,
      decrypted: decoder?.decrypts ?? false,
      protocol: res.protocol,
      cipher: res.cipher,
    };
  } catch (e) {
    await file?.abort();
    throw e;
  } finally {
    report.stop();
  }
}

/** The `sha256sum` line for the result (`-` as the name for standard output, as sha256sum does). */
export function resultLine(r: GetResult): string {
  return sha256sumLine(r.sha256, r.path);
}

function stdoutClosed(e: unknown): SecureStreamError {
  return new SecureStreamError(
    'output-failed',
    'standard output was closed before the transfer completed',
    undefined,
    { cause: e },
  );
}
